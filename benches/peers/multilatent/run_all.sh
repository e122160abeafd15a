#!/usr/bin/env bash
# All multi-latent GPflow references, one after the other, on ONE TensorFlow thread:
# regenerates data/ (deterministic; make_data.py) and writes results/<case>.json and
# results/<case>_test_pred.csv, then prints the summary table (summarize.py).
#   benches/peers/multilatent/run_all.sh [PYTHON]      (default /tmp/peersvenv-ml/bin/python; setup.sh makes it)
set -euo pipefail
cd "$(dirname "$0")"
P="${1:-/tmp/peersvenv-ml/bin/python}"
"$P" make_data.py
for c in wine_robustmax penguins_robustmax hetero1d_hetero hetero1d_gaussian \
         wine_robustmax_full penguins_robustmax_full hetero1d_hetero_full hetero1d_gaussian_full; do
    "$P" gpflow_multilatent.py "$c" --threads 1 2> >(grep -v -e '^20[0-9-]* [0-9:.]*: I ' -e 'To enable the following' -e 'cpu_feature_guard' >&2)
done
"$P" summarize.py
