#!/usr/bin/env bash
# GPflow's stability over a grid of CONSTANT gamma (no ramp), 150 iterations, on the minibatch cases
# (the first 150 lines of their batch files), like part (c) of `svgp reproduce`: does the natural step
# fail (Cholesky / non-finite), and the ELBO reached. Writes results/gamma_grid/<case>_gamma<g>.json
# and prints the table (summarize_grid.py).   benches/peers/multilatent/gamma_grid.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")"
P="${1:-/tmp/peersvenv-ml/bin/python}"
mkdir -p results/gamma_grid
for c in wine_robustmax penguins_robustmax hetero1d_hetero hetero1d_gaussian; do
    for g in 0.001 0.01 0.1 0.3 1.0; do
        "$P" gpflow_multilatent.py "$c" --threads 1 --gamma "$g" --no-ramp --iters 150 --no-pred \
            --out "results/gamma_grid/${c}_gamma${g}.json" 2> >(grep -v -e '^20[0-9-]* [0-9:.]*: I ' -e 'To enable the following' -e 'cpu_feature_guard' >&2)
    done
done
"$P" summarize_grid.py
