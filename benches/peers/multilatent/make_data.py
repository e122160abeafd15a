#!/usr/bin/env python3
"""Writes every fixed input of the multi-latent GPflow references into data/ (deterministic):

  <set>_train.csv, <set>_test.csv   header row, the features, the target last as `y`
                                    (classes: the integers 0..C-1; feature cells copied verbatim
                                    from the source CSV; synthetic values printed with %.17g)
  <set>_labels.csv                  classes only: `class,label` (integer -> the source's label string)
  <set>_{train,test}_labels.csv     classes only: the same rows with the label strings as the last column,
                                    named as in the source (`cultivar`, `species`)
  <set>_standardise.json            the z-score map fitted on the training rows (population sd,
                                    a constant column gets sd 1): x_mean, x_sd; regression also y_mean, y_sd
  <set>_Z_M<M>.csv                  inducing inputs, in standardised units: sklearn KMeans(M,
                                    random_state=0, n_init=1) on the standardised training inputs, %.17g
  batches/<set>_B<B>_seed0_it<T>.csv  the minibatch row indices (0-based into <set>_train.csv, one line
                                    per iteration; peers_common.batch_indices: numpy default_rng(0),
                                    one permutation per epoch cut into batches of exactly B, remainder dropped)
  MANIFEST.json                     sizes, source rows of every split, sha256 of every file

Sets:
  wine      datasets/wine_cultivars.csv, 13 numeric features, 3 classes (cultivar_1..3 -> 0..2)
  penguins  datasets/penguins.csv, numeric columns bill_length_mm, bill_depth_mm, flipper_length_mm,
            body_mass_g, year; the rows with NA in any of them (2) dropped (rows with NA only in `sex`
            kept); 3 classes (Adelie, Chinstrap, Gentoo -> 0..2)
  hetero1d  synthetic: x ~ U(-5, 5), y = sin(1.5 x) + 0.3 x + s(x) e, e ~ N(0, 1),
            s(x) = 0.1 * 10^((x + 5) / 10) (0.1 at x = -5 to 1.0 at x = 5: tenfold);
            rng = default_rng(20261131): x = rng.uniform(-5, 5, 1500), then e = rng.standard_normal(1500);
            the first 1000 are the training rows, the last 500 the test rows
Class splits: stratified, seed 20261130: for each class in label order, a permutation of its rows,
round(0.3 n_c) to test; then train and test each permuted once more (same generator, train first).

Run with the venv's python (needs numpy and scikit-learn):  python make_data.py
"""

import csv
import hashlib
import json
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np

import cases as cs

sys.path.insert(0, os.path.dirname(cs.HERE))  # benches/peers: the shared batch stream
import peers_common as pc

DATASETS = os.path.join(cs.REPO, "datasets")


def sha256(p):
    return hashlib.sha256(open(p, "rb").read()).hexdigest()


