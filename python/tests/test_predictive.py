"""Full predictive covariances and joint samples from Python: the shapes of scikit-learn's
``GaussianProcessRegressor`` (``predict(return_cov=True)``, ``sample_y``) and GPflow's
(``Model.predict_f(full_cov=True)``, ``Model.predict_f_samples``), the covariance's diagonal
against the marginal variances, and seeded samples against the returned mean and covariance."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import classification_data, regression_data

import svgp


@pytest.fixture(scope="module")
def one_output() -> svgp.SVGPRegressor:
    """A regressor fitted to one seeded target."""
    X, y = regression_data(150, seed=11)
    return svgp.SVGPRegressor(num_inducing=15, max_iter=60, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def two_outputs() -> svgp.SVGPRegressor:
    """A regressor fitted to two seeded targets on different scales."""
    X, y = regression_data(150, seed=12)
    Y = np.column_stack([y, 10.0 * y + X[:, 1]])
    return svgp.SVGPRegressor(num_inducing=15, max_iter=60, random_state=0).fit(X, Y)


def test_shapes_follow_scikit_learn(
    one_output: svgp.SVGPRegressor, two_outputs: svgp.SVGPRegressor
) -> None:
    """predict(return_cov) gives (N, N) or (N, N, P); sample_y (N, S) or (N, P, S)."""
    X, _ = regression_data(7, seed=13)
    mean, cov = one_output.predict(X, return_cov=True)
    assert mean.shape == (7,) and cov.shape == (7, 7)
    assert one_output.sample_y(X, n_samples=4).shape == (7, 4)
    assert one_output.sample_y(X).shape == (7, 1)
    mean, cov = two_outputs.predict(X, return_cov=True)
    assert mean.shape == (7, 2) and cov.shape == (7, 7, 2)
    assert two_outputs.sample_y(X, n_samples=3).shape == (7, 2, 3)


def test_model_shapes_follow_gpflow() -> None:
    """Model.predict_f(full_cov=True): means (N, L) and covariances (L, N, N);
    predict_f_samples: (S, N, L), for one latent and for the two of "heteroscedastic"."""
    X, y = regression_data(120, seed=14)
    for likelihood, latents in [("gaussian", 1), ("heteroscedastic", 2)]:
        model = svgp.Model(likelihood=likelihood, num_inducing=10, max_iter=30).fit(X, y)
        mean, cov = model.predict_f(X[:9], full_cov=True)
        assert mean.shape == (9, latents) and cov.shape == (latents, 9, 9)
        assert model.predict_f_samples(X[:9], num_samples=5, seed=1).shape == (5, 9, latents)


def test_covariance_diagonals_are_the_marginal_variances(
    one_output: svgp.SVGPRegressor, two_outputs: svgp.SVGPRegressor
) -> None:
    """The covariance of y has return_std² on its diagonal (1e-9 relative: the same marginals
    by two formulas, both accurate to about 1e-12 of the prior variance), and Model's full
    covariance of f has predict_f's variances on its."""
    X, _ = regression_data(40, seed=15)
    for est in (one_output, two_outputs):
        _, cov = est.predict(X, return_cov=True)
        _, std = est.predict(X, return_std=True)
        diag = np.diagonal(cov).T if cov.ndim == 3 else np.diagonal(cov)
        np.testing.assert_allclose(diag, std**2, rtol=1e-9)
    model = svgp.Model(num_inducing=10, max_iter=30).fit(*regression_data(100, seed=16))
    _, var = model.predict_f(X)
    _, cov = model.predict_f(X, full_cov=True)
    np.testing.assert_allclose(np.diagonal(cov[0]), var, rtol=1e-9)


def _check_moments(samples: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> None:
    """Sample mean and covariance of ``samples`` (N, S) within 4 Monte Carlo standard errors
    of ``mean`` and ``cov``: √(Σᵢᵢ/S) for a mean, √((ΣᵢᵢΣⱼⱼ + Σᵢⱼ²)/S) for a covariance entry."""
    s = samples.shape[1]
    d = np.diagonal(cov)
    assert np.all(np.abs(samples.mean(axis=1) - mean) < 4.0 * np.sqrt(d / s))
    se = np.sqrt((np.outer(d, d) + cov**2) / s)
    assert np.all(np.abs(np.cov(samples) - cov) < 4.0 * se)


def test_samples_have_the_returned_mean_and_covariance(
    one_output: svgp.SVGPRegressor, two_outputs: svgp.SVGPRegressor
) -> None:
    """10⁴ seeded samples of y at 5 close points, per output, and of f from Model."""
    X = np.column_stack([np.linspace(-0.5, 0.5, 5), np.linspace(0.2, -0.2, 5)])
    mean, cov = one_output.predict(X, return_cov=True)
    _check_moments(one_output.sample_y(X, n_samples=10_000, random_state=3), mean, cov)
    mean, cov = two_outputs.predict(X, return_cov=True)
    samples = two_outputs.sample_y(X, n_samples=10_000, random_state=4)
    for p in range(2):
        _check_moments(samples[:, p, :], mean[:, p], cov[:, :, p])
    model = svgp.Model(num_inducing=10, max_iter=30).fit(*regression_data(100, seed=17))
    mean_f, cov_f = model.predict_f(X, full_cov=True)
    draws = model.predict_f_samples(X, num_samples=10_000, seed=5)
    _check_moments(draws[:, :, 0].T, mean_f[:, 0], cov_f[0])


def test_random_state_fixes_the_samples(one_output: svgp.SVGPRegressor) -> None:
    """An int random_state (or seed) gives the same samples; another one other samples."""
    X, _ = regression_data(6, seed=18)
    first = one_output.sample_y(X, n_samples=3, random_state=7)
    np.testing.assert_array_equal(first, one_output.sample_y(X, n_samples=3, random_state=7))
    assert np.abs(first - one_output.sample_y(X, n_samples=3, random_state=8)).max() > 1e-3
    rs = np.random.RandomState(0)
    assert one_output.sample_y(X, n_samples=2, random_state=rs).shape == (6, 2)


def test_bad_requests_name_the_argument(one_output: svgp.SVGPRegressor) -> None:
    """Both return_std and return_cov (RuntimeError, as scikit-learn), a bad sample count,
    and y's covariance or samples of a non-Gaussian model are refused naming the argument."""
    X, _ = regression_data(5, seed=19)
    with pytest.raises(RuntimeError, match="return_std or return_cov"):
        one_output.predict(X, return_std=True, return_cov=True)
    with pytest.raises(ValueError, match="n_samples = 0"):
        one_output.sample_y(X, n_samples=0)
    with pytest.raises(TypeError, match="n_samples"):
        one_output.sample_y(X, n_samples=2.5)  # type: ignore[arg-type]
    student = svgp.SVGPRegressor(likelihood="student_t", num_inducing=8, max_iter=10)
    student.fit(*regression_data(60, seed=20))
    with pytest.raises(ValueError, match="return_cov needs likelihood='gaussian'"):
        student.predict(X, return_cov=True)
    with pytest.raises(ValueError, match="sample_y needs likelihood='gaussian'"):
        student.sample_y(X)
    model = svgp.Model(likelihood="bernoulli", num_inducing=8, max_iter=10)
    model.fit(*classification_data(60, seed=21))
    with pytest.raises(ValueError, match="num_samples = -1"):
        model.predict_f_samples(X, num_samples=-1)
    assert model.predict_f_samples(X, num_samples=2, seed=1).shape == (2, 5, 1)
