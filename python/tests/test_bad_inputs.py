"""Bad input to every public callable of the package is refused with ValueError or TypeError
naming the argument, and never reaches the Rust core as a panic (pyo3's PanicException).

The callables are enumerated by introspection (``dir(svgp)``, the public classes' public
methods, ``svgp.distributed``'s public functions); each must have an entry in ``CASES``, so a
new one without cases fails ``test_every_public_callable_has_bad_input_cases``."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sklearn
from conftest import classification_data, regression_data

import svgp
import svgp.distributed

SMALL = {"num_inducing": 6, "max_iter": 3, "batch_size": 64}
N = 20


def public_callables() -> list[str]:
    """Every public function and method reachable from ``import svgp``: the module's functions,
    the public classes (their constructors) and their public methods, and the public functions
    of ``svgp.distributed``. Exception classes (which take a message) and properties (which take
    nothing; test_pickle.py covers them) are not callables with inputs."""
    names = []
    for name in dir(svgp):
        obj = getattr(svgp, name)
        if name.startswith("_") or inspect.ismodule(obj) or not callable(obj):
            continue
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue
        names.append(name)
        if inspect.isclass(obj):
            names += [f"{name}.{m}" for m in public_methods(obj)]
    for name, obj in vars(svgp.distributed).items():
        public = not name.startswith("_") and inspect.isfunction(obj)
        if public and obj.__module__ == "svgp.distributed":
            names.append(f"distributed.{name}")
    return names


def public_methods(cls: type) -> list[str]:
    """The public methods of ``cls``, inherited ones included (properties excluded)."""
    return [
        m
        for m in dir(cls)
        if not m.startswith("_")
        and not isinstance(inspect.getattr_static(cls, m), property)
        and callable(getattr(cls, m))
    ]


@cache
def data() -> dict[str, Any]:
    """Seeded data and fitted models (a few iterations each), built once."""
    X, y = regression_data(n=N, d=2, seed=41)
    Xc, yc = classification_data(n=N, seed=42)
    labels3 = np.where(yc == 1, 2.0, (Xc[:, 0] > 0).astype(float))
    names3 = np.array(["a", "b", "c"])[labels3.astype(int)]
    return {
        "X": X,
        "y": y,
        "Xc": Xc,
        "y2": yc,
        "y3": labels3,
        "names3": names3,
        "gaussian": svgp.Model(**SMALL).fit(X, y),
        "bernoulli": svgp.Model(likelihood="bernoulli", **SMALL).fit(Xc, yc),
        "robustmax": svgp.Model(likelihood="robustmax", **SMALL).fit(Xc, labels3),
        "softmax": svgp.Model(likelihood="softmax", **SMALL).fit(Xc, labels3),
        "regressor": svgp.SVGPRegressor(**SMALL).fit(X, y),
        "classifier": svgp.SVGPClassifier(**SMALL).fit(Xc, names3),
    }


@dataclass(frozen=True)
class Case:
    """One bad call: what is wrong, the call, the exception expected and a pattern its message
    must match (naming the argument)."""

    what: str
    call: Callable[[dict[str, Any]], Any]
    error: type[BaseException] | tuple[type[BaseException], ...]
    match: str


REFUSED = (ValueError, TypeError)


def with_entry(a: np.ndarray, index: tuple[int, ...], value: Any) -> np.ndarray:
    """A copy of ``a`` (as object when ``value`` is not a number) with one entry replaced."""
    out = a.astype(object if isinstance(value, str) or value is None else a.dtype, copy=True)
    out[index] = value
    return out


def bad_X(
    call: Callable[[dict[str, Any], Any], Any], key: str = "X", fitted: bool = True
) -> list[Case]:
    """The bad inputs X every callable taking X refuses: non-finite entries, strings, None,
    complex numbers, no rows or columns, one dimension, and (after a fit) the wrong number of
    columns. The estimators keep scikit-learn's messages (its estimator checks match them),
    with the argument named, so some patterns take either wording."""
    cases = [
        Case(
            "X NaN",
            lambda d: call(d, with_entry(d[key], (3, 1), np.nan)),
            ValueError,
            r"X row 3, column 1 is NaN",
        ),
        Case(
            "X inf",
            lambda d: call(d, with_entry(d[key], (4, 0), -np.inf)),
            ValueError,
            r"X row 4, column 0 is -inf",
        ),
        Case(
            "X string",
            lambda d: call(d, with_entry(d[key], (2, 1), "tall")),
            ValueError,
            r"X.*'tall'",
        ),
        Case("X None", lambda d: call(d, None), REFUSED, r"X( is None|: Expected 2D)"),
        Case("X complex", lambda d: call(d, d[key] + 1j), ValueError, r"X.* [Cc]omplex"),
        Case("X no rows", lambda d: call(d, d[key][:0]), ValueError, r"X.*shape[= ]\(0, 2\)"),
        Case(
            "X no columns", lambda d: call(d, d[key][:, :0]), ValueError, r"X.*shape[= ]\(20, 0\)"
        ),
        Case("X 1-D", lambda d: call(d, d[key][:, 0]), ValueError, r"X.*2-?D"),
    ]
    if fitted:
        cases.append(
            Case(
                "X columns",
                lambda d: call(d, d[key][:, :1]),
                ValueError,
                r"X has 1 (columns|features)",
            )
        )
    return cases


def bad_regression_y(call: Callable[[dict[str, Any], Any], Any], fit: bool = False) -> list[Case]:
    """The bad targets of a regression call on ``d["X"]``: NaN, strings, None, wrong length
    and the wrong shape (three dimensions at a fit, which takes any number of outputs; three
    columns for a fitted model of one output)."""
    shape = (
        Case(
            "y 3-D",
            lambda d: call(d, np.zeros((N, 2, 2))),
            ValueError,
            r"y must have shape \(N,\) or \(N, P\)",
        )
        if fit
        else Case(
            "y columns",
            lambda d: call(d, np.c_[d["y"], d["y"], d["y"]]),
            ValueError,
            r"y has shape \(20, 3\)",
        )
    )
    return [
        shape,
        Case(
            "y NaN",
            lambda d: call(d, with_entry(d["y"], (5,), np.nan)),
            ValueError,
            r"y row 5 is NaN",
        ),
        Case(
            "y string",
            lambda d: call(d, with_entry(d["y"], (6,), "big")),
            ValueError,
            r"y row 6 is 'big'",
        ),
        Case("y None", lambda d: call(d, None), REFUSED, r"y is None"),
        Case(
            "y short",
            lambda d: call(d, d["y"][:-1]),
            ValueError,
            rf"y has {N - 1} rows but X has {N}",
        ),
    ]


def bad_labels(call: Callable[[dict[str, Any], Any], Any], c: int, key: str) -> list[Case]:
    """The bad class indices of a call on ``d["Xc"]`` for a C-class model: C, −1, a fraction,
    NaN, a string, None and the wrong length."""
    expected = rf"expected a class index in 0 … {c - 1}"

    def labels(d: dict[str, Any], v: Any) -> np.ndarray:
        return with_entry(d[key], (3,), v)

    return [
        Case(
            "label C",
            lambda d: call(d, labels(d, float(c))),
            ValueError,
            rf"y row 3 is {c}: {expected}",
        ),
        Case(
            "label −1",
            lambda d: call(d, labels(d, -1.0)),
            ValueError,
            rf"y row 3 is -1: {expected}",
        ),
        Case(
            "label 0.5",
            lambda d: call(d, labels(d, 0.5)),
            ValueError,
            rf"y row 3 is 0.5: {expected}",
        ),
        Case("label NaN", lambda d: call(d, labels(d, np.nan)), ValueError, r"y row 3 is NaN"),
        Case("label string", lambda d: call(d, labels(d, "b")), ValueError, r"y row 3 is 'b'"),
        Case("labels None", lambda d: call(d, None), REFUSED, r"y is None"),
        Case(
            "labels short",
            lambda d: call(d, d[key][:-2]),
            ValueError,
            rf"y has {N - 2} rows but X has {N}",
        ),
    ]


def bad_class_names(call: Callable[[dict[str, Any], Any], Any]) -> list[Case]:
    """Labels an estimator did not learn (its ``classes_`` are "a", "b", "c")."""
    return [
        Case(
            "unknown label",
            lambda d: call(d, with_entry(d["names3"], (4,), "z")),
            ValueError,
            r"y row 4 is 'z': expected one of classes_ \['a', 'b', 'c'\]",
        ),
        Case("labels None", lambda d: call(d, None), REFUSED, r"y is None"),
        Case(
            "labels short",
            lambda d: call(d, d["names3"][:-1]),
            ValueError,
            rf"y has {N - 1} rows but X has {N}",
        ),
        Case(
            "labels 2-D",
            lambda d: call(d, np.c_[d["names3"], d["names3"]]),
            ValueError,
            r"y must have shape \(N,\)",
        ),
    ]


def bad_paths(call: Callable[[dict[str, Any], Any], Any]) -> list[Case]:
    """Paths that are not paths."""
    return [
        Case("path int", lambda d: call(d, 3), TypeError, r"path is int"),
        Case("path None", lambda d: call(d, None), TypeError, r"path is NoneType"),
        Case("path empty", lambda d: call(d, ""), ValueError, r"path is ''"),
    ]


def bad_parameters(make: Callable[..., Any]) -> list[Case]:
    """Training parameters out of range or of the wrong type; ``make(**kw)`` builds (and for
    an estimator fits) with them."""
    return [
        Case(f"{name}={value!r}", lambda d, kw={name: value}: make(d, **kw), REFUSED, name)
        for name, value in [
            ("kernel", "cosine"),
            ("num_inducing", 0),
            ("batch_size", "ten"),
            ("max_iter", -1),
            ("parametrisation", "polar"),
            ("gamma", -1.0),
            ("adam_lr", np.nan),
            ("random_state", -3),
            ("verbose", "loud"),
            ("likelihood", "gamma"),
        ]
    ]


def not_fitted(call: Callable[[Any], Any], make: Callable[[], Any]) -> Case:
    """A method of a model that was never fitted."""
    return Case("not fitted", lambda d: call(make()), ValueError, r"not fitted")


def fit_model(d: dict[str, Any], **kw: Any) -> svgp.Model:
    """A small Gaussian Model fitted to d's regression data with ``kw`` passed to ``fit``."""
    return svgp.Model(**SMALL).fit(d["X"], d["y"], **kw)


