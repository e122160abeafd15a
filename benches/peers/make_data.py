#!/usr/bin/env python3
# Copied from shared/peers/make_data.py (the project's peer baselines, GPflow 2.11.2 / GPyTorch 1.15.2); unchanged except this line and the output directory (/tmp, not the repository).
"""Deterministic synthetic data sets for the SVGP / natural-gradient peer baseline.

Writes, into /tmp/svgp-peers/data (or --out DIR):

    <name>_train.csv   header "x1,...,xD,y", one row per point, last column y
    <name>_test.csv    same layout, held-out points from the same generator
    MANIFEST.json      sizes, generator description and sha256 of every file

Data sets (train N / test N):
    reg_1d       2000 / 500    Snelson-like wiggly 1-D regression, Gaussian noise sd 0.3,
                               inputs in [0, 6] with a gap (2.6, 3.4) in the training set only
    reg_8d      20000 / 5000   smooth 8-D function of x ~ N(0, I_8), Gaussian noise sd 0.1
    clf_2d       5000 / 2000   two interleaved "banana" crescents, labels y in {0, 1}
    studentt_1d  2000 / 500    smooth 1-D function, Gaussian noise sd 0.1 plus 10% outliers
                               (|e| ~ U(1, 4), random sign); the test set has the same noise

Everything is float64 and printed with '%.17g', so the numbers round-trip exactly.
The rows are already in random order, so "the first M training inputs" is a random
subset (that is how the peer scripts initialise the inducing points).
Only numpy is needed; numpy.random.Generator(PCG64) streams are stable across numpy versions.
"""

import argparse
import hashlib
import json
import os

import numpy as np

SEED = 20240611


def f_reg_1d(x):
    return np.sin(3.0 * x) + 0.3 * np.cos(9.0 * x) + 0.5 * np.sin(0.7 * x)


def reg_1d(rng, n_train=2000, n_test=500, noise_sd=0.3):
    # training inputs avoid the gap (2.6, 3.4): Snelson-like "missing data" region
    xs = []
    while sum(len(a) for a in xs) < n_train:
        x = rng.uniform(0.0, 6.0, size=n_train)
        xs.append(x[(x <= 2.6) | (x >= 3.4)])
    xtr = np.concatenate(xs)[:n_train]
    xte = rng.uniform(0.0, 6.0, size=n_test)
    ytr = f_reg_1d(xtr) + noise_sd * rng.standard_normal(n_train)
    yte = f_reg_1d(xte) + noise_sd * rng.standard_normal(n_test)
    return xtr[:, None], ytr, xte[:, None], yte


def f_reg_8d(X):
    x1, x2, x3, x4, x5, x6, x7, x8 = X.T
    return (
        np.sin(2.0 * x1)
        + 0.6 * np.cos(1.5 * x2) * x3
        + 0.3 * (x4**2 - 1.0)
        + 0.5 * np.tanh(x5)
        + 0.2 * x6 * x7
        + 0.1 * x8
    )


def reg_8d(rng, n_train=20000, n_test=5000, noise_sd=0.1):
    n = n_train + n_test
    X = rng.standard_normal((n, 8))
    y = f_reg_8d(X) + noise_sd * rng.standard_normal(n)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def clf_2d(rng, n_train=5000, n_test=2000, noise_sd=0.25):
    n = n_train + n_test
    lab = rng.integers(0, 2, size=n)
    t = rng.uniform(0.0, np.pi, size=n)
    # class 0: upper crescent; class 1: lower crescent shifted right (two interleaved bananas)
    x1 = np.where(lab == 0, np.cos(t), 1.0 - np.cos(t))
    x2 = np.where(lab == 0, np.sin(t), 0.5 - np.sin(t))
    X = np.stack([x1, x2], axis=1) + noise_sd * rng.standard_normal((n, 2))
    # centre and scale to roughly unit range
    X = (X - np.array([0.5, 0.25])) * 1.5
    y = lab.astype(np.float64)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def f_studentt_1d(x):
    return np.sin(2.0 * x) + 0.3 * x


def studentt_1d(rng, n_train=2000, n_test=500, noise_sd=0.1, outlier_frac=0.1):
    n = n_train + n_test
    x = rng.uniform(-3.0, 3.0, size=n)
    e = noise_sd * rng.standard_normal(n)
    is_out = rng.uniform(size=n) < outlier_frac
    mag = rng.uniform(1.0, 4.0, size=n)
    sign = np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0)
    e = np.where(is_out, sign * mag, e)
    y = f_studentt_1d(x) + e
    return x[:n_train, None], y[:n_train], x[n_train:, None], y[n_train:]


DATASETS = {
    "reg_1d": (
        reg_1d,
        "Snelson-like 1-D regression, Gaussian noise sd 0.3, training gap (2.6,3.4)",
    ),
    "reg_8d": (reg_8d, "8-D smooth function of x~N(0,I), Gaussian noise sd 0.1"),
    "clf_2d": (clf_2d, "two interleaved banana crescents, noise sd 0.25, labels {0,1}"),
    "studentt_1d": (studentt_1d, "sin(2x)+0.3x, Gaussian noise sd 0.1 + 10% outliers |e|~U(1,4)"),
}


def write_csv(path, X, y):
    D = X.shape[1]
    header = ",".join([f"x{i + 1}" for i in range(D)] + ["y"])
    data = np.column_stack([X, y])
    np.savetxt(path, data, delimiter=",", header=header, comments="", fmt="%.17g")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        h.update(fh.read())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default="/tmp/svgp-peers/data")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    manifest = {
        "seed": args.seed,
        "numpy": np.__version__,
        "generator": "numpy.random.default_rng(seed + k), PCG64",
        "format": "CSV, header x1..xD,y, float '%.17g'",
        "datasets": {},
    }
    for k, (name, (fn, desc)) in enumerate(DATASETS.items()):
        rng = np.random.default_rng(args.seed + k)
        Xtr, ytr, Xte, yte = fn(rng)
        entry = {
            "description": desc,
            "D": int(Xtr.shape[1]),
            "n_train": len(ytr),
            "n_test": len(yte),
        }
        for split, X, y in (("train", Xtr, ytr), ("test", Xte, yte)):
            p = os.path.join(args.out, f"{name}_{split}.csv")
            write_csv(p, X, y)
            entry[f"{split}_file"] = os.path.basename(p)
            entry[f"{split}_sha256"] = sha256(p)
        entry["y_train_mean"] = float(ytr.mean())
        entry["y_train_std"] = float(ytr.std())
        manifest["datasets"][name] = entry
        print(f"{name}: D={entry['D']} train={entry['n_train']} test={entry['n_test']}  {desc}")
    with open(os.path.join(args.out, "MANIFEST.json"), "w") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")


if __name__ == "__main__":
    main()
