"""The settings of every multi-latent reference run, in one place (read by make_data.py and
gpflow_multilatent.py). Change a setting here, then rerun both (see README.md)."""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
DATA = os.path.join(HERE, "data")
RESULTS = os.path.join(HERE, "results")

SPLIT_SEED = 20261130  # numpy default_rng seed of the train/test splits
SYNTH_SEED = 20261131  # numpy default_rng seed of the synthetic heteroscedastic set
TEST_FRACTION = 0.3  # per class (stratified), rounded to the nearest integer
BATCH_SEED = 0  # peers_common.batch_indices seed
KMEANS_SEED = 0  # sklearn KMeans(random_state=0, n_init=1)

# Common to every run: natural step on q in theta (xi = natural parameters, GPflow XiNat) with
# gamma ramped log-linearly 1e-4 -> GAMMA over the first RAMP iterations, then Adam(lr) on the
# kernel(s), the likelihood's trainable parameters and Z, at the new q, on the same minibatch.
RAMP = 50
GAMMA0 = 1e-4

CASES = {
    # Minibatch references (the batch stream is in data/batches/).
    "wine_robustmax": {
        "data": "wine",
        "lik": "robustmax",
        "M": 32,
        "B": 64,
        "iters": 3000,
        "gamma": 0.1,
        "adam_lr": 0.01,
    },
    "penguins_robustmax": {
        "data": "penguins",
        "lik": "robustmax",
        "M": 32,
        "B": 64,
        "iters": 3000,
        "gamma": 0.1,
        "adam_lr": 0.01,
    },
    "hetero1d_hetero": {
        "data": "hetero1d",
        "lik": "hetero",
        "M": 30,
        "B": 100,
        "iters": 2000,
        "gamma": 0.1,
        "adam_lr": 0.01,
    },
    "hetero1d_gaussian": {
        "data": "hetero1d",
        "lik": "gaussian",
        "M": 30,
        "B": 100,
        "iters": 2000,
        "gamma": 0.1,
        "adam_lr": 0.01,
    },
    # Full-batch references (B = None: every iteration uses all training rows, in file order): deterministic,
    # the easiest first comparison.
    "wine_robustmax_full": {
        "data": "wine",
        "lik": "robustmax",
        "M": 32,
        "B": None,
        "iters": 1000,
        "gamma": 0.1,
        "adam_lr": 0.01,
    },
    "penguins_robustmax_full": {
        "data": "penguins",
        "lik": "robustmax",
        "M": 32,
        "B": None,
        "iters": 1000,
        "gamma": 0.1,
        "adam_lr": 0.01,
    },
    "hetero1d_hetero_full": {
        "data": "hetero1d",
        "lik": "hetero",
        "M": 30,
        "B": None,
        "iters": 1000,
        "gamma": 0.1,
        "adam_lr": 0.01,
    },
    "hetero1d_gaussian_full": {
        "data": "hetero1d",
        "lik": "gaussian",
        "M": 30,
        "B": None,
        "iters": 1000,
        "gamma": 0.1,
        "adam_lr": 0.01,
    },
}


def batches_file(data, B, iters, seed=BATCH_SEED):
    return os.path.join(DATA, "batches", f"{data}_B{B}_seed{seed}_it{iters}.csv")


def z_file(data, M):
    return os.path.join(DATA, f"{data}_Z_M{M}.csv")
