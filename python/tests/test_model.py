"""svgp.Model: callbacks, predictions, the ELBO, plots, pickling and model files."""

from __future__ import annotations

import pickle
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import classification_data, regression_data
from sklearn.base import clone

import svgp


def test_callback_sees_every_iteration_and_can_stop() -> None:
    X, y = regression_data(n=100, d=2, seed=11)
    seen: list[tuple[int, float, object, int]] = []
    model = svgp.Model(num_inducing=10, max_iter=30, batch_size=32)
    model.fit(
        X, y, callback=lambda t, elbo, gamma, halvings: seen.append((t, elbo, gamma, halvings))
    )
    assert [s[0] for s in seen] == list(range(1, 31))
    np.testing.assert_array_equal([s[1] for s in seen], model.elbo_history)
    assert all(g is None or g > 0 for _, _, g, _ in seen)
    stopped = svgp.Model(num_inducing=10, max_iter=100).fit(X, y, callback=lambda t, *_: t < 5)
    assert stopped.n_iter == 5 and stopped.stop_reason == "interrupted"


def test_a_callback_exception_stops_training_and_keeps_the_model() -> None:
    X, y = regression_data(n=100, d=2, seed=12)

    def fail(t: int, *_: object) -> None:
        if t == 7:
            raise RuntimeError("enough")

    model = svgp.Model(num_inducing=10, max_iter=100)
    with pytest.raises(RuntimeError, match="enough"):
        model.fit(X, y, callback=fail)
    assert model.n_iter == 7
    assert np.isfinite(model.predict_y(X)[0]).all()


def test_predictions_log_density_and_elbo_are_consistent() -> None:
    X, y = regression_data(n=150, d=1, seed=13)
    model = svgp.Model(num_inducing=15, max_iter=200, batch_size=150).fit(X, y)
    f_mean, f_var = model.predict_f(X)
    y_mean, y_var = model.predict_y(X)
    np.testing.assert_allclose(f_mean, y_mean)
    noise = model.hyperparameters["noise_variance"]
    np.testing.assert_allclose(y_var, f_var + noise, rtol=1e-10)
    lpd = model.predict_log_density(X, y)
    expected = -0.5 * np.log(2 * np.pi * y_var) - 0.5 * (y - y_mean) ** 2 / y_var
    np.testing.assert_allclose(lpd, expected, rtol=1e-8, atol=1e-10)
    assert model.elbo(X, y) < lpd.sum()
    assert np.sqrt(np.mean((y - y_mean) ** 2)) < 0.2
    assert model.inducing_points.shape == (15, 1)


def test_classifier_model_probabilities() -> None:
    X, y = classification_data(n=200, seed=14)
    model = svgp.Model(likelihood="bernoulli", num_inducing=15, max_iter=200).fit(X, y)
    p, _ = model.predict_y(X)
    assert ((p > 0.5) == (y == 1)).mean() > 0.85


def test_plots_are_written(tmp_path: Path) -> None:
    X, y = regression_data(n=60, d=1, seed=15)
    model = svgp.Model(num_inducing=6, max_iter=20).fit(X, y)
    model.plot_elbo(tmp_path / "elbo.png")
    assert model.plot_fit(tmp_path / "fit.svg", X, y) == "fit_1d"
    assert (tmp_path / "elbo.png").stat().st_size > 1000
    assert (tmp_path / "fit.svg").read_text().startswith("<svg")
    Xc, yc = classification_data(n=60, seed=16)
    clf = svgp.SVGPClassifier(num_inducing=6, max_iter=20).fit(Xc, yc)
    assert clf.plot_fit(str(tmp_path / "map.png"), Xc, yc) == "classification_2d"


def test_pickle_keeps_predictions_and_histories() -> None:
    X, y = regression_data(n=80, d=2, seed=17)
    model = svgp.Model(num_inducing=8, max_iter=25).fit(X, y)
    back = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(back.predict_y(X)[0], model.predict_y(X)[0])
    reg = svgp.SVGPRegressor(num_inducing=8, max_iter=25).fit(X, y)
    reg_back = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(reg_back.predict(X), reg.predict(X))
    np.testing.assert_array_equal(reg_back.elbo_history_, reg.elbo_history_)
    Xc, yc = classification_data(n=90, seed=18)
    yc = np.where(yc == 1, "in", np.where(Xc[:, 0] > 0, "right", "left"))
    clf = svgp.SVGPClassifier(num_inducing=8, max_iter=25).fit(Xc, yc)
    assert list(clf.classes_) == ["in", "left", "right"]
    clf_back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf_back.predict_proba(Xc), clf.predict_proba(Xc))
    assert clone(clf).get_params() == clf.get_params()


def test_a_corrupt_model_file_raises_model_file_error(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"format": "svgp-model", "format_version": 99}')
    with pytest.raises(svgp.ModelFileError, match="format version 99"):
        svgp.load(tmp_path / "bad.json")
    with pytest.raises(OSError):
        svgp.load(tmp_path / "missing.json")


def test_verbose_draws_progress(capfd: pytest.CaptureFixture[str]) -> None:
    X, y = regression_data(n=50, d=1, seed=19)
    svgp.SVGPRegressor(num_inducing=5, max_iter=10, verbose=True).fit(X, y)
    err = capfd.readouterr().err
    assert "iteration 10/10" in err and "ELBO" in err


def test_breast_cancer_one_liner() -> None:
    import sklearn.datasets as d

    X, y = d.load_breast_cancer(return_X_y=True)
    assert svgp.SVGPClassifier().fit(X, y).score(X, y) > 0.95


def test_training_releases_the_gil() -> None:
    """Another Python thread keeps running while a fit trains (it could not if the fit held
    the GIL: the observer takes it back only briefly, every 50 ms)."""
    X, y = regression_data(n=2000, d=3, seed=20)
    done = threading.Event()

    def train() -> None:
        svgp.Model(num_inducing=40, max_iter=400, batch_size=256).fit(X, y)
        done.set()

    worker = threading.Thread(target=train)
    ticks = 0
    started = time.monotonic()
    worker.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    worker.join()
    elapsed = time.monotonic() - started
    # With the GIL held for the whole fit this loop would barely run at all.
    assert ticks > 0.1 * elapsed / 0.001, (ticks, elapsed)
