#!/usr/bin/env python3
"""OpenBLAS's rate for the products an SVGP iteration is made of, beside faer's (issue 7).

An iteration's O(B·M²) work is triangular: Lᵀ A and L X (dtrmm), Lz⁻¹ Kuf and Lz⁻ᵀ Ā (dtrsm), and
lower halves of A Bᵀ (timed here as the full dgemm, an upper bound on a dsyrk-like kernel). This
times them through scipy.linalg.blas at M = 100, B = 256 and M = 500, B = 1024 (median and best of
15, B·M² flops for dtrmm/dtrsm, 2·B·M² for dgemm), so that the crate's faer timings of the
same shapes (`cargo bench --bench linalg`) can be set beside another library's. scipy's
wrappers return new arrays, so the times include one output allocation. Threads and OpenBLAS's
kernel choice come from the environment, set before the import:

    OPENBLAS_NUM_THREADS=2 OPENBLAS_CORETYPE=SkylakeX /tmp/peersvenv/bin/python triangular_gflops.py
"""

import time

import numpy as np
from scipy.linalg import blas


def timed(f, reps=15):
    """(median, best) seconds of `reps` calls."""
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2], ts[0]


rng = np.random.default_rng(0)
for m, b in [(100, 256), (500, 1024)]:
    a = np.asfortranarray(rng.standard_normal((m, b)))
    c = np.asfortranarray(rng.standard_normal((m, b)))
    lower = np.asfortranarray(np.tril(rng.standard_normal((m, m))) + m * np.eye(m))
    # Each case is timed in this iteration; the defaults bind this iteration's matrices.
    cases = [
        (
            "dtrmm  L^T A",
            b * m * m,
            lambda lower=lower, a=a: blas.dtrmm(1.0, lower, a, side=0, lower=1, trans_a=1),
        ),
        (
            "dtrsm  L^-1 A",
            b * m * m,
            lambda lower=lower, a=a: blas.dtrsm(1.0, lower, a, side=0, lower=1),
        ),
        ("dgemm  A C^T", 2 * b * m * m, lambda a=a, c=c: blas.dgemm(1.0, a, c, trans_b=1)),
    ]
    for name, flops, f in cases:
        f()  # warm-up
        med, best = timed(f)
        print(
            f"M={m} B={b} {name}: median {med * 1e3:.3f} ms, best {best * 1e3:.3f} ms, "
            f"{flops / med / 1e9:.1f} GFLOP/s (median)"
        )
