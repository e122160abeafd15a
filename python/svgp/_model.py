"""The lower-level :class:`Model`, and :func:`load` / :func:`save` of model files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.utils._param_validation import validate_parameter_constraints

from . import _svgp
from ._core import (
    Callback,
    as_path,
    check_callback,
    check_class_indices,
    check_count,
    check_feature_names,
    check_flag,
    check_inputs,
    check_targets,
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

PathLike = Union[str, "os.PathLike[str]"]


class Model(TrainingParameters):
    """A sparse variational GP with every training control, for users who want more than the
    scikit-learn estimators: the likelihood, the parametrisation ξ of the natural step, the
    step size γ, Adam's learning rate, batches, and a callback after every iteration.

    Inputs (and targets of the Gaussian and Student-t likelihoods) are standardised inside;
    every prediction is in the data's units.

    Parameters
    ----------
    {parameters}
    """

    likelihood: str = setting(
        default=library("likelihood"),
        choices=LIKELIHOODS,
        doc="Gaussian noise; Bernoulli with probit link (labels 0 and 1); Student-t (ν = 3) "
        "noise; Poisson counts with exp link; heteroscedastic Gaussian noise (two latent GPs, "
        "the mean and the log noise scale); C classes with one latent GP each (labels 0 … "
        "C−1), robust-max (GPflow's MultiClass, ε = 10⁻³) or softmax (seeded Monte Carlo "
        "expectations).",
    )

    def _after_init(self) -> None:
        """No model yet; the parameters checked (ValueError/TypeError naming one outside its
        range, as the estimators' scikit-learn parameter validation says it)."""
        self._fitted: _svgp.Fitted | None = None
        self._check_parameters()

    def _check_parameters(self) -> None:
        """ValueError/TypeError naming a training parameter outside its range."""
        validate_parameter_constraints(
            self._parameter_constraints,
            {n: getattr(self, n) for n in self._settings},
            caller_name="Model",
        )

    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        callback: Callback | None = None,
        feature_names: Sequence[str] | None = None,
    ) -> Model:
        """Trains on inputs X (N, D) and targets y (N,), or (N, P) for P outputs (Gaussian
        likelihood: one output and latent GP per column).

        ``callback(iteration, elbo, gamma, halvings)`` is called after every iteration with
        the minibatch ELBO, the natural step size (None when q was kept) and how many times γ
        was halved; returning ``False`` stops training, and an exception it raises stops
        training and is raised by ``fit`` with the model kept. Ctrl-C stops training at an
        iteration boundary, keeps the model at its last accepted state and raises
        KeyboardInterrupt. ``feature_names`` name the columns in the model file (default
        ``x1`` … ``xD``).
        """
        self._check_parameters()
        Xa = check_inputs(X, "X")
        # several target columns (outputs) are for the Gaussian likelihood only
        outputs = None if self.likelihood == "gaussian" else 1
        ya = check_targets(y, Xa.shape[0], outputs)
        if self.likelihood in CLASS_LIKELIHOODS:
            check_class_indices(ya, 2 if self.likelihood == "bernoulli" else None)
        d = Xa.shape[1]
        names = (
            check_feature_names(feature_names, d)
            if feature_names is not None
            else [f"x{j}" for j in range(1, d + 1)]
        )
        settings = fit_settings(self, self.likelihood, None)
        callback = check_callback(callback)
        fitted, error = run_fit(Xa, ya, settings, names, callback, self.verbose)
        self._fitted = fitted
        if error is not None:
            raise error
        return self

    @property
    def fitted(self) -> _svgp.Fitted:
        """The trained core model; ValueError before :meth:`fit` or :func:`load`."""
        if self._fitted is None:
            raise ValueError("this Model is not fitted: call fit(X, y) or svgp.load(path)")
        return self._fitted

    def predict_f(
        self, X: ArrayLike, full_cov: bool = False
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Mean and variance of the latent GPs at X: shape (N,) each for one latent, (N, L)
        for L latents. The first latent of a regression model is in the target's units, any
        other (the log noise scale of "heteroscedastic") in the model's standardised units.

        With ``full_cov=True``, as GPflow's: the means (N, L) and each latent's full
        covariance over the N rows, (L, N, N), which takes L·N² floats."""
        Xa = self._inputs(X)
        if check_flag(full_cov, "full_cov"):
            return self.fitted.predict_full_cov(Xa, "f")
        return _squeezed(self.fitted.predict_f(Xa))

    def predict_f_samples(
        self, X: ArrayLike, num_samples: int = 1, seed: int = 0
    ) -> NDArray[np.float64]:
        """Joint samples of the latent GPs at X, (num_samples, N, L) as GPflow's, in the units
        of :meth:`predict_f`: each draw is from the full covariance over the N rows (factored
        with a jitter of 1e-10 times its largest variance), so it takes N² floats per latent.
        The same ``seed`` gives the same samples."""
        Xa = self._inputs(X)
        count = check_count(num_samples, "num_samples")
        return self.fitted.predict_samples(Xa, count, seed_of(seed, "seed"), "f")

    def predict_y(self, X: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Predictive mean and variance of y at X: shape (N,) each for a scalar target (for
        Bernoulli p(y = 1) and p(1 − p)); (N, C) for C classes (the class probabilities)."""
        return _squeezed(self.fitted.predict_y(self._inputs(X)))

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Class probabilities at X, (N, C) (two columns for Bernoulli); ValueError for a
        regression likelihood."""
        return self.fitted.predict_proba(self._inputs(X))

    def predict_log_density(self, X: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """log p(y_i | data) per row, in the target's units."""
        return self.fitted.log_density(*self._data(X, y))

    def elbo(self, X: ArrayLike, y: ArrayLike) -> float:
        """The ELBO on (X, y), all rows at scale 1, in the target's units."""
        return float(self.fitted.elbo(*self._data(X, y)))

    def _inputs(self, X: ArrayLike) -> NDArray[Any]:
        """Inputs checked against the fitted model (its number of columns, finite entries)."""
        return check_inputs(X, "X", len(self.fitted.feature_names))

    def _data(self, X: ArrayLike, y: ArrayLike) -> tuple[NDArray[Any], NDArray[Any]]:
        """Inputs and targets checked against the fitted model: its columns, one target per
        row and output, class indices 0 … C−1 for a classifier; y as the core takes it."""
        Xa = self._inputs(X)
        ya = check_targets(y, Xa.shape[0], self.fitted.num_outputs)
        if self.fitted.num_classes is not None:
            check_class_indices(ya, self.fitted.num_classes)
        return Xa, ya.ravel(order="F")

    @property
    def elbo_history(self) -> NDArray[np.float64]:
        """The minibatch ELBO of each training iteration (standardised units)."""
        return self.fitted.elbo_trace

    @property
    def gamma_history(self) -> NDArray[np.float64]:
        """γ of each iteration (NaN where q was kept)."""
        return self.fitted.gamma_trace

    @property
    def halvings_history(self) -> NDArray[np.uint32]:
        """Times γ was halved in each iteration (shortened steps are those above 0)."""
        return self.fitted.halvings_trace

    @property
    def final_elbo(self) -> float:
        """The full training-set ELBO at the end, in the target's units (NaN when training was
        interrupted, or for a loaded model)."""
        return float(self.fitted.final_elbo)

    @property
    def n_iter(self) -> int:
        """Iterations run."""
        return int(self.fitted.n_iter)

    @property
    def stop_reason(self) -> str:
        """Why training stopped ("iterations", "interrupted"; "loaded" for a loaded model)."""
        return str(self.fitted.stop_reason)

    @property
    def inducing_points(self) -> NDArray[np.float64]:
        """Z (M, D) in the inputs' units."""
        return self.fitted.inducing_points()

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """Kernel and likelihood hyperparameters in the data's units (and ``raw``: the
        unconstrained values by name)."""
        return dict(self.fitted.hyperparameters())

    @property
    def feature_names(self) -> list[str]:
        """The input columns' names, as in the model file."""
        return list(self.fitted.feature_names)

    def save(self, path: PathLike) -> None:
        """Writes the model file (atomically); the command line's ``svgp predict --model``
        and :func:`svgp.load` read it."""
        self.fitted.save(as_path(path))

    def plot_elbo(self, path: PathLike, log_x: bool = False) -> None:
        """Writes the ELBO trace as PNG or SVG (by the extension)."""
        self.fitted.plot_elbo(as_path(path), check_flag(log_x, "log_x"))

    def plot_fit(self, path: PathLike, X: ArrayLike, y: ArrayLike) -> str:
        """Writes the plot that applies, as the command line's ``--plots``: the 1-D fit (or
        the heteroscedastic noise band), predicted against observed, the 2-D class map, a
        calibration diagram or a confusion matrix, as PNG or SVG; returns its name."""
        path = as_path(path)
        return self.fitted.plot_fit(path, *self._data(X, y))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fitted"] = None if self._fitted is None else fitted_state(self._fitted)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        fitted = state.pop("_fitted", None)
        self.__dict__.update(state)
        self._fitted = None if fitted is None else fitted_from_state(fitted)

    def __repr__(self) -> str:
        status = "not fitted" if self._fitted is None else f"M={self.fitted.num_inducing}"
        return f"svgp.Model(likelihood={self.likelihood!r}, kernel={self.kernel!r}, {status})"


def _squeezed(
    pair: tuple[NDArray[np.float64], NDArray[np.float64]],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(N, 1) means and variances as (N,), wider ones as they are."""
    mean, var = pair
    if mean.shape[1] == 1:
        return mean[:, 0], var[:, 0]
    return mean, var


def load(path: PathLike) -> Model:
    """Reads a model file written by :meth:`Model.save`, an estimator's ``save`` or the
    command line's ``svgp fit --output``."""
    fitted = _svgp.Fitted.load(as_path(path))
    model = Model(num_inducing=fitted.num_inducing)
    model.likelihood = _likelihood_name(fitted.likelihood)
    model._fitted = fitted
    return model


def _likelihood_name(name: str) -> str:
    """The Python name of the library's likelihood name."""
    lowered = name.lower().replace("-", "_").replace(" ", "_")
    for known in LIKELIHOODS:
        if lowered.startswith(known.split("_")[0]):
            return known
    return lowered


def save(model: Any, path: PathLike) -> None:
    """Writes ``model`` (a :class:`Model` or a fitted estimator) as a model file."""
    from ._estimators import SVGPClassifier, SVGPRegressor

    if not isinstance(model, (Model, SVGPClassifier, SVGPRegressor)):
        raise TypeError(
            f"model is {type(model).__name__}: expected an svgp.Model, SVGPRegressor or "
            "SVGPClassifier"
        )
    model.save(path)
