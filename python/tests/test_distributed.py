"""Data-parallel training (svgp.distributed): shards in this process and in Ray actors train
the same model as each other (bit for bit here: the same sums in the same order) — and, by
tests/it/shards.rs, the model a single workspace trains on the same batches to 1e-10 relative;
one shard trains the model `svgp.Model.fit` trains on its rows bit for bit, through the same
loop (callback, stop and checkpoint rules alike);
shards of unequal size weigh every row the same (a worker's scale N_k / B_k, checked against
its full-data term); a checkpointed run resumes exactly; a worker killed mid-training is
restarted and the run ends where an uninterrupted one does, at M = 15 and M = 100, with equal
and unequal shards; one that cannot come back stops training in seconds. The Ray tests start a
local cluster of 2 CPUs (marker `ray`: `pytest -m ray` runs them alone)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import svgp
from svgp import _svgp, distributed

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


def split(n: int, fractions: tuple[float, ...], seed: int = 0) -> list[tuple[Any, Any]]:
    """n rows of a smooth function of 3 inputs plus noise, seeded, split into shards holding
    ``fractions`` of the rows in order of the first input (shards that differ in size and in
    distribution, as files by region do)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, 3))
    y = np.sin(X[:, 0]) + 0.3 * X[:, 1] + 0.1 * rng.standard_normal(n)
    order = np.argsort(X[:, 0])
    ends = np.cumsum([0, *[round(f * n) for f in fractions]])
    return [(X[order[a:b]], y[order[a:b]]) for a, b in itertools.pairwise(ends)]


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


def test_shares_are_proportional_and_complete() -> None:
    assert distributed._shares([100, 1900], 256) == [13, 243]
    assert distributed._shares([300, 300], 64) == [32, 32]
    assert distributed._shares([1, 5000], 100) == [1, 99]  # every shard draws at least one row
    assert distributed._shares([30, 50], 500) == [30, 50]  # the full batch
    assert sum(distributed._shares([7, 11, 13], 10)) == 10


def test_a_worker_scales_its_part_by_its_own_share() -> None:
    """Over one epoch of a shard's batches (B_k divides N_k, so each row is drawn once), the
    mean of its scaled data terms is its full-data term: c_k = N_k / B_k, whatever the other
    shards hold. The oracle is the chunked sum over every row; 1e-12 relative is rounding."""
    data = split(2000, (0.05, 0.95))
    model = distributed.fit(data, backend="local", **SETTINGS)
    fitted = model.fitted
    text = fitted.to_json()
    X, y = data[0]
    b = 25  # N_0 = 100 rows: an epoch is 4 batches
    worker = _svgp.ShardWorker(text, X, y, b, 7)
    hyper, qs = _svgp.model_state(text)
    answers = [worker.evaluate(t, hyper, qs, 1, "eta") for t in range(1, 5)]
    parts = [a[1] for a in answers if a is not None]
    assert len(parts) == 4
    full = worker.full_data_term(hyper, qs)
    assert np.mean(parts) == pytest.approx(full, rel=1e-12)