def model_fit_cases() -> list[Case]:
    """svgp.Model.fit: inputs, targets, class labels, feature names, the callback, and a
    training parameter set out of range after construction."""

    def mutated(d: dict[str, Any]) -> Any:
        model = svgp.Model(**SMALL)
        model.max_iter = -5
        return model.fit(d["X"], d["y"])

    return [
        *bad_X(lambda d, X: svgp.Model(**SMALL).fit(X, d["y"]), fitted=False),
        *bad_regression_y(lambda d, y: svgp.Model(**SMALL).fit(d["X"], y), fit=True),
        *fit_label_cases(),
        Case(
            "feature_names count",
            lambda d: fit_model(d, feature_names=["a"]),
            ValueError,
            r"feature_names has 1 names for X's 2 columns",
        ),
        Case("feature_names str", lambda d: fit_model(d, feature_names="ab"), TypeError, "'ab'"),
        Case("callback", lambda d: fit_model(d, callback=3), TypeError, r"callback is 3"),
        Case("max_iter set after construction", mutated, REFUSED, r"max_iter"),
    ]


def fit_label_cases() -> list[Case]:
    """Bad labels at fit: Bernoulli's 0 or 1, and non-integer or negative class indices for
    robust-max and softmax (whose C comes from the labels, so a label C is one more class)."""
    out = []
    for lik, c, key in [("bernoulli", 2, "y2"), ("robustmax", 3, "y3"), ("softmax", 3, "y3")]:
        fit = lambda d, y, lik=lik: svgp.Model(likelihood=lik, **SMALL).fit(d["Xc"], y)
        for case in bad_labels(fit, c, key):
            if lik == "bernoulli":
                out.append(replace(case, what=f"{lik} {case.what}"))
            elif case.what != "label C":
                match = case.match.replace("in 0 … 2", "0, 1, 2, …")
                out.append(replace(case, what=f"{lik} {case.what}", match=match))
    return out


