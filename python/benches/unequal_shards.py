"""Shards of unequal size train the objective of one process: the first 10 000 rows of kin40k
sorted by x1 and split 5 % / 95 %, against a 50 / 50 split of the same rows and one process on
all of them, M = 100, a global batch of 256 rows (or --batch-size), 1500 iterations, the same seed.

    python python/benches/unequal_shards.py [--iterations 1500] [--seeds 0 1 2] [--batch-size 256]

Prints, per seed, each run's full-data ELBO (every run's model scored on the same 10 000 rows
by ``Model.elbo``) and test RMSE on kin40k's rows 10 000 … 14 999, and the relative differences
of the 5 / 95 split's ELBO from the other two.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import svgp
from svgp import distributed

DATA = Path(__file__).resolve().parents[2] / "datasets" / "kin40k.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    table = np.loadtxt(DATA, delimiter=",", skiprows=1)
    X, y = table[:10_000, :-1], table[:10_000, -1]
    X_test, y_test = table[10_000:15_000, :-1], table[10_000:15_000, -1]
    order = np.argsort(X[:, 0])
    settings = {"num_inducing": 100, "batch_size": args.batch_size, "max_iter": args.iterations}
    print("| seed | run | full-data ELBO | test RMSE | 5/95 vs this |")
    print("|---|---|---|---|---|")
    for seed in args.seeds:
        runs: dict[str, svgp.Model] = {}
        for name, cut in (("5 / 95", 500), ("50 / 50", 5000)):
            parts = [(X[order[:cut]], y[order[:cut]]), (X[order[cut:]], y[order[cut:]])]
            runs[name] = distributed.fit(parts, backend="local", random_state=seed, **settings)
        runs["one process"] = svgp.Model(random_state=seed, **settings).fit(X, y)
        skewed = runs["5 / 95"].elbo(X, y)
        for name, model in runs.items():
            elbo = model.elbo(X, y)
            rmse = float(np.sqrt(np.mean((model.predict_y(X_test)[0] - y_test) ** 2)))
            diff = "-" if name == "5 / 95" else f"{(skewed - elbo) / abs(elbo):+.4%}"
            print(f"| {seed} | {name} | {elbo:.1f} | {rmse:.4f} | {diff} |")


if __name__ == "__main__":
    main()
