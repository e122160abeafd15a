"""Data-parallel training (svgp.distributed): shards in this process and in Ray actors train
the same model as each other (bit for bit here: the same sums in the same order) — and, by
tests/shards.rs, the model a single workspace trains on the same batches to 1e-10 relative; a
checkpointed run resumes exactly; a worker killed mid-training is restarted and the run ends
where an uninterrupted one does. The Ray tests start a local cluster of 2 CPUs (marker `ray`:
`pytest -m ray` runs them alone)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import svgp
from svgp import distributed

SETTINGS: dict[str, Any] = {"num_inducing": 15, "batch_size": 64, "max_iter": 40}


def shards(k: int = 2, n: int = 300, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """k shards of n rows of a smooth function of 3 inputs plus noise, seeded."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        X = rng.uniform(-3, 3, size=(n, 3))
        y = np.sin(X[:, 0]) + 0.3 * X[:, 1] + 0.1 * rng.standard_normal(n)
        out.append((X, y))
    return out


def numbers(model: svgp.Model, X: np.ndarray) -> np.ndarray:
    """Predictions and the ELBO trace: every number a run produces."""
    mean, var = model.predict_y(X)
    return np.concatenate([mean, var, model.elbo_history])


def test_local_shards_learn() -> None:
    data = shards()
    model = distributed.fit(data, backend="local", **{**SETTINGS, "max_iter": 300})
    X, y = data[0]
    rmse = float(np.sqrt(np.mean((model.predict_y(X)[0] - y) ** 2)))
    assert rmse < 0.2, rmse  # noise sd 0.1
    assert model.n_iter == 300 and len(model.elbo_history) == 300


def test_final_elbo_is_the_full_data_elbo() -> None:
    data = shards()
    model = distributed.fit(data, backend="local", **SETTINGS)
    X = np.vstack([X for X, _ in data])
    y = np.concatenate([y for _, y in data])
    # Σ of the shards' Σᵢ veᵢ minus KL against the model's ELBO on all rows at once: the same
    # terms summed in another order.
    assert abs(model.final_elbo - model.elbo(X, y)) < 1e-9 * abs(model.elbo(X, y))


def csv_shards(data: list[tuple[np.ndarray, np.ndarray]], folder: Path) -> list[str | Path]:
    """The shards as CSV files (columns a, b, c, target; floats that round-trip exactly)."""
    paths: list[str | Path] = []
    for k, (Xk, yk) in enumerate(data):
        csv = folder / f"part{k}.csv"
        rows = [",".join(repr(float(v)) for v in (*r, t)) for r, t in zip(Xk, yk)]
        csv.write_text("\n".join(["a,b,c,target", *rows]) + "\n")
        paths.append(csv)
    return paths


def test_file_shards_train_the_array_model(cli: Path, tmp_path: Path) -> None:
    data, X = shards(), shards()[0][0]
    paths = csv_shards(data, tmp_path)
    binary = tmp_path / "part1.svgpb"
    subprocess.run(
        [str(cli), "convert", "--data", str(paths[1]), "--target", "target", "--out", str(binary)],
        check=True,
        capture_output=True,
    )
    arrays = distributed.fit(data, backend="local", **SETTINGS)
    files = distributed.fit([paths[0], binary], backend="local", target="target", **SETTINGS)
    assert files.feature_names == ["a", "b", "c"]
    np.testing.assert_array_equal(numbers(files, X), numbers(arrays, X))
    with pytest.raises(OSError, match="part9.csv"):
        distributed.fit([tmp_path / "part9.csv"], backend="local")


def test_checkpoint_resumes_exactly(tmp_path: Path) -> None:
    data, X = shards(), shards()[0][0]
    whole = distributed.fit(data, backend="local", **SETTINGS)
    path = tmp_path / "run.ckpt"
    first = distributed.fit(
        data,
        backend="local",
        checkpoint=path,
        checkpoint_every=10,
        callback=lambda t, *_: t < 20,
        **SETTINGS,
    )
    assert first.n_iter == 20
    rest = distributed.fit(data, backend="local", resume=path, **SETTINGS)
    np.testing.assert_array_equal(rest.predict_y(X)[0], whole.predict_y(X)[0])
    with pytest.raises(ValueError, match="other fit settings"):
        distributed.fit(data, backend="local", resume=path, **{**SETTINGS, "adam_lr": 0.1})


