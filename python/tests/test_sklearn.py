"""scikit-learn's own estimator checks, and a GridSearchCV over a Pipeline."""

from __future__ import annotations

from typing import Any

import numpy as np
from conftest import classification_data, regression_data
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from svgp import SVGPClassifier, SVGPRegressor


# Every check applies and passes: no expected failures are declared (scikit-learn itself skips
# check_array_api_input unless SCIPY_ARRAY_API=1 is set, for every estimator). Small max_iter and
# a larger Adam step keep the checks fast while each fit still learns (check_regressors_train
# asks for R² > 0.5, check_classifiers_train for accuracy > 0.83).
@parametrize_with_checks(
    [
        SVGPRegressor(num_inducing=10, max_iter=20, adam_lr=0.1),
        SVGPClassifier(num_inducing=10, max_iter=20, adam_lr=0.1),
    ]
)
def test_sklearn_compatible(estimator: Any, check: Any) -> None:
    check(estimator)


def test_grid_search_over_num_inducing_and_kernel_in_a_pipeline() -> None:
    X, y = regression_data(n=150, d=2, seed=1)
    pipe = make_pipeline(StandardScaler(), SVGPRegressor(max_iter=40, batch_size=64))
    grid = GridSearchCV(
        pipe,
        {"svgpregressor__num_inducing": [5, 15], "svgpregressor__kernel": ["se", "matern32"]},
        cv=3,
    )
    grid.fit(X, y)
    assert set(grid.best_params_) == {"svgpregressor__num_inducing", "svgpregressor__kernel"}
    assert grid.best_score_ > 0.5
    assert np.isfinite(grid.predict(X)).all()


def test_classifier_in_a_grid_search() -> None:
    X, y = classification_data(n=150, seed=2)
    grid = GridSearchCV(
        make_pipeline(StandardScaler(), SVGPClassifier(max_iter=60, num_inducing=10)),
        {"svgpclassifier__kernel": ["se", "matern52"]},
        cv=3,
    )
    grid.fit(X, y)
    assert grid.best_score_ > 0.7