def model_label_cases(method: str) -> list[Case]:
    """Bad labels for ``method(X, y)`` of the fitted Bernoulli, robust-max and softmax models."""
    out = []
    for lik, c, key in [("bernoulli", 2, "y2"), ("robustmax", 3, "y3"), ("softmax", 3, "y3")]:
        call = lambda d, y, lik=lik: getattr(d[lik], method)(d["Xc"], y)
        out += [replace(case, what=f"{lik} {case.what}") for case in bad_labels(call, c, key)]
    return out


def count_and_seed_cases(call: Callable[..., Any], count: str, seed: str) -> list[Case]:
    """A sample count that is not a positive integer, and a negative seed, for ``call(d, **kw)``."""
    return [
        Case(f"{count}=0", lambda d: call(d, **{count: 0}), ValueError, count),
        Case(f"{count}=1.5", lambda d: call(d, **{count: 1.5}), TypeError, count),
        Case(f"{count}=True", lambda d: call(d, **{count: True}), TypeError, count),
        Case(f"{seed}=-1", lambda d: call(d, **{seed: -1}), ValueError, seed),
    ]


def model_cases() -> dict[str, list[Case]]:
    """svgp.Model and its methods."""
    fresh, gaussian = svgp.Model, "gaussian"
    cases: dict[str, list[Case]] = {
        "Model": bad_parameters(lambda d, **kw: svgp.Model(**kw)),
        "Model.fit": model_fit_cases(),
        "Model.save": [
            *bad_paths(lambda d, p: d[gaussian].save(p)),
            not_fitted(lambda m: m.save("m.json"), fresh),
        ],
        "Model.plot_elbo": [
            *bad_paths(lambda d, p: d[gaussian].plot_elbo(p)),
            Case("log_x", lambda d: d[gaussian].plot_elbo("e.png", log_x="y"), TypeError, "log_x"),
            not_fitted(lambda m: m.plot_elbo("e.png"), fresh),
        ],
        "Model.plot_fit": [
            *bad_paths(lambda d, p: d[gaussian].plot_fit(p, d["X"], d["y"])),
            *bad_X(lambda d, X: d[gaussian].plot_fit("f.png", X, d["y"])),
            *bad_regression_y(lambda d, y: d[gaussian].plot_fit("f.png", d["X"], y)),
            *bad_labels(lambda d, y: d["robustmax"].plot_fit("f.png", d["Xc"], y), 3, "y3"),
        ],
        "Model.predict_proba": [
            *bad_X(lambda d, X: d["robustmax"].predict_proba(X), key="Xc"),
            Case("regression", lambda d: d[gaussian].predict_proba(d["X"]), ValueError, "likeli"),
        ],
        "Model.predict_f": bad_X(lambda d, X: d[gaussian].predict_f(X)),
        "Model.predict_y": bad_X(lambda d, X: d[gaussian].predict_y(X)),
        "Model.predict_f_samples": [
            *bad_X(lambda d, X: d[gaussian].predict_f_samples(X, 2)),
            *count_and_seed_cases(
                lambda d, **kw: d[gaussian].predict_f_samples(d["X"], **kw),
                "num_samples",
                "seed",
            ),
            not_fitted(lambda m: m.predict_f_samples(np.zeros((2, 2))), fresh),
        ],
    }
    for method in ("predict_f", "predict_y", "predict_proba"):
        call = lambda model, m=method: getattr(model, m)(np.zeros((2, 2)))
        cases[f"Model.{method}"].append(not_fitted(call, fresh))
    for method in ("elbo", "predict_log_density"):
        cases[f"Model.{method}"] = [
            *bad_X(lambda d, X, m=method: getattr(d[gaussian], m)(X, d["y"])),
            *bad_regression_y(lambda d, y, m=method: getattr(d[gaussian], m)(d["X"], y)),
            not_fitted(lambda model, m=method: getattr(model, m)(np.zeros((2, 2)), [0, 0]), fresh),
            *model_label_cases(method),
        ]
    return cases


