"""scikit-learn estimators: :class:`SVGPRegressor` and :class:`SVGPClassifier`."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _svgp
from ._core import (
    as_numbers,
    as_path,
    check_count,
    check_finite,
    check_flag,
    check_labels,
    check_targets,
    encode_labels,
    feature_names_for,
    fitted_from_state,
    fitted_state,
    run_fit,
    seed_of,
)
from ._settings import (
    CLASS_LIKELIHOODS,
    LIKELIHOODS,
    TrainingParameters,
    fit_settings,
    library,
    setting,
)


class _SVGPBase(TrainingParameters, BaseEstimator):  # type: ignore[misc]
    """What both estimators share: parameters (stored by ``__init__``, checked at ``fit``),
    fitting through the Rust core, pickling."""

    def _check_X(self, X: ArrayLike) -> NDArray[Any]:
        """Inputs for prediction, validated against the fit (count and names of features)."""
        check_is_fitted(self, "_model")
        with _naming("X"):
            out: NDArray[Any] = validate_data(
                self,
                X,
                reset=False,
                dtype=[np.float64, np.float32],
                ensure_all_finite=False,
                order=None,
            )
        check_finite(out, "X")
        return out

    def _check_fit_X(self, X: ArrayLike) -> NDArray[Any]:
        """Training inputs checked (2-D, rows and columns, numbers, every entry finite) before
        ``validate_data`` records them, each error naming X."""
        with _naming("X"):
            out: NDArray[Any] = check_array(
                X, dtype=[np.float64, np.float32], ensure_all_finite=False, estimator=self
            )
        check_finite(out, "X")
        return out

    def _fit_model(
        self,
        X: NDArray[Any],
        y: NDArray[Any],
        likelihood: str,
        classes: list[str] | None = None,
    ) -> None:
        """Fits the model and keeps it; raises the exception that stopped the fit early
        (KeyboardInterrupt, …) after keeping the model at its last accepted state."""
        names = feature_names_for(self, X.shape[1])
        settings = fit_settings(self, likelihood, classes)
        fitted, error = run_fit(X, y, settings, names, None, self.verbose)
        self._keep(fitted)
        if error is not None:
            raise error

    def _keep(self, model: _svgp.Fitted) -> None:
        """Sets the fitted attributes from the trained model."""
        self._model = model
        self.n_iter_ = model.n_iter
        self.elbo_history_ = model.elbo_trace
        self.gamma_history_ = model.gamma_trace
        self.elbo_ = model.final_elbo
        self.stop_reason_ = model.stop_reason
        self.inducing_points_ = model.inducing_points()
        hyper = model.hyperparameters()
        self.kernel_variance_ = hyper.get("kernel_variance")
        self.lengthscales_ = hyper.get("lengthscales")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the model file (atomically), which ``svgp.load`` and the command line's
        ``svgp predict --model`` read."""
        check_is_fitted(self, "_model")
        self._model.save(as_path(path))

    def plot_elbo(self, path: str | os.PathLike[str], log_x: bool = False) -> None:
        """Writes the ELBO trace of the fit as PNG or SVG (by the file's extension)."""
        check_is_fitted(self, "_model")
        self._model.plot_elbo(as_path(path), check_flag(log_x, "log_x"))

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        if "_model" in state:
            state = dict(state)
            state["_model"] = fitted_state(state["_model"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_model" in state:
            state = dict(state)
            state["_model"] = fitted_from_state(state["_model"])
        super().__setstate__(state)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags


class SVGPRegressor(RegressorMixin, _SVGPBase):  # type: ignore[misc]
    """Sparse variational GP regression (Gaussian noise by default), trained by natural
    gradients on q(u) and Adam on the kernel, the noise and the inducing inputs. Inputs and
    targets are standardised inside; predictions are in the data's units.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    n_features_in_, feature_names_in_ : as scikit-learn
    n_iter_ : int, iterations run
    elbo_history_ : ndarray, the minibatch ELBO of each iteration (standardised units)
    gamma_history_ : ndarray, the natural step size of each iteration
    elbo_ : float, the full training-set ELBO at the end (NaN when interrupted)
    inducing_points_ : ndarray (M, D), in the inputs' units
    kernel_variance_ : float, in the target's units squared
    lengthscales_ : ndarray (D,), in the inputs' units
    noise_variance_ : float, ndarray (P,) or None, the Gaussian noise variance in the target's
        units squared (each output's for a 2-D y of P outputs)
    n_outputs_ : int, the target columns P (a 2-D y of P > 1 columns fits P Gaussian outputs,
        one latent GP each, sharing the kernel and the inducing inputs)
    """

    likelihood: str = setting(
        default=library("likelihood"),
        choices=[name for name in LIKELIHOODS if name not in CLASS_LIKELIHOODS],
        doc="Gaussian noise, Student-t noise (ν = 3, robust), Poisson counts (exp link) or "
        "heteroscedastic Gaussian noise (a second latent GP for the log noise scale, so the "
        "noise varies with the inputs).",
    )

    def fit(self, X: ArrayLike, y: ArrayLike) -> SVGPRegressor:
        """Fits to inputs X (N, D) and targets y (N,), or (N, P) for P Gaussian outputs.
        Ctrl-C stops training at an iteration boundary: the model is kept at its last accepted
        state and KeyboardInterrupt raised."""
        self._validate_params()
        rows = self._check_fit_X(X).shape[0]
        if y is not None:  # None: scikit-learn's message that y is required
            check_targets(y, rows, outputs=None)
        Xa, ya = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
            y_numeric=True,
            multi_output=True,
            order=None,
        )
        ya = check_targets(ya, rows, outputs=None)
        self.n_outputs_ = ya.shape[1] if ya.ndim == 2 else 1
        self._fit_model(Xa, ya, self.likelihood)
        return self

    def _columns(self, a: NDArray[np.float64]) -> NDArray[np.float64]:
        """Column 0 of (N, L) values for one output; the P outputs' columns for several."""
        return a[:, 0] if self.n_outputs_ == 1 else a[:, : self.n_outputs_]

    def _keep(self, model: _svgp.Fitted) -> None:
        super()._keep(model)
        self.noise_variance_ = model.hyperparameters().get("noise_variance")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X: ArrayLike, return_std: bool = False, return_cov: bool = False) -> Any:
        """The predictive mean of y at X, (N,) for one target or (N, P) for several; with
        ``return_std`` also its standard deviation (same shape), with ``return_cov`` instead
        its covariance over the N rows, (N, N) or (N, N, P), as scikit-learn's
        ``GaussianProcessRegressor``. Both are of y, the noise included (as scikit-learn's
        with a ``WhiteKernel`` in its kernel), so the covariance's diagonal is the standard
        deviation squared; :meth:`predict_f` gives the latent function's variance.
        ``return_cov`` takes N² floats per output and needs the Gaussian likelihood
        (ValueError for the others); asking for both raises RuntimeError, as scikit-learn."""
        std, cov = check_flag(return_std, "return_std"), check_flag(return_cov, "return_cov")
        if std and cov:
            raise RuntimeError("At most one of return_std or return_cov can be requested.")
        Xa = self._check_X(X)
        if cov:
            self._check_gaussian("return_cov")
            mean, covs = self._model.predict_full_cov(Xa, "y")
            return self._columns(mean), covs[0] if self.n_outputs_ == 1 else covs.transpose(1, 2, 0)
        mean, var = self._model.predict_y(Xa)
        mean, sd = self._columns(mean), np.sqrt(self._columns(var))
        return (mean, sd) if std else mean

    def sample_y(
        self, X: ArrayLike, n_samples: int = 1, random_state: Any = 0
    ) -> NDArray[np.float64]:
        """Joint samples of y at X (noise included), (N, n_samples) for one target or
        (N, P, n_samples) for several, as scikit-learn's ``GaussianProcessRegressor``: each
        sample is drawn from the covariance of :meth:`predict` with ``return_cov`` (N² floats
        per output; Gaussian likelihood only), factored with a jitter of 1e-10 times its
        largest variance. An int ``random_state`` gives the same samples every time."""
        Xa = self._check_X(X)
        count = check_count(n_samples, "n_samples")
        self._check_gaussian("sample_y")
        samples = self._model.predict_samples(Xa, count, seed_of(random_state), "y")
        if self.n_outputs_ == 1:
            return np.ascontiguousarray(samples[:, :, 0].T)
        return np.ascontiguousarray(samples.transpose(1, 2, 0))

    def _check_gaussian(self, what: str) -> None:
        """ValueError naming ``what`` unless the fitted likelihood adds Gaussian noise to f."""
        if not self._model.gaussian_outputs:
            raise ValueError(
                f"{what} needs likelihood='gaussian' (the joint law of y is Gaussian only "
                f"there); this model was fitted with {self._model.likelihood!r}"
            )

    def predict_f(self, X: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Mean and variance of the latent function f at X, in the target's units (for
        "heteroscedastic", the mean function's; the noise scale's latent is not included)."""
        Xa = self._check_X(X)
        mean, var = self._model.predict_f(Xa)
        return self._columns(mean), self._columns(var)

    def _check_y(self, y: ArrayLike, rows: int) -> NDArray[Any]:
        """Targets of ``rows`` rows, one column per output of the fit, as the core takes them."""
        return check_targets(y, rows, self.n_outputs_).ravel(order="F")

    def log_density(self, X: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """log p(y_i | data) per row, in the target's units (all P targets of the row)."""
        Xa = self._check_X(X)
        return self._model.log_density(Xa, self._check_y(y, Xa.shape[0]))

    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """R² of :meth:`predict` on (X, y), as scikit-learn's ``RegressorMixin.score``."""
        Xa = self._check_X(X)
        self._check_y(y, Xa.shape[0])
        _check_weights(sample_weight, Xa.shape[0])
        return float(super().score(X, y, sample_weight=sample_weight))

    def plot_fit(self, path: str | os.PathLike[str], X: ArrayLike, y: ArrayLike) -> str:
        """Writes the fit with ±2σ bands (one input; the noise band for "heteroscedastic") or
        predicted against observed (more inputs) as PNG or SVG; returns which."""
        path = as_path(path)
        Xa = self._check_X(X)
        return self._model.plot_fit(path, Xa, self._check_y(y, Xa.shape[0]))


