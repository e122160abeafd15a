"""Fit time from Python against the Rust library (through the `svgp` binary) on kin40k:
M = 100, B = 256, 1000 iterations, the same seed and settings, runs alternated.

    python python/benches/kin40k_fit_time.py [--cli target/release/svgp] [--repeats 3]

Prints each run's training-loop time (the library's `train_seconds`, the same clock on both
sides) and the whole fit's wall time (Python: `fit` on arrays already in memory; the binary: the
process, CSV parsing included), then the median ratios Python / Rust.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

import svgp

ROOT = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, Any] = {
    "num_inducing": 100,
    "batch_size": 256,
    "max_iter": 1000,
    "random_state": 0,
}


def rust_run(cli: Path, data: Path) -> tuple[float, float]:
    """(train_seconds, wall seconds) of one `svgp fit`."""
    start = time.perf_counter()
    done = subprocess.run(
        [
            str(cli),
            "fit",
            "--data",
            str(data),
            "--inducing",
            "100",
            "--batch-size",
            "256",
            "--iterations",
            "1000",
            "--seed",
            "0",
            "--test-fraction",
            "0",
            "--json",
            "--quiet",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    return float(json.loads(done.stdout)["train_seconds"]), wall


def python_run(X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(train_seconds, wall seconds) of one `SVGPRegressor.fit`."""
    start = time.perf_counter()
    est = svgp.SVGPRegressor(**SETTINGS).fit(X, y)
    wall = time.perf_counter() - start
    return float(est._model.train_seconds), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", type=Path, default=ROOT / "target" / "release" / "svgp")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = ROOT / "datasets" / "kin40k.csv"
    table = np.loadtxt(data, delimiter=",", skiprows=1)
    X, y = np.ascontiguousarray(table[:, :-1]), np.ascontiguousarray(table[:, -1])
    rust: list[tuple[float, float]] = []
    python: list[tuple[float, float]] = []
    for run in range(args.repeats):
        rust.append(rust_run(args.cli, data))
        python.append(python_run(X, y))
        print(
            f"run {run + 1}: rust train {rust[-1][0]:.3f} s (wall {rust[-1][1]:.3f} s), "
            f"python train {python[-1][0]:.3f} s (wall {python[-1][1]:.3f} s)",
            flush=True,
        )
    for i, what in enumerate(("training loop", "whole fit")):
        r = statistics.median([x[i] for x in rust])
        p = statistics.median([x[i] for x in python])
        print(f"{what}: median rust {r:.3f} s, python {p:.3f} s, ratio python/rust {p / r:.3f}")


if __name__ == "__main__":
    main()
