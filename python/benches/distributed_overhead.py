"""Per-iteration time and throughput of data-parallel training (svgp.distributed) against the
same iterations in one process: M = 100 and 500, B = 4096 rows per worker, D = 8, a synthetic
regression table of 50 000 rows per shard.

    python python/benches/distributed_overhead.py [--iterations 30] [--cpus 2]

Configurations, each timed by the callback's clock between iterations (the median after 5
warm-up iterations): the shards in this process (``backend="local"``; with one shard this is
single-process training through the sharded path) with 1 and 2 shards, and Ray with 1 and 2
worker actors on a local cluster of ``--cpus`` CPUs. Ray's overhead per iteration is Ray with
1 worker minus local with 1 shard; throughput is rows per iteration over seconds per
iteration.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from svgp import distributed

ROWS_PER_SHARD = 50_000
BATCH = 4096


def table(shards: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``shards`` shards of 50 000 rows, 8 inputs, a smooth target plus noise."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(shards):
        X = rng.uniform(-2, 2, size=(ROWS_PER_SHARD, 8))
        y = np.sin(X[:, 0]) * X[:, 1] + 0.3 * X[:, 2] + 0.1 * rng.standard_normal(ROWS_PER_SHARD)
        out.append((X, y))
    return out


def seconds_per_iteration(backend: str, shards: int, m: int, iterations: int) -> float:
    """Median wall seconds between iterations (after 5 warm-up ones)."""
    stamps: list[float] = []

    def clock(*_: Any) -> None:
        stamps.append(time.perf_counter())

    distributed.fit(
        table(shards),
        backend=backend,
        num_inducing=m,
        batch_size=BATCH,
        max_iter=iterations + 5,
        gamma=0.1,
        callback=clock,
    )
    gaps = np.diff(stamps[4:])
    return float(statistics.median(gaps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    import ray

    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    print("| M | configuration | s / iteration | rows / s | bytes / iteration / worker |")
    print("|---|---|---|---|---|")
    for m in (100, 500):
        q_bytes = 8 * (m + m * m)
        # begin: H numbers out; data terms at q and at the new q, ≥ 1 candidate: q's out each,
        # terms (M + M² numbers, then H) and one number back.
        h = 1 + 8 + 1 + 8 * m
        traffic = 8 * h + 3 * q_bytes + q_bytes + 8 * m + 8 * h + 8
        for backend, shards in (("local", 1), ("local", 2), ("ray", 1), ("ray", 2)):
            s = seconds_per_iteration(backend, shards, m, args.iterations)
            rows = BATCH * shards
            extra = f"{traffic:,}" if backend == "ray" else "-"
            print(f"| {m} | {backend}, {shards} shard(s) | {s:.4f} | {rows / s:,.0f} | {extra} |")
    ray.shutdown()


if __name__ == "__main__":
    main()
