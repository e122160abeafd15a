"""Shared plumbing of the estimators and :class:`svgp.Model`: one fit, pickling, and
the checks of every argument a user passes, each error naming the argument and what was
expected (bad input is refused here, before the Rust core sees it)."""

from __future__ import annotations

import math
import os
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


def seed_of(random_state: Any, name: str = "random_state") -> int:
    """The library's seed for a scikit-learn ``random_state``: an int is used as it is (so a
    seed gives the numbers the Rust library and the command line give for it), ``None`` or a
    ``RandomState`` draws one; ``name`` labels the error for a negative int."""
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"{name} = {random_state}: must be non-negative")
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


def number_text(v: Any) -> str:
    """A value as the error messages show it (and the Rust core's do): NaN, inf, -inf, 3, 2.5."""
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return str(int(f)) if f.is_integer() and abs(f) < 1e16 else repr(f)
    return repr(v.item() if isinstance(v, np.generic) else v)


def _position(name: str, index: tuple[int, ...]) -> str:
    """``y row 3`` or ``X row 3, column 1``."""
    if len(index) == 2:
        return f"{name} row {index[0]}, column {index[1]}"
    return f"{name} row {index[0]}" if index else name


def as_numbers(a: Any, name: str) -> NDArray[Any]:
    """``a`` as a float64 or float32 array (no copy when it is one); TypeError for None,
    ValueError naming the first entry that is not a real number (a string, complex, None)."""
    if a is None:
        raise TypeError(f"{name} is None: expected an array of numbers")
    try:
        arr = np.asarray(a)
    except ValueError as e:  # ragged nested lists
        raise ValueError(f"{name} is not a rectangular array of numbers: {e}") from e
    if arr.dtype.kind in "biuf":
        return as_float_array(arr)
    if arr.dtype.kind == "c":
        raise ValueError(f"{name} holds complex numbers: expected real numbers")
    for index, v in np.ndenumerate(arr):
        try:
            if isinstance(v, (str, bytes, complex, np.complexfloating)):
                raise TypeError
            float(v)
        except (TypeError, ValueError):
            raise ValueError(f"{_position(name, index)} is {v!r}: expected a number") from None
    return arr.astype(np.float64)


def check_finite(arr: NDArray[Any], name: str) -> None:
    """ValueError naming the row (and column) of the first NaN or infinite entry."""
    bad = np.argwhere(~np.isfinite(arr))
    if len(bad):
        index = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"{_position(name, index)} is {number_text(arr[index])}: every entry must be "
            "finite (no NaN or inf)"
        )


def check_inputs(X: Any, name: str = "X", n_features: int | None = None) -> NDArray[Any]:
    """Inputs (N, D) as a float array: numbers, 2-D, at least one row and column, the fitted
    model's D columns when ``n_features`` is given, every entry finite."""
    arr = as_numbers(X, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, D); it has shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} has shape {arr.shape}: expected at least one row and column")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"{name} has {arr.shape[1]} columns; the model was fitted with {n_features} features"
        )
    check_finite(arr, name)
    return arr


