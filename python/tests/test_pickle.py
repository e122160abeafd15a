"""Pickling keeps every public attribute of a fitted model, its training record included: the
ELBO, γ and halvings histories, the iteration count, the stop reason and the final ELBO.
The attributes are found by introspection, so a new one is covered without a new test."""

from __future__ import annotations

import inspect
import math
import pickle
from typing import Any

import numpy as np
import pytest
from conftest import classification_data, regression_data

import svgp

SMALL = {"num_inducing": 8, "max_iter": 12, "batch_size": 32}


def public_attributes(obj: Any) -> list[str]:
    """The public attributes of ``obj`` that are values (properties, instance attributes, a
    pyo3 class's getters), not methods."""
    names = set(dir(obj)) | set(getattr(obj, "__dict__", {}))
    return sorted(n for n in names if not n.startswith("_") and not callable(getattr(obj, n)))


def argumentless_methods(obj: Any) -> list[str]:
    """The public methods of ``obj`` that take no argument (a pyo3 class's ``record()``,
    ``inducing_points()``, …), whose results are part of its state."""
    names = []
    for n in dir(obj):
        member = getattr(obj, n, None)
        if n.startswith("_") or not callable(member) or inspect.isclass(member):
            continue
        try:
            parameters = inspect.signature(member).parameters.values()
        except (TypeError, ValueError):
            continue
        if all(p.default is not inspect.Parameter.empty for p in parameters):
            names.append(n)
    return names


def assert_same(a: Any, b: Any, where: str) -> None:
    """``a`` and ``b`` equal, recursively: arrays and floats bit for bit (NaN equal to NaN),
    svgp's core models by their own attributes and argument-less methods."""
    if isinstance(a, svgp._svgp.Fitted):
        assert isinstance(b, svgp._svgp.Fitted), where
        for n in public_attributes(a) + argumentless_methods(a):
            value_a, value_b = getattr(a, n), getattr(b, n)
            if callable(value_a):
                value_a, value_b = value_a(), value_b()
            assert_same(value_a, value_b, f"{where}.{n}")
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
        assert np.asarray(a).dtype == np.asarray(b).dtype, where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{k}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def fitted_objects() -> dict[str, Any]:
    """A Gaussian regression model, a 3-class robust-max model and a softmax one, and the two
    estimators, each fitted for a few seeded iterations."""
    X, y = regression_data(n=60, d=2, seed=31)
    Xc, yc = classification_data(n=60, seed=32)
    labels = np.where(yc == 1, 2.0, (Xc[:, 0] > 0).astype(float))
    return {
        "Model gaussian": svgp.Model(**SMALL).fit(X, y),
        "Model robustmax": svgp.Model(likelihood="robustmax", **SMALL).fit(Xc, labels),
        "Model softmax": svgp.Model(likelihood="softmax", **SMALL).fit(Xc, labels),
        "SVGPRegressor": svgp.SVGPRegressor(**SMALL).fit(X, y),
        "SVGPClassifier": svgp.SVGPClassifier(**SMALL).fit(Xc, labels),
    }


@pytest.mark.parametrize("name", list(fitted_objects()))
def test_every_public_attribute_survives_pickling(name: str) -> None:
    original = fitted_objects()[name]
    back = pickle.loads(pickle.dumps(original))
    names = public_attributes(original)
    if isinstance(original, svgp.Model):
        record = {"elbo_history", "gamma_history", "halvings_history", "n_iter", "final_elbo"}
        assert record | {"stop_reason", "fitted"} <= set(names), names
        assert original.n_iter == SMALL["max_iter"] and np.isfinite(original.final_elbo)
        assert len(original.elbo_history) == SMALL["max_iter"]
    else:
        assert {"elbo_history_", "n_iter_", "elbo_", "stop_reason_"} <= set(names), names
    for n in names:
        assert_same(getattr(original, n), getattr(back, n), f"{name}.{n}")
    # the record is the model's own after a second round trip too
    again = pickle.loads(pickle.dumps(back))
    for n in names:
        assert_same(getattr(original, n), getattr(again, n), f"{name} (twice).{n}")


def test_the_unpickled_model_predicts_and_plots_as_the_original(tmp_path: Any) -> None:
    X, y = regression_data(n=60, d=1, seed=33)
    model = svgp.Model(**SMALL).fit(X, y)
    back = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(back.predict_y(X)[0], model.predict_y(X)[0])
    assert back.elbo(X, y) == model.elbo(X, y)
    back.plot_elbo(tmp_path / "elbo.svg")  # needs the training trace, which a loaded model lacks
    assert (tmp_path / "elbo.svg").read_text().startswith("<svg")


def test_an_unfitted_model_pickles() -> None:
    model = svgp.Model(likelihood="poisson", kernel="matern32", max_iter=7)
    back = pickle.loads(pickle.dumps(model))
    assert (back.likelihood, back.kernel, back.max_iter) == ("poisson", "matern32", 7)
    with pytest.raises(ValueError, match="not fitted"):
        _ = back.fitted


def test_a_pickle_of_the_model_file_alone_still_loads() -> None:
    """Pickles written before the record was kept held the model file's text alone."""
    X, y = regression_data(n=40, d=2, seed=34)
    model = svgp.Model(**SMALL).fit(X, y)
    state = model.__getstate__()
    state["_fitted"] = state["_fitted"]["model"]
    old = svgp.Model.__new__(svgp.Model)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.predict_y(X)[0], model.predict_y(X)[0])
    assert old.n_iter == 0 and old.stop_reason == "loaded"


def test_a_corrupt_record_raises_value_error() -> None:
    X, y = regression_data(n=40, d=2, seed=35)
    state = svgp.Model(**SMALL).fit(X, y).__getstate__()
    state["_fitted"]["record"]["elbo"] = state["_fitted"]["record"]["elbo"][:-1]
    with pytest.raises(ValueError, match="record: 12 iterations"):
        svgp.Model.__new__(svgp.Model).__setstate__(state)
    state["_fitted"]["record"]["elbo"].append(0.0)
    state["_fitted"]["record"]["stop_reason"] = "bored"
    with pytest.raises(ValueError, match="stop reason 'bored'|stop reason \"bored\""):
        svgp.Model.__new__(svgp.Model).__setstate__(state)