class SVGPClassifier(ClassifierMixin, _SVGPBase):  # type: ignore[misc]
    """Sparse variational GP classification, trained by natural gradients on q(u) and Adam
    on the kernel and the inducing inputs. Two classes are one latent GP with a Bernoulli
    likelihood (probit link; ``classes_[1]`` is the positive class); C > 2 classes are C latent
    GPs sharing the inducing inputs, with a robust-max likelihood (GPflow's MultiClass).

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    classes_ : ndarray, the class labels, sorted
    n_features_in_, feature_names_in_ : as scikit-learn
    n_iter_, elbo_history_, gamma_history_, elbo_, inducing_points_, kernel_variance_,
    lengthscales_ : as :class:`SVGPRegressor` (the kernel is shared by the classes' latents)
    """

    likelihood: str = setting(
        default="auto",
        choices=["auto", *CLASS_LIKELIHOODS],
        doc='"auto" is "bernoulli" for two classes and "robustmax" for more; "robustmax" and '
        '"softmax" (seeded Monte Carlo expectations) take any number of classes (one latent '
        'GP each), "bernoulli" exactly two.',
    )

    def fit(self, X: ArrayLike, y: ArrayLike) -> SVGPClassifier:
        """Fits to inputs X (N, D) and labels y (N,) of two or more classes. Ctrl-C stops
        training at an iteration boundary: the model is kept at its last accepted state and
        KeyboardInterrupt raised."""
        self._validate_params()
        rows = self._check_fit_X(X).shape[0]
        if y is not None:  # None: scikit-learn's message that y is required
            check_labels(y, rows)
        Xa, ya = validate_data(
            self, X, y, dtype=[np.float64, np.float32], ensure_all_finite=False, order=None
        )
        check_classification_targets(ya)
        self.classes_, encoded = np.unique(ya, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                f"y has one class ({self.classes_[0]!r}); classification needs at least 2"
            )
        likelihood = self.likelihood
        if likelihood == "auto":
            likelihood = "bernoulli" if n_classes == 2 else "robustmax"
        if likelihood == "bernoulli" and n_classes != 2:
            raise ValueError(
                f"likelihood 'bernoulli' takes 2 classes; y has {n_classes}: use 'robustmax' "
                "or 'softmax'"
            )
        labels = [_label_text(c) for c in self.classes_]
        self._fit_model(Xa, encoded.astype(np.float64), likelihood, labels)
        return self

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Class probabilities at X, one column per class of ``classes_``."""
        Xa = self._check_X(X)
        proba: NDArray[np.float64] = np.clip(self._model.predict_proba(Xa), 0.0, 1.0)
        return proba

    def predict_log_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """The log of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """The most probable class at X."""
        proba = self.predict_proba(X)
        labels: NDArray[Any] = self.classes_[np.argmax(proba, axis=1)]
        return labels

    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Accuracy of :meth:`predict` on (X, y), as scikit-learn's ``ClassifierMixin.score``;
        every label must be one of ``classes_``."""
        Xa = self._check_X(X)
        check_is_fitted(self, "classes_")
        encode_labels(y, self.classes_, Xa.shape[0])
        _check_weights(sample_weight, Xa.shape[0])
        return float(super().score(X, y, sample_weight=sample_weight))

    def plot_fit(self, path: str | os.PathLike[str], X: ArrayLike, y: ArrayLike) -> str:
        """Writes the class-probability map (two inputs) or a calibration diagram (two
        classes) or confusion matrix (more) as PNG or SVG; returns which."""
        path = as_path(path)
        Xa = self._check_X(X)
        encoded = encode_labels(y, self.classes_, Xa.shape[0])
        return self._model.plot_fit(path, Xa, encoded)


@contextmanager
def _naming(name: str) -> Iterator[None]:
    """Raises scikit-learn's ValueError or TypeError about the argument ``name`` again with the
    argument named first when its message does not name it (its messages are kept: its
    estimator checks match them)."""
    try:
        yield
    except (ValueError, TypeError) as e:
        if re.search(rf"\b{name}\b", str(e)):
            raise
        raise type(e)(f"{name}: {e}") from e


def _check_weights(sample_weight: Any, rows: int) -> None:
    """``sample_weight`` of a score: None, or N finite non-negative numbers."""
    if sample_weight is None:
        return
    weights = as_numbers(sample_weight, "sample_weight")
    if weights.shape != (rows,):
        raise ValueError(f"sample_weight has shape {weights.shape}; expected ({rows},)")
    check_finite(weights, "sample_weight")
    if (weights < 0).any():
        i = int(np.argmax(weights < 0))
        raise ValueError(f"sample_weight row {i} is {weights[i]}: expected a non-negative weight")


def _label_text(label: Any) -> str:
    """A class label as the model file keeps it, the text a CSV file would hold: an integral
    float as an integer (``1.0`` as ``1``), anything else as ``str``."""
    if isinstance(label, (float, np.floating)) and float(label).is_integer():
        return str(int(label))
    return str(label)
