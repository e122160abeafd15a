"""C-class classification (robust-max or softmax, one latent GP per class) and heteroscedastic
regression from Python: the same numbers as the command line for the same seed, model files
both ways with the class labels, and fits that learn."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import regression_data
from sklearn.datasets import load_wine
from test_cli_roundtrip import cli_fit

import svgp


def three_classes(n: int = 150, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian blobs in 2-D with string labels, seeded."""
    rng = np.random.default_rng(seed)
    centres = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])
    k = rng.integers(0, 3, size=n)
    X = centres[k] + 0.8 * rng.standard_normal((n, 2))
    return X, np.array(["adelie", "chinstrap", "gentoo"])[k]


def write_labelled_csv(path: Path, X: np.ndarray, labels: np.ndarray) -> None:
    """x1..xD and a text label column, every float written to round-trip exactly."""
    header = ",".join([f"x{j}" for j in range(1, X.shape[1] + 1)] + ["species"])
    rows = [",".join([*(repr(float(v)) for v in row), str(t)]) for row, t in zip(X, labels)]
    path.write_text("\n".join([header, *rows]) + "\n")


def cli_class_probabilities(cli: Path, model: Path, data: Path) -> tuple[list[str], np.ndarray]:
    """The CLI's per-class probability columns (headed by label) of ``svgp predict``."""
    done = subprocess.run(
        [str(cli), "predict", "--model", str(model), "--data", str(data)],
        check=True,
        capture_output=True,
        text=True,
    )
    lines = done.stdout.strip().splitlines()
    header = lines[0].split(",")[:-1]
    values = np.array([[float(v) for v in line.split(",")[:-1]] for line in lines[1:]])
    return header, values


def test_wine_three_classes_learn() -> None:
    X, y = load_wine(return_X_y=True)
    clf = svgp.SVGPClassifier(num_inducing=20, max_iter=300, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(y), 3)
    # Each class's probability is its own 20-point Gauss–Hermite sum, so the rows add to 1 up
    # to quadrature error (measured ≤ 8e-12 here).
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-9)
    # Three well-separated cultivars: a GP classifier fits the training set almost exactly.
    assert clf.score(X, y) > 0.95
    assert list(clf.classes_) == [0, 1, 2]


def test_bernoulli_refuses_three_classes() -> None:
    X, y = three_classes(n=60)
    with pytest.raises(ValueError, match="'bernoulli' takes 2 classes; y has 3"):
        svgp.SVGPClassifier(likelihood="bernoulli", max_iter=5).fit(X, y)


@pytest.mark.parametrize("likelihood", ["robustmax", "softmax"])
def test_same_seed_same_class_probabilities_as_the_cli(
    cli: Path, tmp_path: Path, likelihood: str
) -> None:
    X, labels = three_classes(n=120, seed=3)
    data = tmp_path / "train.csv"
    write_labelled_csv(data, X, labels)
    cli_fit(
        cli,
        data,
        tmp_path / "cli.json",
        "--target",
        "species",
        "--likelihood",
        likelihood,
        "--inducing",
        "10",
        "--batch-size",
        "32",
        "--iterations",
        "40",
        "--seed",
        "5",
    )
    clf = svgp.SVGPClassifier(
        num_inducing=10, batch_size=32, max_iter=40, random_state=5, likelihood=likelihood
    ).fit(X, labels)
    header, p_cli = cli_class_probabilities(cli, tmp_path / "cli.json", data)
    assert header == ["adelie", "chinstrap", "gentoo"]
    # The same library code on the same data and seed: equal to rounding of the CSV text.
    np.testing.assert_allclose(clf.predict_proba(X), p_cli, rtol=0, atol=1e-12)

    clf.save(str(tmp_path / "py.json"))
    header, p_back = cli_class_probabilities(cli, tmp_path / "py.json", data)
    assert header == ["adelie", "chinstrap", "gentoo"]
    np.testing.assert_allclose(clf.predict_proba(X), p_back, rtol=0, atol=1e-12)
    loaded = svgp.load(tmp_path / "cli.json")
    assert loaded.fitted.classes == ["adelie", "chinstrap", "gentoo"]
    np.testing.assert_allclose(loaded.predict_proba(X), p_cli, rtol=0, atol=1e-12)


def test_model_softmax_predicts_class_probabilities() -> None:
    X, labels = three_classes(n=90, seed=1)
    y = np.unique(labels, return_inverse=True)[1].astype(np.float64)
    model = svgp.Model(likelihood="softmax", num_inducing=10, max_iter=60).fit(X, y)
    mean, var = model.predict_f(X)
    assert mean.shape == (90, 3) and var.shape == (90, 3) and (var > 0).all()
    p, _ = model.predict_y(X)
    np.testing.assert_allclose(p, model.predict_proba(X), rtol=0, atol=0)
    assert (p.argmax(axis=1) == y).mean() > 0.9


def test_multiclass_plots(tmp_path: Path) -> None:
    X, labels = three_classes(n=60, seed=2)
    clf = svgp.SVGPClassifier(num_inducing=8, max_iter=20).fit(X, labels)
    assert clf.plot_fit(str(tmp_path / "map.png"), X, labels) == "class_map_2d"
    X3 = np.column_stack([X, X[:, 0] * X[:, 1]])
    clf3 = svgp.SVGPClassifier(num_inducing=8, max_iter=20).fit(X3, labels)
    assert clf3.plot_fit(str(tmp_path / "confusion.svg"), X3, labels) == "confusion"
    assert (tmp_path / "map.png").stat().st_size > 0
    assert (tmp_path / "confusion.svg").read_text().startswith("<svg")
    with pytest.raises(ValueError, match="one of classes_"):
        clf.plot_fit(str(tmp_path / "bad.png"), X, np.array(["dog"] * 60))


def test_heteroscedastic_regression_beats_constant_noise(tmp_path: Path) -> None:
    # Noise standard deviation grows from 0.05 to 1 along x: a constant noise variance must
    # overstate it on the left and understate it on the right.
    rng = np.random.default_rng(11)
    x = np.sort(rng.uniform(0, 1, 400))
    y = np.sin(6 * x) + (0.05 + 0.95 * x) * rng.standard_normal(400)
    X = x[:, None]
    settings: dict[str, Any] = {
        "num_inducing": 20,
        "max_iter": 600,
        "batch_size": 400,
        "random_state": 0,
    }
    het = svgp.SVGPRegressor(likelihood="heteroscedastic", **settings).fit(X, y)
    homo = svgp.SVGPRegressor(**settings).fit(X, y)
    _, std = het.predict(np.array([[0.05], [0.95]]), return_std=True)
    assert std[1] > 4 * std[0]  # measured 0.97 against 0.11
    # Mean log density per point: a clear margin (measured 0.36 nats, asserted 0.1).
    assert het.log_density(X, y).mean() > homo.log_density(X, y).mean() + 0.1
    assert het.plot_fit(str(tmp_path / "fit.png"), X, y) == "heteroscedastic_1d"


def test_regressor_heteroscedastic_latents() -> None:
    X, y = regression_data(n=80, d=1, seed=9)
    model = svgp.Model(likelihood="heteroscedastic", num_inducing=10, max_iter=30).fit(X, y)
    mean, var = model.predict_f(X)
    assert mean.shape == (80, 2)
    m_y, v_y = model.predict_y(X)
    assert m_y.shape == (80,) and (v_y > var[:, 0]).all()
