#!/usr/bin/env bash
# Creates the peers' virtualenv (GPflow 2 + TensorFlow CPU, GPyTorch + torch) outside the repository.
# About 7 GB, because PyPI's torch wheel carries the CUDA libraries (it still runs on the CPU).
# Commands and pins from shared/peers/README.md; requirements-peers.txt beside this file is the full freeze.
set -euo pipefail
VENV="${1:-/tmp/peersvenv}"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -U pip wheel
"$VENV/bin/pip" install "numpy<2" tensorflow-cpu==2.19.1 tensorflow-probability==0.25.0 \
    check-shapes deprecated "multipledispatch>=0.6" packaging scipy setuptools tabulate typing-extensions scikit-learn
"$VENV/bin/pip" install --no-deps tf-keras==2.19.0 gpflow==2.11.2
"$VENV/bin/pip" install torch==2.13.0 gpytorch==1.15.2 "numpy<2"
echo "venv ready: $VENV"