def check_targets(y: Any, rows: int, outputs: int | None = 1, name: str = "y") -> NDArray[Any]:
    """Targets for ``rows`` rows as a float array, (N,) for one output (a column (N, 1) is
    accepted), (N, P) for ``outputs`` P > 1 (any P ≥ 1 when ``outputs`` is None); every entry
    finite."""
    arr = as_numbers(y, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (N,) or (N, P); it has shape {arr.shape}")
    columns = 1 if arr.ndim == 1 else arr.shape[1]
    if outputs is not None and columns != outputs:
        raise ValueError(
            f"{name} has shape {arr.shape}: the model has {outputs} output(s), so expected "
            + ("(N,)" if outputs == 1 else f"(N, {outputs})")
        )
    if arr.shape[0] != rows:
        raise ValueError(f"{name} has {arr.shape[0]} rows but X has {rows}")
    check_finite(arr, name)
    return arr


def check_class_indices(y: NDArray[Any], num_classes: int | None, name: str = "y") -> None:
    """ValueError naming the first row of ``y`` that is not a class index: an integer in
    0 … C−1 (any non-negative integer when ``num_classes`` C is None)."""
    upper = np.inf if num_classes is None else num_classes
    bad = np.flatnonzero(~((y >= 0) & (y < upper) & (np.floor(y) == y)))
    if len(bad):
        i = int(bad[0])
        expected = (
            "a class index 0, 1, 2, …"
            if num_classes is None
            else f"a class index in 0 … {num_classes - 1}"
        )
        raise ValueError(f"{name} row {i} is {number_text(y[i])}: expected {expected}")


def check_labels(y: Any, rows: int, name: str = "y") -> NDArray[Any]:
    """Class labels of any type as an array (N,) (a column (N, 1) is accepted), one per row
    of X; TypeError for None, ValueError naming a NaN among numeric labels."""
    if y is None:
        raise TypeError(f"{name} is None: expected an array of class labels")
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must have shape (N,); it has shape {arr.shape}")
    if arr.shape[0] != rows:
        raise ValueError(f"{name} has {arr.shape[0]} rows but X has {rows}")
    if arr.dtype.kind in "fc":
        check_finite(arr, name)
    return arr


def encode_labels(y: Any, classes: NDArray[Any], rows: int, name: str = "y") -> NDArray[Any]:
    """Labels (N,) as the indices of ``classes`` (an estimator's ``classes_``) as floats;
    ValueError naming the first row whose label is not one of them."""
    arr = check_labels(y, rows, name)
    index = {c: k for k, c in enumerate(classes.tolist())}
    encoded = np.empty(rows, dtype=np.float64)
    for i, label in enumerate(arr.tolist()):
        k = index.get(label) if _hashable(label) else None
        if k is None:
            raise ValueError(
                f"{name} row {i} is {number_text(label)}: expected one of classes_ "
                f"{classes.tolist()}"
            )
        encoded[i] = k
    return encoded


def _hashable(v: Any) -> bool:
    """Whether ``v`` can be looked up in a dict."""
    try:
        hash(v)
    except TypeError:
        return False
    return True


def as_path(path: Any, name: str = "path") -> str:
    """A file path as a string; TypeError unless ``path`` is a str or os.PathLike, ValueError
    for an empty one."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} is {type(path).__name__}: expected a str or os.PathLike path")
    text = os.fspath(path)
    if not isinstance(text, str) or text == "":
        raise ValueError(f"{name} is {text!r}: expected a non-empty file path")
    return text


def check_flag(value: Any, name: str) -> bool:
    """``value`` as a bool; TypeError unless it is one (numpy's too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} is {value!r}: expected True or False")
    return bool(value)


def check_count(value: Any, name: str) -> int:
    """``value`` as a positive int; TypeError unless it is an integer (not a bool), ValueError
    below 1."""
    if not isinstance(value, Integral) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} is {value!r}: expected a positive integer")
    if value < 1:
        raise ValueError(f"{name} = {value}: must be at least 1")
    return int(value)


def check_callback(callback: Any) -> Callback | None:
    """``callback`` unless it is neither None nor callable (TypeError)."""
    if callback is not None and not callable(callback):
        raise TypeError(f"callback is {callback!r}: expected a callable or None")
    result: Callback | None = callback
    return result


def check_feature_names(names: Any, n_features: int) -> list[str]:
    """``names`` as a list of ``n_features`` strings (TypeError for a single string or a
    non-sequence, ValueError for the wrong count)."""
    if isinstance(names, (str, bytes)) or not isinstance(names, (Sequence, np.ndarray)):
        raise TypeError(f"feature_names is {names!r}: expected a sequence of column names")
    result = [str(n) for n in names]
    if len(result) != n_features:
        raise ValueError(f"feature_names has {len(result)} names for X's {n_features} columns")
    return result


def fitted_state(fitted: _svgp.Fitted) -> dict[str, Any]:
    """A trained model as pickled: the model file's text and the training record."""
    return {"model": fitted.to_json(), "record": fitted.record()}


def fitted_from_state(state: Any) -> _svgp.Fitted:
    """The model :func:`fitted_state` gave (a model file's text alone: no record)."""
    if isinstance(state, str):
        return _svgp.Fitted.from_json(state)
    return _svgp.Fitted.from_json(state["model"], record=state["record"])