def test_a_worker_that_lost_its_q_is_sent_it_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A shard's worker replaced after iteration 19 by a fresh one (as Ray's restart between
    two calls leaves it: its batches not drawn, no q held) answers the driver's token-only call
    with None, is sent the q's and catches up: the run equals the uninterrupted one bit for
    bit (a worker that evaluated at the q's it was built with would differ)."""
    data, X = shards(), shards()[0][0]
    whole = distributed.fit(data, backend="local", **SETTINGS)
    started: list[tuple[distributed._LocalShards, tuple[str, int, int]]] = []
    start = distributed._LocalShards.start

    def recorded(self: distributed._LocalShards, *args: Any) -> list[int]:
        started.append((self, args))
        return start(self, *args)

    def replace_shard_1(t: int, *_: Any) -> None:
        if t == 19:
            workers, (text, batch_size, seed) = started[0]
            part = distributed._shares(workers.sizes, batch_size)[1]
            fresh = distributed._Shard(text, data[1], 1, workers.columns, part, seed + 1)
            workers.shards[1] = fresh

    monkeypatch.setattr(distributed._LocalShards, "start", recorded)
    replaced = distributed.fit(data, backend="local", callback=replace_shard_1, **SETTINGS)
    assert len(started) == 1
    np.testing.assert_array_equal(numbers(replaced, X), numbers(whole, X))


def test_one_shard_trains_the_single_process_model() -> None:
    """One shard and `svgp.Model.fit` on the same rows: the same scalings (merged moments of
    one shard are its own), Z, batches and sums, so the same model and ELBO trace bit for bit.
    The final full-data ELBO is summed by another routine (the worker's chunked terms against
    the model's ELBO), so it agrees to 1e-12 relative."""
    ((X, y),) = shards(1)
    one = distributed.fit([(X, y)], backend="local", **SETTINGS)
    single = svgp.Model(**SETTINGS).fit(X, y)
    np.testing.assert_array_equal(numbers(one, X), numbers(single, X))
    assert one.n_iter == single.n_iter == SETTINGS["max_iter"]
    assert one.final_elbo == pytest.approx(single.final_elbo, rel=1e-12)


def test_callback_and_checkpoints_follow_the_single_process_rules(tmp_path: Path) -> None:
    """The callback's arguments and its False as in `svgp.Model.fit` (training stops there,
    interrupted: no full-data ELBO); the checkpoint written every `checkpoint_every` iterations
    (after the callback has seen the iteration) and when training stops."""
    ((X, y),) = shards(1)
    path = tmp_path / "run.ckpt"

    def seen(log: list[tuple[Any, ...]], checkpointed: bool) -> Any:
        def callback(t: int, elbo: float, gamma: float | None, halvings: int) -> bool:
            written = json.loads(path.read_text())["trainer"]["iteration"] if path.exists() else 0
            log.append((t, elbo, gamma, halvings, written if checkpointed else 0))
            return t < 25

        return callback

    one: list[tuple[Any, ...]] = []
    single: list[tuple[Any, ...]] = []
    stopped = distributed.fit(
        [(X, y)],
        backend="local",
        checkpoint=path,
        checkpoint_every=10,
        callback=seen(one, True),
        **SETTINGS,
    )
    model = svgp.Model(**SETTINGS).fit(X, y, callback=seen(single, False))
    assert [r[:4] for r in one] == [r[:4] for r in single] and len(one) == 25
    assert [r[4] for r in one] == [0] * 10 + [10] * 10 + [20] * 5
    assert json.loads(path.read_text())["trainer"]["iteration"] == 25
    assert stopped.n_iter == model.n_iter == 25
    assert stopped.stop_reason == model.stop_reason == "interrupted"
    assert np.isnan(stopped.final_elbo) and np.isnan(model.final_elbo)

    def fails(*_: Any) -> bool:
        raise ZeroDivisionError("from the callback")

    with pytest.raises(ZeroDivisionError, match="from the callback"):
        distributed.fit([(X, y)], backend="local", callback=fails, **SETTINGS)


def test_unequal_shards_train_the_objective_of_equal_ones() -> None:
    """A shard of 100 noisy rows (noise sd 0.5) beside one of 1900 quiet ones (0.1), against
    the same 2000 rows shuffled into two halves: the final full-data ELBOs within 50 nats
    (0.025 per row). Over seeds 0–3 the two differ by 2–38 nats; weighing every row by the
    global N / ΣB_k with 100 rows per shard, as before, they differed by 570–810 (each noisy
    row counted as 19 quiet ones)."""
    rng = np.random.default_rng(0)
    shards = []
    for n, noise in ((100, 0.5), (1900, 0.1)):
        X = rng.uniform(-3, 3, size=(n, 3))
        shards.append((X, np.sin(X[:, 0]) + 0.3 * X[:, 1] + noise * rng.standard_normal(n)))
    X, y = np.vstack([s[0] for s in shards]), np.concatenate([s[1] for s in shards])
    perm = rng.permutation(2000)
    halves = [(X[perm[:1000]], y[perm[:1000]]), (X[perm[1000:]], y[perm[1000:]])]
    settings = {**SETTINGS, "num_inducing": 20, "batch_size": 200, "max_iter": 400}
    skewed = distributed.fit(shards, backend="local", **settings)
    even = distributed.fit(halves, backend="local", **settings)
    assert abs(skewed.final_elbo - even.final_elbo) < 50.0


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
    with pytest.raises(
        ValueError, match="shard 1: X row 5, column 1 is NaN: every entry must be finite"
    ):
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
    """SIGKILLs the newest Ray worker process running a shard (its title is ``ray::_Shard…``):
    one of the current run's, not one an earlier run's actors leave while they end."""
    started = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (OSError, ValueError):
            continue
        if title.startswith(b"ray::_Shard"):
            started[int(pid)] = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: start time
    if not started:
        raise AssertionError("no shard worker process found")
    newest = max(started, key=lambda p: (started[p], p))
    os.kill(newest, signal.SIGKILL)
    return newest


def killed_run(data: list[tuple[Any, Any]], at: int, **settings: Any) -> tuple[svgp.Model, int]:
    """A Ray run over ``data`` with one shard worker SIGKILLed after iteration ``at``."""
    killed: list[int] = []

    def kill(t: int, *_: Any) -> None:
        if t == at:
            killed.append(kill_one_worker())

    model = distributed.fit(data, backend="ray", callback=kill, **settings)
    assert len(killed) == 1
    return model, killed[0]


@pytest.mark.ray
def test_a_killed_worker_is_restarted_and_the_run_is_unchanged(ray_cluster: Any) -> None:
    data, X = shards(), shards()[0][0]
    local = distributed.fit(data, backend="local", **SETTINGS)
    remote, _ = killed_run(data, 15, **SETTINGS)
    np.testing.assert_allclose(numbers(remote, X), numbers(local, X), rtol=1e-10, atol=0)


@pytest.mark.ray
@pytest.mark.parametrize("m", [100, 500])
def test_a_killed_worker_comes_back_at_realistic_sizes(ray_cluster: Any, m: int) -> None:
    """M = 100 and 500 (the model text passed to a worker is larger than Ray's inline limit),
    shards of 25 % and 75 % of 2400 rows: killed at iteration 40, the run ends where the
    uninterrupted one does (1e-10 relative: the same sums, only the worker's process differs)."""
    data = split(2400, (0.25, 0.75))
    settings = {**SETTINGS, "num_inducing": m, "batch_size": 256, "max_iter": 50}
    local = distributed.fit(data, backend="local", **settings)
    remote, _ = killed_run(data, 40, **settings)
    X = data[0][0]
    np.testing.assert_allclose(numbers(remote, X), numbers(local, X), rtol=1e-10, atol=0)


@pytest.mark.ray
def test_a_worker_that_cannot_come_back_stops_training_at_once(
    ray_cluster: Any, tmp_path: Path
) -> None:
    """CSV shards deleted after iteration 40, then a worker killed: its restart cannot read its
    file, and training stops within seconds (not after ``restart_timeout``) naming the shard
    and the checkpoint, which resumes once the files are back."""
    data = split(1200, (0.25, 0.75))
    paths = csv_shards(data, tmp_path)
    path = tmp_path / "run.ckpt"
    settings = {**SETTINGS, "num_inducing": 100, "batch_size": 128, "max_iter": 1000}
    moved = [Path(f"{p}.away") for p in paths]
    killed_at: list[float] = []

    def lose_the_files(t: int, *_: Any) -> None:
        if t == 40:
            for p, away in zip(paths, moved):
                Path(p).rename(away)
            kill_one_worker()
            killed_at.append(time.monotonic())

    lost = r"iteration 41: shard [01]: its worker cannot restart: OSError: .*part[01]\.csv.*"
    with pytest.raises(distributed.WorkerLost, match=lost + "; checkpoint at"):
        distributed.fit(
            paths,
            backend="ray",
            target="target",
            checkpoint=path,
            callback=lose_the_files,
            **settings,
        )
    assert time.monotonic() - killed_at[0] < 30.0
    for p, away in zip(paths, moved):
        away.rename(p)
    done = json.loads(path.read_text())["trainer"]["iteration"]
    assert done == 40
    resumed = distributed.fit(
        paths, backend="local", target="target", resume=path, **{**settings, "max_iter": 45}
    )
    assert resumed.n_iter == 5


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
        with pytest.raises(RuntimeError, match=r"iteration \d+: .*; checkpoint at"):
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