def classifier_fit_label_cases(cls: type) -> list[Case]:
    """SVGPClassifier.fit's bad labels (any label values are classes; these are not)."""

    def fit(d: dict[str, Any], y: Any, **kw: Any) -> Any:
        return cls(**{**SMALL, **kw}).fit(d["Xc"], y)

    return [
        Case("labels None", lambda d: fit(d, None), REFUSED, r"y is None"),
        Case("labels short", lambda d: fit(d, d["names3"][:-1]), ValueError, rf"y has {N - 1} row"),
        Case(
            "label NaN", lambda d: fit(d, with_entry(d["y3"], (3,), np.nan)), ValueError, "y row 3"
        ),
        Case("one class", lambda d: fit(d, np.zeros(N)), ValueError, r"y has one class"),
        Case(
            "bernoulli, 3 classes",
            lambda d: fit(d, d["y3"], likelihood="bernoulli"),
            ValueError,
            "y has 3",
        ),
    ]


def estimator_parameter_cases(cls: type, X: str, y: str) -> list[Case]:
    """Training parameters out of range, caught at fit; the regressor's likelihoods are its own."""
    fit_with = lambda d, **kw: cls(**{**SMALL, **kw}).fit(d[X], d[y])
    cases = bad_parameters(fit_with)
    if cls is svgp.SVGPRegressor:
        robustmax = lambda d: fit_with(d, likelihood="robustmax")
        cases = [c for c in cases if c.match != "likelihood"]
        cases.append(Case("likelihood='robustmax'", robustmax, REFUSED, "likelihood"))
    return cases


