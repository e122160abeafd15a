"""Shared fixtures: the repository root, the command-line binary, small seeded data sets."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _cli() -> Path:
    """The ``svgp`` binary: $SVGP_CLI, else a built one in target/, else built now."""
    if "SVGP_CLI" in os.environ:
        return Path(os.environ["SVGP_CLI"])
    for profile in ("release", "debug"):
        candidate = ROOT / "target" / profile / "svgp"
        if candidate.exists():
            return candidate
    cargo = shutil.which("cargo")
    assert cargo is not None, "the CLI tests need the svgp binary: set SVGP_CLI or install cargo"
    subprocess.run([cargo, "build", "-p", "svgp-cli"], cwd=ROOT, check=True)
    return ROOT / "target" / "debug" / "svgp"


@pytest.fixture(scope="session")
def cli() -> Path:
    """Path of the command line's binary."""
    return _cli()


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT


def regression_data(n: int = 200, d: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth function of d inputs plus noise, seeded."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, d))
    y = np.sin(X[:, 0]) + 0.5 * np.cos(X[:, -1]) + 0.1 * rng.standard_normal(n)
    return X, y


def classification_data(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two classes separated by a circle in 2-D, labels 0/1, seeded."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    y = (X[:, 0] ** 2 + X[:, 1] ** 2 < 1.5).astype(np.float64)
    return X, y