def test_bad_shards_are_refused() -> None:
    (X, y), (X2, y2) = shards()
    with pytest.raises(ValueError, match="shard 1: X has 2 columns, shard 0 has 3"):
        distributed.fit([(X, y), (X2[:, :2], y2)], backend="local")
    X2 = X2.copy()
    X2[5, 1] = np.nan
    with pytest.raises(ValueError, match="shard 1: X row 5, column 1 is not finite"):
        distributed.fit([(X, y), (X2, y2)], backend="local")
    labels = (y > 0).astype(float)
    labels[3] = 2.0
    with pytest.raises(ValueError, match="row 3"):
        distributed.fit([(X, labels)], backend="local", likelihood="bernoulli")
    with pytest.raises(ValueError, match="shards is empty"):
        distributed.fit([], backend="local")
    with pytest.raises(ValueError, match="backend 'spark'"):
        distributed.fit([(X, y)], backend="spark")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.ray
def test_ray_workers_train_the_local_model(ray_cluster: Any, tmp_path: Path) -> None:
    data, X = shards(), shards()[0][0]
    local = distributed.fit(data, backend="local", **SETTINGS)
    remote = distributed.fit(data, backend="ray", **SETTINGS)
    np.testing.assert_allclose(numbers(remote, X), numbers(local, X), rtol=1e-10, atol=0)
    assert remote.final_elbo == pytest.approx(local.final_elbo, rel=1e-12)
    # CSV shards read by the actors themselves.
    files = distributed.fit(csv_shards(data, tmp_path), backend="ray", target="target", **SETTINGS)
    np.testing.assert_allclose(numbers(files, X), numbers(local, X), rtol=1e-10, atol=0)


def kill_one_worker() -> int:
    """SIGKILLs one Ray worker process running a shard (its title is ``ray::_Shard…``)."""
    for pid in os.listdir("/proc"):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if pid.isdigit() and title.startswith(b"ray::_Shard"):
            os.kill(int(pid), signal.SIGKILL)
            return int(pid)
    raise AssertionError("no shard worker process found")


@pytest.mark.ray
def test_a_killed_worker_is_restarted_and_the_run_is_unchanged(ray_cluster: Any) -> None:
    data, X = shards(), shards()[0][0]
    local = distributed.fit(data, backend="local", **SETTINGS)
    killed: list[int] = []

    def kill_at_15(t: int, *_: Any) -> None:
        if t == 15:
            killed.append(kill_one_worker())

    remote = distributed.fit(data, backend="ray", callback=kill_at_15, **SETTINGS)
    assert len(killed) == 1
    np.testing.assert_allclose(numbers(remote, X), numbers(local, X), rtol=1e-10, atol=0)


@pytest.mark.ray
def test_a_worker_that_keeps_dying_stops_training_with_a_checkpoint(
    ray_cluster: Any, tmp_path: Path
) -> None:
    data = shards()
    path = tmp_path / "run.ckpt"
    stop = threading.Event()

    def keep_killing() -> None:
        while not stop.is_set():
            try:
                kill_one_worker()
            except AssertionError:
                pass
            stop.wait(0.02)

    def start_killing(t: int, *_: Any) -> None:
        if t == 10:
            threading.Thread(target=keep_killing, daemon=True).start()

    try:
        with pytest.raises(RuntimeError, match=r"a worker failed 2 times; checkpoint at"):
            distributed.fit(
                data,
                backend="ray",
                checkpoint=path,
                checkpoint_every=5,
                max_retries=1,
                restart_timeout=2.0,
                callback=start_killing,
                **{**SETTINGS, "max_iter": 10_000},
            )
    finally:
        stop.set()
    # The checkpoint written on the way out continues.
    done = json.loads(path.read_text())["trainer"]["iteration"]
    assert done >= 10
    resumed = distributed.fit(
        data, backend="local", resume=path, **{**SETTINGS, "max_iter": done + 5}
    )
    assert resumed.n_iter == 5