def sklearn_method_cases(name: str, cls: type) -> dict[str, list[Case]]:
    """scikit-learn's own methods of an estimator, with its own checks naming the parameter."""
    cases = {
        f"{name}.set_params": [
            Case("unknown parameter", lambda d: cls().set_params(colour=1), ValueError, "'colour'")
        ],
        f"{name}.get_params": [
            Case("positional", lambda d: cls().get_params(True, 1), TypeError, "positional")
        ],
        f"{name}.get_metadata_routing": [
            Case("an argument", lambda d: cls().get_metadata_routing(1), TypeError, "argument")
        ],
        f"{name}.set_score_request": [
            Case(
                "unknown", lambda d: routed(lambda: cls().set_score_request(w=True)), TypeError, "w"
            )
        ],
    }
    if cls is svgp.SVGPRegressor:
        alias = lambda d: routed(lambda: cls().set_predict_request(return_std=3))
        cases[f"{name}.set_predict_request"] = [Case("bad alias", alias, ValueError, "return_std")]
    return cases


def estimator_cases(name: str) -> dict[str, list[Case]]:
    """An estimator class and its methods (``name`` is "SVGPRegressor" or "SVGPClassifier")."""
    cls = getattr(svgp, name)
    regression = cls is svgp.SVGPRegressor
    key, X, y = ("regressor", "X", "y") if regression else ("classifier", "Xc", "names3")
    labels = bad_regression_y if regression else bad_class_names
    fresh = lambda: cls(**SMALL)
    fit_y = (
        bad_regression_y(lambda d, t: cls(**SMALL).fit(d["X"], t), fit=True)
        if regression
        else classifier_fit_label_cases(cls)
    )

    def predict_cases(method: str) -> list[Case]:
        call = lambda e: getattr(e, method)(np.zeros((2, 2)))
        return [*bad_X(lambda d, x: getattr(d[key], method)(x), key=X), not_fitted(call, fresh)]

    nan_weight = lambda d: d[key].score(
        d[X], d[y], sample_weight=with_entry(np.ones(N), (2,), np.nan)
    )
    cases = {
        name: estimator_parameter_cases(cls, X, y),
        f"{name}.fit": [
            *bad_X(lambda d, x: cls(**SMALL).fit(x, d[y]), key=X, fitted=False),
            *fit_y,
        ],
        f"{name}.predict": predict_cases("predict"),
        f"{name}.score": [
            *bad_X(lambda d, x: d[key].score(x, d[y]), key=X),
            *labels(lambda d, t: d[key].score(d[X], t)),
            Case("sample_weight NaN", nan_weight, ValueError, r"sample_weight row 2 is NaN"),
        ],
        f"{name}.plot_fit": [
            *bad_paths(lambda d, p: d[key].plot_fit(p, d[X], d[y])),
            *bad_X(lambda d, x: d[key].plot_fit("f.png", x, d[y]), key=X),
            *labels(lambda d, t: d[key].plot_fit("f.png", d[X], t)),
        ],
        f"{name}.save": [
            *bad_paths(lambda d, p: d[key].save(p)),
            not_fitted(lambda e: e.save("m"), fresh),
        ],
        f"{name}.plot_elbo": [
            *bad_paths(lambda d, p: d[key].plot_elbo(p)),
            Case("log_x", lambda d: d[key].plot_elbo("e.png", log_x=1), TypeError, r"log_x"),
        ],
        **sklearn_method_cases(name, cls),
    }
    if regression:
        cases[f"{name}.predict_f"] = predict_cases("predict_f")
        cases[f"{name}.sample_y"] = [
            *predict_cases("sample_y"),
            *count_and_seed_cases(
                lambda d, **kw: d[key].sample_y(d["X"], **kw), "n_samples", "random_state"
            ),
        ]
        cases[f"{name}.log_density"] = [
            *bad_X(lambda d, x: d[key].log_density(x, d["y"])),
            *bad_regression_y(lambda d, t: d[key].log_density(d["X"], t)),
        ]
    else:
        cases[f"{name}.predict_proba"] = predict_cases("predict_proba")
        cases[f"{name}.predict_log_proba"] = predict_cases("predict_log_proba")
    return cases


