"""Prediction throughput: svgp's predict_y (the library, through the Python package) and
`svgp predict` (the command line, CSV in and out) against GPflow's compiled predict_f, on the
same sizes: N* = 10⁶ points, M = 500 inducing inputs, D = 8, SE-ARD, Gaussian likelihood,
full-covariance whitened q. Parameter values do not change the work, so each library gets its
own random model of these sizes.

    /tmp/peersvenv/bin/pip install ./python      # once: the svgp package into the peers' venv
    /tmp/peersvenv/bin/python benches/peers/predict_throughput.py [--n 1000000] [--repeats 3]

GPflow predicts in chunks of `--gpflow-chunk` rows (10⁵: 400 MB of Kuf each; the whole 10⁶ at
once needs 4 GB per M×N* tensor); svgp chunks internally. Prints the median seconds and rows/s
of each, and the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def gpflow_seconds(X: np.ndarray, m: int, chunk: int, repeats: int) -> float:
    import gpflow
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(2)
    rng = np.random.default_rng(1)
    d = X.shape[1]
    kernel = gpflow.kernels.SquaredExponential(lengthscales=np.ones(d))
    q_sqrt = np.tril(0.1 * rng.standard_normal((m, m))) + np.eye(m)
    model = gpflow.models.SVGP(
        kernel,
        gpflow.likelihoods.Gaussian(),
        inducing_variable=rng.uniform(-2, 2, size=(m, d)),
        q_mu=rng.standard_normal((m, 1)),
        q_sqrt=q_sqrt[None],
        whiten=True,
    )
    predict = tf.function(lambda x: model.predict_y(x))
    predict(tf.constant(X[:chunk]))  # trace and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(0, X.shape[0], chunk):
            mean, var = predict(tf.constant(X[i : i + chunk]))
            mean.numpy(), var.numpy()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def svgp_model(m: int, d: int):
    import svgp

    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, size=(5 * m, d))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(5 * m)
    return svgp.Model(num_inducing=m, max_iter=5, batch_size=256).fit(X, y)


def svgp_seconds(model, X: np.ndarray, repeats: int) -> float:
    model.predict_y(X[:1000])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_y(X)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cli_seconds(model, X: np.ndarray, cli: Path, repeats: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path, data = Path(tmp) / "model.json", Path(tmp) / "data.csv"
        model.save(path)
        header = ",".join(f"x{j + 1}" for j in range(X.shape[1]))
        np.savetxt(data, X, delimiter=",", header=header, comments="", fmt="%.17g")
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(
                [
                    str(cli),
                    "predict",
                    "--model",
                    str(path),
                    "--data",
                    str(data),
                    "--output",
                    os.devnull,
                ],
                check=True,
            )
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--m", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gpflow-chunk", type=int, default=100_000)
    parser.add_argument("--cli", type=Path, default=ROOT / "target" / "release" / "svgp")
    args = parser.parse_args()
    X = np.random.default_rng(0).uniform(-2, 2, size=(args.n, 8))
    model = svgp_model(args.m, 8)
    s_lib = svgp_seconds(model, X, args.repeats)
    s_cli = cli_seconds(model, X, args.cli, args.repeats)
    s_gpflow = gpflow_seconds(X, args.m, args.gpflow_chunk, args.repeats)
    print(f"N* = {args.n}, M = {args.m}, D = 8, median of {args.repeats}")
    print("| predictor | seconds | rows / s | GPflow / it |")
    print("|---|---|---|---|")
    for name, s in (
        ("svgp library (predict_y)", s_lib),
        ("svgp predict (CLI, CSV in and out)", s_cli),
        ("GPflow 2 predict_y (tf.function)", s_gpflow),
    ):
        print(f"| {name} | {s:.2f} | {args.n / s:,.0f} | {s_gpflow / s:.2f} |")


if __name__ == "__main__":
    main()
