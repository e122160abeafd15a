"""The same seed gives the Rust library's numbers (through the command line, which fits with
the library's `tabular::fit`), and model files go CLI → Python → CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import classification_data, regression_data

import svgp


def write_csv(path: Path, X: np.ndarray, y: np.ndarray) -> None:
    """x1..xD and y, every float written to round-trip exactly."""
    header = ",".join([f"x{j}" for j in range(1, X.shape[1] + 1)] + ["y"])
    lines = [header] + [",".join(repr(float(v)) for v in (*row, t)) for row, t in zip(X, y)]
    path.write_text("\n".join(lines) + "\n")


def cli_fit(cli: Path, data: Path, out: Path, *args: str) -> None:
    subprocess.run(
        [
            str(cli),
            "fit",
            "--data",
            str(data),
            "--output",
            str(out),
            "--test-fraction",
            "0",
            "--quiet",
            *args,
        ],
        check=True,
        capture_output=True,
    )


def cli_predict(cli: Path, model: Path, data: Path) -> np.ndarray:
    """The CLI's predictions as an (N, 2) array."""
    done = subprocess.run(
        [str(cli), "predict", "--model", str(model), "--data", str(data)],
        check=True,
        capture_output=True,
        text=True,
    )
    rows = [line.split(",") for line in done.stdout.strip().splitlines()[1:]]
    return np.array([[float(a), float(b)] for a, b in rows])


@pytest.mark.parametrize(
    "likelihood,parametrisation", [("gaussian", "natural"), ("student_t", "expectation")]
)
def test_same_seed_same_numbers_as_the_rust_library(
    cli: Path, tmp_path: Path, likelihood: str, parametrisation: str
) -> None:
    X, y = regression_data(n=120, d=2, seed=4)
    data = tmp_path / "train.csv"
    write_csv(data, X, y)
    cli_fit(
        cli,
        data,
        tmp_path / "cli.json",
        "--likelihood",
        likelihood.replace("_", "-"),
        "--inducing",
        "12",
        "--batch-size",
        "32",
        "--iterations",
        "60",
        "--seed",
        "7",
        "--parametrisation",
        parametrisation,
    )
    est = svgp.SVGPRegressor(
        num_inducing=12,
        batch_size=32,
        max_iter=60,
        random_state=7,
        likelihood=likelihood,
        parametrisation=parametrisation,
    ).fit(X, y)
    from_cli = svgp.load(tmp_path / "cli.json")
    mean_py, var_py = (a[:, 0] for a in est._model.predict_y(X))
    mean_cli, var_cli = from_cli.predict_y(X)
    np.testing.assert_allclose(mean_py, mean_cli, rtol=0, atol=1e-12)
    np.testing.assert_allclose(var_py, var_cli, rtol=0, atol=1e-12)
    np.testing.assert_allclose(est.inducing_points_, from_cli.inducing_points, rtol=0, atol=1e-12)


def test_cli_model_predicts_in_python_and_python_model_in_the_cli(
    cli: Path, tmp_path: Path
) -> None:
    X, y = classification_data(n=150, seed=5)
    data = tmp_path / "train.csv"
    write_csv(data, X, y)
    cli_fit(
        cli,
        data,
        tmp_path / "cli.json",
        "--likelihood",
        "bernoulli",
        "--inducing",
        "10",
        "--iterations",
        "80",
    )
    from_cli = svgp.load(tmp_path / "cli.json")
    p_py, _ = from_cli.predict_y(X)
    np.testing.assert_allclose(
        p_py, cli_predict(cli, tmp_path / "cli.json", data)[:, 0], rtol=0, atol=1e-12
    )

    clf = svgp.SVGPClassifier(num_inducing=10, max_iter=80).fit(X, y)
    clf.save(str(tmp_path / "py.json"))
    p_cli = cli_predict(cli, tmp_path / "py.json", data)[:, 0]
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], p_cli, rtol=0, atol=1e-12)
    # Same data, settings and seed: the CLI's model and the Python one are the same model.
    np.testing.assert_allclose(p_py, p_cli, rtol=0, atol=1e-12)


def test_a_loaded_model_saves_the_same_file(cli: Path, tmp_path: Path) -> None:
    X, y = regression_data(n=80, d=1, seed=6)
    data = tmp_path / "train.csv"
    write_csv(data, X, y)
    cli_fit(cli, data, tmp_path / "cli.json", "--inducing", "8", "--iterations", "20")
    svgp.load(tmp_path / "cli.json").save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == (tmp_path / "cli.json").read_text()