def routed(call: Callable[[], Any]) -> Any:
    """``call()`` with scikit-learn's metadata routing on (its ``set_*_request`` methods need
    it)."""
    with sklearn.config_context(enable_metadata_routing=True):
        return call()


def file_cases() -> dict[str, list[Case]]:
    """svgp.load and svgp.save."""
    not_a_model = lambda d: svgp.save("model", "m.json")
    return {
        "load": [
            *bad_paths(lambda d, p: svgp.load(p)),
            Case(
                "not a model file",
                lambda d: svgp.load(Path(__file__)),
                svgp.ModelFileError,
                "test_bad",
            ),
        ],
        "save": [
            *bad_paths(lambda d, p: svgp.save(d["gaussian"], p)),
            Case("model not a model", not_a_model, TypeError, r"model is str"),
        ],
    }


def distributed_cases() -> list[Case]:
    """svgp.distributed.fit on one shard in this process (backend="local")."""

    def shard(d: dict[str, Any], x: Any, t: Any, **kw: Any) -> Any:
        return svgp.distributed.fit([(x, t)], **{"backend": "local", **SMALL, **kw})

    def labels(d: dict[str, Any], key: str, bad: float, lik: str) -> Any:
        return shard(d, d["Xc"], with_entry(d[key], (3,), bad), likelihood=lik)

    return [
        Case(
            "no shards", lambda d: svgp.distributed.fit([], backend="local"), ValueError, "shards"
        ),
        Case("backend", lambda d: shard(d, d["X"], d["y"], backend="spark"), ValueError, "backend"),
        *bad_parameters(lambda d, **kw: shard(d, d["X"], d["y"], **kw)),
        Case(
            "X NaN",
            lambda d: shard(d, with_entry(d["X"], (3, 1), np.nan), d["y"]),
            ValueError,
            "X row 3",
        ),
        Case(
            "X no rows",
            lambda d: shard(d, d["X"][:0], d["y"][:0]),
            ValueError,
            "shard 0: X has shape",
        ),
        Case(
            "y NaN",
            lambda d: shard(d, d["X"], with_entry(d["y"], (5,), np.nan)),
            ValueError,
            "y row 5",
        ),
        Case(
            "y short", lambda d: shard(d, d["X"], d["y"][:-1]), ValueError, r"y has \d+ rows but X"
        ),
        Case(
            "bernoulli 2", lambda d: labels(d, "y2", 2.0, "bernoulli"), ValueError, "y row 3 is 2"
        ),
        Case(
            "X string",
            lambda d: shard(d, with_entry(d["X"], (2, 1), "tall"), d["y"]),
            ValueError,
            "X row 2, column 1",
        ),
        Case("y None", lambda d: shard(d, d["X"], None), TypeError, "shard 0: y is None"),
        Case(
            "robustmax 2.5",
            lambda d: labels(d, "y3", 2.5, "robustmax"),
            ValueError,
            "y row 3",
        ),
        Case(
            "robustmax -1",
            lambda d: labels(d, "y3", -1.0, "robustmax"),
            ValueError,
            "y row 3",
        ),
        Case(
            "robustmax gap",
            lambda d: labels(d, "y3", 7.0, "robustmax"),
            ValueError,
            "y: no shard holds class 3",
        ),
    ]


