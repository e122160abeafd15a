"""Shared plumbing of the estimators and :class:`svgp.Model`: settings, one fit, pickling."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.utils import check_random_state

from . import _svgp

#: What a per-iteration callback receives: iteration (1-based), minibatch ELBO, γ (None when
#: q was kept) and the number of times γ was halved. Returning ``False`` stops training.
Callback = Callable[[int, float, float | None, int], bool | None]

KERNELS = ("se", "rbf", "matern12", "matern32", "matern52")
#: The training parameters every front end passes to the Rust core by these names.
TRAINING_PARAMETERS = (
    "kernel",
    "num_inducing",
    "batch_size",
    "max_iter",
    "parametrisation",
    "gamma",
    "adam_lr",
)
PARAMETRISATIONS = ("natural", "expectation", "meansqrt")


def seed_of(random_state: Any) -> int:
    """The library's seed for a scikit-learn ``random_state``: an int is used as it is (so a
    seed gives the numbers the Rust library and the command line give for it), ``None`` or a
    ``RandomState`` draws one."""
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state = {random_state}: must be non-negative")
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def as_float_array(a: Any) -> NDArray[Any]:
    """``a`` as a float64 or float32 array, without a copy when it already is one (any order)."""
    arr = np.asarray(a)
    if arr.dtype not in (np.float64, np.float32):
        arr = arr.astype(np.float64)
    return arr


def run_fit(
    X: NDArray[Any],
    y: NDArray[Any],
    settings: dict[str, Any],
    feature_names: Sequence[str],
    callback: Callback | None,
    verbose: bool,
) -> tuple[_svgp.Fitted, BaseException | None]:
    """One fit through the Rust core; returns the model and the exception that stopped
    training early (``KeyboardInterrupt`` or the callback's), for the caller to raise once it
    has kept the model. A 2-D ``y`` (N, P) is P outputs, each a Gaussian output of its own."""
    n = X.shape[0]
    y = np.asarray(y)
    outputs = y.shape[1] if y.ndim == 2 else 1
    settings = dict(settings)
    if settings.get("num_inducing") is not None:
        settings["num_inducing"] = max(1, min(int(settings["num_inducing"]), n))
    return _svgp.fit(
        X,
        as_float_array(y).ravel(order="F"),
        settings,
        [str(f) for f in feature_names],
        callback,
        bool(verbose),
        outputs,
    )


def feature_names_for(estimator: Any, n_features: int) -> list[str]:
    """The model file's column names: pandas column names when fitted on a DataFrame, else
    ``x1`` … ``xD`` (the command line's names for unnamed columns)."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return [f"x{j}" for j in range(1, n_features + 1)]


def fit_settings(source: Any, likelihood: str, classes: list[str] | None = None) -> dict[str, Any]:
    """The Rust core's settings: the training parameters read from ``source``'s attributes (an
    estimator or a :class:`svgp.Model`), its ``random_state`` as the library's seed, the
    likelihood and a classifier's class labels."""
    settings = {name: getattr(source, name) for name in TRAINING_PARAMETERS}
    settings["likelihood"] = likelihood
    settings["random_state"] = seed_of(source.random_state)
    settings["classes"] = classes
    return settings


def fitted_state(fitted: _svgp.Fitted) -> dict[str, Any]:
    """A trained model as pickled: the model file's text and the training record."""
    return {"model": fitted.to_json(), "record": fitted.record()}


def fitted_from_state(state: Any) -> _svgp.Fitted:
    """The model :func:`fitted_state` gave (a model file's text alone: no record)."""
    if isinstance(state, str):
        return _svgp.Fitted.from_json(state)
    return _svgp.Fitted.from_json(state["model"], record=state["record"])