def read_table(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def stratified_split(y, rng):
    train, test = [], []
    for c in range(int(y.max()) + 1):
        idx = rng.permutation(np.flatnonzero(y == c))
        nt = round(cs.TEST_FRACTION * len(idx))
        test.extend(idx[:nt].tolist())
        train.extend(idx[nt:].tolist())
    return rng.permutation(np.array(train)), rng.permutation(np.array(test))


def write_rows(path, header, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def classification_set(name, path, target, features, manifest):
    header, rows = read_table(path)
    ti, fi = header.index(target), [header.index(f) for f in features]
    keep = [k for k, r in enumerate(rows) if not any(r[j].strip() in ("", "NA") for j in fi + [ti])]
    labels = sorted({rows[k][ti] for k in keep})
    y = np.array([labels.index(rows[k][ti]) for k in keep])
    rng = np.random.default_rng(cs.SPLIT_SEED)
    tr, te = stratified_split(y, rng)
    out = {
        "source": os.path.relpath(path, cs.REPO),
        "source_sha256": sha256(path),
        "target": target,
        "features": features,
        "labels": labels,
        "classes": len(labels),
        "source_rows_kept": len(keep),
        "source_rows_dropped": [k for k in range(len(rows)) if k not in set(keep)],
    }
    for split, sel in (("train", tr), ("test", te)):
        p = os.path.join(cs.DATA, f"{name}_{split}.csv")
        write_rows(p, features + ["y"], [[rows[keep[i]][j] for j in fi] + [str(y[i])] for i in sel])
        # the same rows with the source's label strings as the target (header: the source's target name)
        write_rows(
            os.path.join(cs.DATA, f"{name}_{split}_labels.csv"),
            features + [target],
            [[rows[keep[i]][j] for j in fi] + [rows[keep[i]][ti]] for i in sel],
        )
        out[f"n_{split}"] = len(sel)
        out[f"{split}_class_counts"] = np.bincount(y[sel], minlength=len(labels)).tolist()
        # 0-based data-row numbers (header not counted) in the source file, in the split's row order
        out[f"{split}_source_rows"] = [keep[i] for i in sel]
    write_rows(
        os.path.join(cs.DATA, f"{name}_labels.csv"),
        ["class", "label"],
        [[c, l] for c, l in enumerate(labels)],
    )
    manifest["sets"][name] = out


def hetero1d(manifest):
    rng = np.random.default_rng(cs.SYNTH_SEED)
    n_tr, n_te = 1000, 500
    x = rng.uniform(-5.0, 5.0, n_tr + n_te)
    e = rng.standard_normal(n_tr + n_te)
    s = 0.1 * 10.0 ** ((x + 5.0) / 10.0)
    y = np.sin(1.5 * x) + 0.3 * x + s * e
    for split, sl in (("train", slice(0, n_tr)), ("test", slice(n_tr, None))):
        p = os.path.join(cs.DATA, f"hetero1d_{split}.csv")
        np.savetxt(
            p,
            np.column_stack([x[sl], y[sl]]),
            delimiter=",",
            header="x1,y",
            comments="",
            fmt="%.17g",
        )
    manifest["sets"]["hetero1d"] = {
        "generator": "x ~ U(-5,5); y = sin(1.5x) + 0.3x + s(x) e, e ~ N(0,1), s(x) = 0.1*10^((x+5)/10)",
        "rng": f"numpy default_rng({cs.SYNTH_SEED}): x = uniform(-5,5,1500), then e = standard_normal(1500); "
        "first 1000 train, last 500 test",
        "n_train": n_tr,
        "n_test": n_te,
        "noise_sd_range": [0.1, 1.0],
    }


def load(name):
    def rd(split):
        return np.loadtxt(
            os.path.join(cs.DATA, f"{name}_{split}.csv"), delimiter=",", skiprows=1, ndmin=2
        )

    tr = rd("train")
    return tr[:, :-1], tr[:, -1]


def standardise(name, regression):
    X, y = load(name)
    m, s = X.mean(0), X.std(0)
    s = np.where(s > 1e-12 * np.maximum(1.0, np.abs(m)), s, 1.0)
    st = {
        "note": "z = (x - mean) / sd, fitted on the training rows, population sd (ddof 0), sd 1 for a constant column",
        "x_mean": m.tolist(),
        "x_sd": s.tolist(),
    }
    if regression:
        st.update(y_mean=float(y.mean()), y_sd=float(y.std()))
    with open(os.path.join(cs.DATA, f"{name}_standardise.json"), "w") as fh:
        json.dump(st, fh, indent=1)
        fh.write("\n")
    return (X - m) / s


WINE_FEATURES = [
    "alcohol",
    "malic_acid",
    "ash",
    "alcalinity_of_ash",
    "magnesium",
    "total_phenols",
    "flavanoids",
    "nonflavanoid_phenols",
    "proanthocyanins",
    "color_intensity",
    "hue",
    "od280_od315_of_diluted_wines",
    "proline",
]
PENGUIN_FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"]


def inducing_and_batches():
    """Writes each case's k-means inducing inputs (once per set and M) and minibatch indices."""
    from sklearn.cluster import KMeans

    done = set()
    for case in cs.CASES.values():
        d = case["data"]
        Xs = standardise(d, regression=case["lik"] in ("hetero", "gaussian"))
        if (d, case["M"]) not in done:
            done.add((d, case["M"]))
            Z = (
                KMeans(n_clusters=case["M"], random_state=cs.KMEANS_SEED, n_init=1)
                .fit(Xs)
                .cluster_centers_
            )
            with open(os.path.join(cs.DATA, f"{d}_train.csv")) as fh:
                header = fh.readline().strip().split(",")[:-1]
            np.savetxt(
                cs.z_file(d, case["M"]),
                Z,
                delimiter=",",
                fmt="%.17g",
                comments="",
                header=",".join(header),
            )
        if case["B"] is None:
            continue
        idx = pc.batch_indices(Xs.shape[0], case["B"], case["iters"], cs.BATCH_SEED)
        np.savetxt(cs.batches_file(d, case["B"], case["iters"]), idx, fmt="%d", delimiter=",")


def write_manifest(manifest):
    """Adds every data file's size and sha256 to `manifest`, writes MANIFEST.json, prints sets."""
    for root, _, files in os.walk(cs.DATA):
        for f in sorted(files):
            if f == "MANIFEST.json":
                continue
            p = os.path.join(root, f)
            manifest["files"][os.path.relpath(p, cs.DATA)] = {
                "bytes": os.path.getsize(p),
                "sha256": sha256(p),
            }
    manifest["files"] = dict(sorted(manifest["files"].items()))
    with open(os.path.join(cs.DATA, "MANIFEST.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    for k, v in manifest["sets"].items():
        print(
            k,
            {
                f: v[f]
                for f in ("n_train", "n_test", "labels", "train_class_counts", "test_class_counts")
                if f in v
            },
        )


def main():
    import shutil

    import sklearn

    shutil.rmtree(os.path.join(cs.DATA, "batches"), ignore_errors=True)  # no stale streams
    os.makedirs(os.path.join(cs.DATA, "batches"))
    manifest = {
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "sets": {},
        "files": {},
    }
    wine = os.path.join(DATASETS, "wine_cultivars.csv")
    classification_set("wine", wine, "cultivar", WINE_FEATURES, manifest)
    penguins = os.path.join(DATASETS, "penguins.csv")
    classification_set("penguins", penguins, "species", PENGUIN_FEATURES, manifest)
    hetero1d(manifest)
    inducing_and_batches()
    write_manifest(manifest)


if __name__ == "__main__":
    main()