def all_cases() -> dict[str, list[Case]]:
    """Every callable's bad-input cases."""
    return {
        **model_cases(),
        **estimator_cases("SVGPRegressor"),
        **estimator_cases("SVGPClassifier"),
        **file_cases(),
        "distributed.fit": distributed_cases(),
    }


CASES = all_cases()


def test_every_public_callable_has_bad_input_cases() -> None:
    callables = public_callables()
    assert {
        "Model.fit",
        "Model.elbo",
        "SVGPClassifier.predict_proba",
        "load",
        "distributed.fit",
    } <= set(callables)
    missing = [c for c in callables if not CASES.get(c)]
    assert not missing, f"public callables without bad-input cases in CASES: {missing}"
    stale = sorted(set(CASES) - set(callables))
    assert not stale, f"CASES names callables that are not public: {stale}"


def _params() -> list[Any]:
    """One pytest parameter per case."""
    return [
        pytest.param(case, id=f"{name}: {case.what}")
        for name, cases in CASES.items()
        for case in cases
    ]


@pytest.mark.parametrize("case", _params())
def test_bad_input_is_refused_naming_the_argument(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # any file a wrongly accepted call writes lands here
    try:
        case.call(data())
    except BaseException as e:  # PanicException derives from BaseException
        if type(e).__name__ == "PanicException":
            pytest.fail(f"{case.what}: the Rust core panicked: {e}")
        if isinstance(e, (KeyboardInterrupt, SystemExit)) or not isinstance(e, case.error):
            raise
        assert re.search(case.match, str(e)), f"{case.what}: {type(e).__name__}: {e}"
    else:
        pytest.fail(f"{case.what}: accepted")
