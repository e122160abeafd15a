#!/usr/bin/env python3
"""The machine's f64 matrix-product rate, the yardstick of issue 7's second acceptance line.

Times C = A·B in float64 with numpy (OpenBLAS in the peers' venv) and torch (MKL) on the threads
given, for a large square product (n = 2000) and the SVGP-shaped one (500 × 1024 times 1024 × 500,
the size of an M = 500, B = 1024 iteration's products). Reports the best and the median GFLOP/s
of --reps products (2·m·k·n flops each) after one warm-up, as one JSON line.
Thread counts must be set before numpy/torch load, so run once per count (run.py does):

    python matmul_gflops.py --threads 1 [--openblas-coretype SkylakeX]
"""
import argparse
import json
import os
import time

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--threads", type=int, required=True)
ap.add_argument("--reps", type=int, default=10)
ap.add_argument("--openblas-coretype", default=None,
                help="force OpenBLAS's kernel family (e.g. SkylakeX); by default it detects the CPU, and on "
                     "this VM's CPU model it falls back to Prescott (SSE3) kernels")
args = ap.parse_args()
for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[k] = str(args.threads)
if args.openblas_coretype:
    os.environ["OPENBLAS_CORETYPE"] = args.openblas_coretype

import numpy as np  # noqa: E402
import threadpoolctl  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(args.threads)
SHAPES = {"square_2000": (2000, 2000, 2000), "svgp_500x1024x500": (500, 1024, 500)}


def rate(mul, a, b, m, k, n):
    mul(a, b)
    ts = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        mul(a, b)
        ts.append(time.perf_counter() - t0)
    flops = 2.0 * m * k * n
    return {"best_gflops": round(flops / min(ts) / 1e9, 1), "median_gflops": round(flops / float(np.median(ts)) / 1e9, 1)}


rng = np.random.default_rng(0)
blas = next(p for p in threadpoolctl.threadpool_info() if "numpy" in p["filepath"])  # not torch's MKL/OpenMP
out = {"threads": args.threads, "numpy": np.__version__, "torch": torch.__version__,
       "numpy_blas": f"{blas['internal_api']} {blas['version']} ({blas.get('architecture')} kernels)",
       "loadavg1_start": os.getloadavg()[0]}
for name, (m, k, n) in SHAPES.items():
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    out[f"numpy_{name}"] = rate(np.matmul, a, b, m, k, n)
    out[f"torch_{name}"] = rate(torch.matmul, torch.from_numpy(a), torch.from_numpy(b), m, k, n)
out["loadavg1_end"] = os.getloadavg()[0]
print(json.dumps(out), flush=True)
