"""One settings schema: the command line and Python accept and refuse the same names for each
named setting (the library's ``FromStr``), the parameters are declared once and shared by every
front door, and scikit-learn reads them from the generated signatures."""

from __future__ import annotations

import inspect
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import classification_data

import svgp
import svgp.distributed
from svgp import _svgp

#: Names no setting takes: another case, a near miss, an empty name, a list.
REFUSED = {
    "likelihood": ["Gaussian", "gauss", "student t", "", "gaussian,poisson"],
    "kernel": ["SE", "matern", "cosine", "", "se "],
    "parametrisation": ["Natural", "theta", "mean_sqrt", ""],
}


def probes() -> list[object]:
    """(setting, name) for every accepted name of each setting and a few refused ones."""
    out: list[object] = []
    for setting, refused in REFUSED.items():
        for name in [*_svgp.SETTING_NAMES[setting], *refused]:
            out.append(pytest.param(setting, name, id=f"{setting}={name!r}"))
    return out


@pytest.fixture(scope="module")
def labels_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """24 seeded rows with 0/1 targets, which every likelihood takes (a Bernoulli label, two
    classes, a count, a real number)."""
    X, y = classification_data(n=24, seed=5)
    path = tmp_path_factory.mktemp("settings") / "labels.csv"
    lines = ["x1,x2,y"] + [",".join(repr(float(v)) for v in (a, b, t)) for (a, b), t in zip(X, y)]
    path.write_text("\n".join(lines) + "\n")
    return path, X, y


def cli_accepts(cli: Path, data: Path, setting: str, name: str) -> bool:
    """Whether ``svgp fit --<setting> <name>`` fits; a refusal must name the flag."""
    args = ["fit", "--data", str(data), f"--{setting}", name, "--iterations", "2"]
    args += ["--inducing", "4", "--test-fraction", "0", "--quiet"]
    done = subprocess.run([str(cli), *args], check=False, capture_output=True, text=True)
    if done.returncode != 0:
        assert f"--{setting}" in done.stderr, done.stderr
    return done.returncode == 0


def python_accepts(X: np.ndarray, y: np.ndarray, setting: str, name: str) -> bool:
    """Whether ``svgp.Model(<setting>=<name>)`` fits; a refusal must name the parameter."""
    try:
        svgp.Model(**{setting: name}, num_inducing=4, max_iter=2).fit(X, y)  # type: ignore[arg-type]
    except ValueError as e:
        assert setting in str(e), str(e)
        return False
    return True


@pytest.mark.parametrize("setting,name", probes())
def test_the_command_line_and_python_accept_and_refuse_the_same_names(
    cli: Path,
    labels_csv: tuple[Path, np.ndarray, np.ndarray],
    setting: str,
    name: str,
) -> None:
    data, X, y = labels_csv
    expected = name in _svgp.SETTING_NAMES[setting]
    assert python_accepts(X, y, setting, name) == expected
    assert cli_accepts(cli, data, setting, name) == expected


def test_every_front_door_takes_the_same_parameters() -> None:
    shared = set(svgp.Model._settings) - {"likelihood"}
    for cls in (svgp.SVGPRegressor, svgp.SVGPClassifier):
        assert set(cls._settings) - {"likelihood"} == shared
        assert set(cls().get_params()) == set(cls._settings)
    distributed = set(inspect.signature(svgp.distributed.fit).parameters)
    assert shared - {"verbose"} <= distributed and "verbose" not in distributed


def test_defaults_are_the_libraries_and_the_docstrings_list_every_parameter() -> None:
    model = svgp.Model()
    assert (model.num_inducing, model.batch_size, model.max_iter) == (50, 256, 1000)
    assert (model.kernel, model.parametrisation, model.adam_lr) == ("se", "natural", 0.01)
    assert svgp.SVGPClassifier().likelihood == "auto"
    for doc in (svgp.Model.__doc__, svgp.SVGPRegressor.__doc__, svgp.distributed.fit.__doc__):
        assert doc is not None and "{parameters}" not in doc
        assert 'kernel : {"se", "matern12", "matern32", "matern52", "rbf"}, default="se"' in doc
        assert "num_inducing : int, default=50" in doc


def test_parameters_are_keyword_only_and_unknown_ones_are_refused() -> None:
    with pytest.raises(TypeError, match="positional"):
        svgp.SVGPRegressor(20)  # type: ignore[misc]
    with pytest.raises(TypeError, match="'inducing'"):
        svgp.Model(inducing=20)  # type: ignore[call-arg]
