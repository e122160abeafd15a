#!/usr/bin/env python3
"""The machine's f64 matrix-product rate, the yardstick of issue 7's second acceptance line.

Times C = A·B in float64 with numpy (OpenBLAS in the peers' venv) and torch (MKL) on the threads
given, for a large square product (n = 2000) and the SVGP-shaped one (500 × 1024 times 1024 × 500,
the size of an M = 500, B = 1024 iteration's products). Reports the best and the median GFLOP/s
of --reps products (2·m·k·n flops each) after one warm-up, as one JSON line.
Thread counts must be set before numpy/torch load, so run once per count (run.py does):

    python matmul_gflops.py --threads 1 [--openblas-coretype SkylakeX]

A kernel family that needs AVX-512 (SkylakeX, Cooperlake, SapphireRapids) is forced only if the
CPU flags in /proc/cpuinfo include avx512f; otherwise the request is ignored, OpenBLAS keeps the
kernels it detects, and the JSON says so (openblas_coretype_forced null, openblas_note).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

# OpenBLAS kernel families that need AVX-512 Foundation: forcing one of them on a CPU without it
# makes the first product die with SIGILL, so they are forced only where /proc/cpuinfo lists avx512f.
AVX512_CORETYPES = {"skylakex", "cooperlake", "sapphirerapids"}


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The instruction-set flags of the first processor in `cpuinfo` (empty if unreadable)."""
    try:
        with open(cpuinfo) as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def coretype_to_force(requested: str | None, flags: set[str]) -> tuple[str | None, str]:
    """(the OPENBLAS_CORETYPE to set, or None, and a note for the output)."""
    if not requested:
        return None, "OpenBLAS's detected kernels"
    if requested.lower() in AVX512_CORETYPES and "avx512f" not in flags:
        return (
            None,
            f"{requested} not forced: no avx512f in the CPU flags, OpenBLAS's detected kernels only",
        )
    return requested, f"{requested} forced (OPENBLAS_CORETYPE)"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument(
        "--openblas-coretype",
        default=None,
        help="force OpenBLAS's kernel family (e.g. SkylakeX; forced only if the CPU has avx512f, "
        "else ignored and said so); by default it detects the CPU, and on this VM's CPU model it "
        "falls back to Prescott (SSE3) kernels",
    )
    ap.add_argument(
        "--cpuinfo", default="/proc/cpuinfo", help="where to read the CPU flags (tests pass a fake)"
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    forced, note = coretype_to_force(args.openblas_coretype, cpu_flags(args.cpuinfo))
    if forced:
        os.environ["OPENBLAS_CORETYPE"] = forced
    else:
        os.environ.pop("OPENBLAS_CORETYPE", None)
    if "numpy" in sys.modules:
        sys.exit("matmul_gflops: numpy was loaded before the thread and kernel settings")

    import numpy as np
    import threadpoolctl
    import torch

    torch.set_num_threads(args.threads)
    shapes = {"square_2000": (2000, 2000, 2000), "svgp_500x1024x500": (500, 1024, 500)}

    def rate(
        mul: Callable[[Any, Any], Any], a: Any, b: Any, m: int, k: int, n: int
    ) -> dict[str, float]:
        mul(a, b)
        ts = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            mul(a, b)
            ts.append(time.perf_counter() - t0)
        flops = 2.0 * m * k * n
        return {
            "best_gflops": round(flops / min(ts) / 1e9, 1),
            "median_gflops": round(flops / float(np.median(ts)) / 1e9, 1),
        }

    rng = np.random.default_rng(0)
    blas = next(
        p for p in threadpoolctl.threadpool_info() if "numpy" in p["filepath"]
    )  # not torch's MKL/OpenMP
    out: dict[str, Any] = {
        "threads": args.threads,
        "numpy": np.__version__,
        "torch": torch.__version__,
        "numpy_blas": f"{blas['internal_api']} {blas['version']} ({blas.get('architecture')} kernels)",
        "openblas_architecture": blas.get("architecture"),
        "openblas_coretype_requested": args.openblas_coretype,
        "openblas_coretype_forced": forced,
        "openblas_note": note,
        "loadavg1_start": os.getloadavg()[0],
    }
    for name, (m, k, n) in shapes.items():
        a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
        out[f"numpy_{name}"] = rate(np.matmul, a, b, m, k, n)
        out[f"torch_{name}"] = rate(torch.matmul, torch.from_numpy(a), torch.from_numpy(b), m, k, n)
    out["loadavg1_end"] = os.getloadavg()[0]
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
