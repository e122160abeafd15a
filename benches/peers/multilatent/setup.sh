#!/usr/bin/env bash
# The GPflow-only virtualenv for the multi-latent references, outside the repository (~1.5 GB):
# the GPflow half of ../setup.sh (same pins; no torch/GPyTorch). requirements-gpflow.txt is its pip freeze.
#   benches/peers/multilatent/setup.sh [VENV]        (default /tmp/peersvenv-ml)
# ../setup.sh's /tmp/peersvenv works as well (it holds the same GPflow stack).
set -euo pipefail
VENV="${1:-/tmp/peersvenv-ml}"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -U pip wheel
"$VENV/bin/pip" install "numpy<2" tensorflow-cpu==2.19.1 tensorflow-probability==0.25.0 \
    check-shapes deprecated "multipledispatch>=0.6" packaging scipy setuptools tabulate typing-extensions scikit-learn
"$VENV/bin/pip" install --no-deps tf-keras==2.19.0 gpflow==2.11.2
"$VENV/bin/python" -c "import gpflow, tensorflow as tf; print('venv ready:', '$VENV', 'gpflow', gpflow.__version__, 'tf', tf.__version__)"
