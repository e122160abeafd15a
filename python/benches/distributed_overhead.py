"""Ray's cost per iteration of data-parallel training (svgp.distributed) against the same
iterations in one process: M = 100 and 500, two shards of 20 000 rows, D = 8, a global batch of
256 rows (128 per shard), a synthetic regression table.

    python python/benches/distributed_overhead.py [--iterations 100] [--cpus 2]

Configurations, each timed by the callback's clock between iterations (the median after 5
warm-up iterations): the two shards in this process (``backend="local"``: the same
evaluations, one after the other, and no messages) and in two Ray actors on a local cluster of
``--cpus`` CPUs. For Ray it counts the round trips to the workers per iteration and the bytes
of q's put in the object store per iteration (each put is one entry all workers read), and
computes the bytes the workers send back per iteration from the terms' sizes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from svgp import distributed

ROWS_PER_SHARD = 20_000
BATCH = 256
D = 8


def table(shards: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``shards`` shards of 20 000 rows, 8 inputs, a smooth target plus noise."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(shards):
        X = rng.uniform(-2, 2, size=(ROWS_PER_SHARD, D))
        y = np.sin(X[:, 0]) * X[:, 1] + 0.3 * X[:, 2] + 0.1 * rng.standard_normal(ROWS_PER_SHARD)
        out.append((X, y))
    return out


class _Counted(distributed._RayShards):
    """Ray's shards, kept where this script can read their counters."""

    last: _Counted | None = None

    def __init__(self, sources: list[Any], columns: Any, sizes: list[int]) -> None:
        super().__init__(sources, columns, sizes)
        _Counted.last = self


def run(backend: str, m: int, iterations: int) -> tuple[float, float, float]:
    """Median wall seconds between iterations (after 5 warm-up ones), and for Ray the round
    trips and bytes of q's per iteration over the whole run."""
    stamps: list[float] = []

    def clock(*_: Any) -> None:
        stamps.append(time.perf_counter())

    distributed.fit(
        table(2),
        backend=backend,
        num_inducing=m,
        batch_size=BATCH,
        max_iter=iterations + 5,
        gamma=0.1,
        callback=clock,
    )
    seconds = float(statistics.median(np.diff(stamps[4:])))
    counted = _Counted.last
    if backend == "local" or counted is None:
        return seconds, float("nan"), float("nan")
    steps = iterations + 5
    # The final full-data term is one more call and one more put of the q's.
    calls = (counted.calls - 1) / steps
    q_bytes = (counted.q_bytes - 8 * (m + m * (m + 1) // 2)) / steps
    return seconds, calls, q_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    import ray

    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    distributed._RayShards = _Counted  # type: ignore[misc]
    print(
        "| M | in process, ms | Ray, ms | Ray − in process, ms | round trips | q bytes out | terms bytes back |"
    )
    print("|---|---|---|---|---|---|---|")
    for m in (100, 500):
        local, _, _ = run("local", m, args.iterations)
        remote, calls, q_bytes = run("ray", m, args.iterations)
        h = 1 + 1 + D + m * D  # noise, signal variance, lengthscales, Z
        back = 2 * (8 * (m + m * m) + 8 * h + 8)  # ∇_η terms, then check's value and H terms
        print(
            f"| {m} | {1e3 * local:.2f} | {1e3 * remote:.2f} | {1e3 * (remote - local):.2f} "
            f"| {calls:.2f} | {q_bytes:,.0f} | {back:,} |"
        )
    ray.shutdown()


if __name__ == "__main__":
    main()
