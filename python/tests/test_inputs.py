"""Inputs a Python user passes: dtypes, memory orders, pandas, and bad data with the right
exception naming the row and column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import classification_data, regression_data

import svgp

SMALL = {"num_inducing": 8, "max_iter": 15, "batch_size": 64}


def test_float32_and_fortran_order_give_the_float64_numbers() -> None:
    X, y = regression_data(n=90, d=3, seed=1)
    X32 = X.astype(np.float32)
    reference = svgp.SVGPRegressor(**SMALL).fit(X32.astype(np.float64), y).predict(X)
    for Xin in (X32, np.asfortranarray(X32), np.asfortranarray(X32.astype(np.float64))):
        got = svgp.SVGPRegressor(**SMALL).fit(Xin, y).predict(X)
        np.testing.assert_array_equal(got, reference)


def test_a_non_contiguous_view_is_read_correctly() -> None:
    X, y = regression_data(n=60, d=4, seed=2)
    view = X[:, ::2]
    a = svgp.SVGPRegressor(**SMALL).fit(view, y).predict(view)
    b = svgp.SVGPRegressor(**SMALL).fit(np.ascontiguousarray(view), y).predict(view)
    np.testing.assert_array_equal(a, b)


def test_pandas_columns_name_the_features(tmp_path) -> None:
    X, y = regression_data(n=70, d=2, seed=3)
    df = pd.DataFrame(X, columns=["height", "width"])
    est = svgp.SVGPRegressor(**SMALL).fit(df, pd.Series(y))
    assert list(est.feature_names_in_) == ["height", "width"]
    est.save(str(tmp_path / "m.json"))
    assert svgp.load(tmp_path / "m.json").feature_names == ["height", "width"]
    # an array after a frame predicts the same, with scikit-learn's warning that it has no names
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = est.predict(X)
    np.testing.assert_array_equal(est.predict(df), from_array)


@pytest.mark.parametrize("bad,word", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_non_finite_inputs_name_row_and_column(bad: float, word: str) -> None:
    X, y = regression_data(n=40, d=3, seed=4)
    X[7, 2] = bad
    with pytest.raises(ValueError, match=f"X row 7, column 2 is {word}"):
        svgp.SVGPRegressor(**SMALL).fit(X, y)
    X[7, 2] = 0.0
    est = svgp.SVGPRegressor(**SMALL).fit(X, y)
    X[3, 1] = bad
    with pytest.raises(ValueError, match="X row 3, column 1"):
        est.predict(X)


def test_non_finite_target_names_its_row() -> None:
    X, y = regression_data(n=40, d=1, seed=5)
    y[11] = np.nan
    with pytest.raises(ValueError, match="y row 11 is NaN"):
        svgp.Model(max_iter=5).fit(X, y)


def test_a_label_outside_the_likelihood_names_its_row() -> None:
    X, y = classification_data(n=40, seed=6)
    y[9] = 2.0
    with pytest.raises(ValueError, match="row 9"):
        svgp.Model(likelihood="bernoulli", max_iter=5).fit(X, y)


def test_wrong_shapes() -> None:
    X, y = regression_data(n=40, d=2, seed=7)
    with pytest.raises(ValueError):
        svgp.SVGPRegressor(**SMALL).fit(X, y[:-1])
    with pytest.raises(ValueError, match="y has 39 rows but X has 40"):
        svgp.Model(max_iter=5).fit(X, y[:-1])
    with pytest.raises(ValueError, match="2-D"):
        svgp.Model(max_iter=5).fit(X[:, 0], y)
    est = svgp.SVGPRegressor(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :1])
    with pytest.raises(ValueError, match="1 columns"):
        est._model.predict_y(X[:, :1])


def test_wrong_dtypes() -> None:
    X, y = regression_data(n=30, d=2, seed=8)
    with pytest.raises(ValueError):
        svgp.SVGPRegressor(**SMALL).fit(X.astype(str).astype(object) + "a", y)
    with pytest.raises(ValueError):
        svgp.SVGPRegressor(**SMALL).fit(X + 1j, y)
    # integers are converted
    svgp.SVGPRegressor(**SMALL).fit(X.astype(np.int64), y)


def test_one_class_and_empty_arrays() -> None:
    X, _ = classification_data(n=30, seed=9)
    with pytest.raises(ValueError, match="class"):
        svgp.SVGPClassifier(**SMALL).fit(X, np.zeros(30))
    with pytest.raises(ValueError, match="both classes"):
        svgp.Model(likelihood="bernoulli", max_iter=5).fit(X, np.ones(30))
    with pytest.raises(ValueError):
        svgp.SVGPRegressor(**SMALL).fit(np.empty((0, 2)), np.empty(0))
    with pytest.raises(ValueError, match="at least one row"):
        svgp.Model(max_iter=5).fit(np.empty((0, 2)), np.empty(0))


def test_bad_settings_raise_value_error_naming_them() -> None:
    X, y = regression_data(n=30, d=1, seed=10)
    with pytest.raises(ValueError, match="kernel"):
        svgp.Model(kernel="cosine").fit(X, y)
    with pytest.raises(ValueError, match="gamma"):
        svgp.Model(gamma=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="num_inducing"):
        svgp.SVGPRegressor(num_inducing=0).fit(X, y)
    with pytest.raises(ValueError, match="likelihood"):
        svgp.Model(likelihood="gamma")
