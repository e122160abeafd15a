"""Data-parallel training: the rows split into shards, each held by a worker (a Ray actor, or
an object in this process), which evaluates its part of every global minibatch.

The ELBO is a sum over rows plus a KL term, so the data term's value and gradients (∂/∂m,
∂/∂S of every latent, the hyperparameter and Z gradient) add up over shards and have a fixed
size, O(L M²), whatever a shard holds. Each iteration the driver sends the hyperparameters (H
numbers) to the workers, which draw their part of the batch from their own seeded stream; the
driver's trainer (the library's, the same code as single-process training) then asks for the
sum of the shards' terms at the current q, at each candidate q of the natural step and at the
new q for the Adam step, sending the q's (L (M + M²) numbers) each time. See the README's
"Several machines" section for the cost and how to run it on a cluster.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _svgp
from ._core import as_float_array, seed_of
from ._model import Model, PathLike

#: Rows drawn from all shards together to place the inducing inputs by k-means++.
SAMPLE_ROWS = 4096


class _Shard:
    """One shard's worker: the Rust ``ShardWorker`` over its rows (the body of a Ray actor)."""

    def __init__(
        self, model_json: str, X: NDArray[Any], y: NDArray[Any], batch_size: int, seed: int
    ) -> None:
        self.worker = _svgp.ShardWorker(model_json, X, y, batch_size, seed)

    def begin(self, iteration: int, hyper: NDArray[np.float64]) -> int:
        return int(self.worker.begin(iteration, list(hyper)))

    def data_terms(self, qs: Any, scope: str, last_checked: bool, scale: float) -> Any:
        return self.worker.data_terms(qs, scope, last_checked, scale)

    def data_term(self, qs: Any, scale: float) -> float:
        return float(self.worker.data_term(qs, scale))


class _LocalShards:
    """Shards in this process, evaluated in turn."""

    def __init__(self, shards: list[_Shard]) -> None:
        self.shards = shards

    def begin(self, iteration: int, hyper: NDArray[np.float64]) -> list[int]:
        return [s.begin(iteration, hyper) for s in self.shards]

    def data_terms(self, qs: Any, scope: str, last_checked: bool, scale: float) -> list[Any]:
        return [s.data_terms(qs, scope, last_checked, scale) for s in self.shards]

    def data_term(self, qs: Any, scale: float) -> list[float]:
        return [s.data_term(qs, scale) for s in self.shards]


class _RayShards:
    """Shards in Ray actors, evaluated in parallel; the q's go to the object store once per
    call. An actor that dies is restarted by Ray from its shard (``max_restarts``)."""

    def __init__(self, actors: list[Any], data_refs: list[Any]) -> None:
        import ray

        self.ray = ray
        self.actors = actors
        # The shards' object-store entries live as long as the actors: a restart reads them.
        self.data_refs = data_refs

    def _all(self, method: str, *args: Any) -> list[Any]:
        refs = [getattr(a, method).remote(*args) for a in self.actors]
        result: list[Any] = self.ray.get(refs)
        return result

    def begin(self, iteration: int, hyper: NDArray[np.float64]) -> list[int]:
        return self._all("begin", iteration, hyper)

    def data_terms(self, qs: Any, scope: str, last_checked: bool, scale: float) -> list[Any]:
        return self._all("data_terms", self.ray.put(qs), scope, last_checked, scale)

    def data_term(self, qs: Any, scale: float) -> list[float]:
        return self._all("data_term", self.ray.put(qs), scale)


def _check_shards(shards: Sequence[tuple[ArrayLike, ArrayLike]]) -> list[tuple[Any, Any]]:
    """The shards as float arrays, each checked: 2-D inputs with the same columns, one target
    per row, every entry finite (a ValueError names the shard, row and column)."""
    if len(shards) == 0:
        raise ValueError("shards is empty: give at least one (X, y) pair")
    out: list[tuple[Any, Any]] = []
    for k, (X, y) in enumerate(shards):
        Xa, ya = as_float_array(X), as_float_array(y).ravel()
        if Xa.ndim != 2 or Xa.shape[0] == 0:
            raise ValueError(f"shard {k}: X must be 2-D with rows; it has shape {Xa.shape}")
        if ya.shape[0] != Xa.shape[0]:
            raise ValueError(f"shard {k}: X has {Xa.shape[0]} rows but y {ya.shape[0]}")
        if out and Xa.shape[1] != out[0][0].shape[1]:
            raise ValueError(
                f"shard {k}: X has {Xa.shape[1]} columns, shard 0 has {out[0][0].shape[1]}"
            )
        bad = np.argwhere(~np.isfinite(Xa))
        if len(bad):
            raise ValueError(f"shard {k}: X row {bad[0][0]}, column {bad[0][1]} is not finite")
        if not np.isfinite(ya).all():
            raise ValueError(f"shard {k}: y row {int(np.argmin(np.isfinite(ya)))} is not finite")
        out.append((Xa, ya))
    return out


def _moments(columns: list[NDArray[Any]]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Global column means and population standard deviations from each shard's count, mean
    and sum of squared deviations (the pairwise update of Chan et al.), one pass per shard."""
    n, mean, m2 = 0, None, None
    for c in columns:
        c = np.asarray(c, dtype=np.float64).reshape(c.shape[0], -1)
        nk, mk = c.shape[0], c.mean(axis=0)
        m2k = ((c - mk) ** 2).sum(axis=0)
        if mean is None or m2 is None:
            n, mean, m2 = nk, mk, m2k
            continue
        delta = mk - mean
        total = n + nk
        mean = mean + delta * nk / total
        m2 = m2 + m2k + delta**2 * n * nk / total
        n = total
    assert mean is not None and m2 is not None
    return mean, np.sqrt(m2 / n)


def _sample(shards: list[tuple[Any, Any]], rows: int, seed: int) -> tuple[Any, Any]:
    """Up to ``rows`` rows drawn from the shards in proportion to their sizes, seeded."""
    rng = np.random.default_rng(seed)
    total = sum(X.shape[0] for X, _ in shards)
    xs, ys = [], []
    for X, y in shards:
        take = min(X.shape[0], max(1, int(np.ceil(rows * X.shape[0] / total))))
        idx = np.sort(rng.choice(X.shape[0], size=take, replace=False))
        xs.append(X[idx])
        ys.append(y[idx])
    return np.vstack(xs), np.concatenate(ys)


def fit(
    shards: Sequence[tuple[ArrayLike, ArrayLike]],
    *,
    likelihood: str = "gaussian",
    kernel: str = "se",
    num_inducing: int = 50,
    batch_size: int = 256,
    max_iter: int = 1000,
    parametrisation: str = "natural",
    gamma: float | None = None,
    adam_lr: float = 0.01,
    random_state: int = 0,
    backend: str = "ray",
    feature_names: Sequence[str] | None = None,
    checkpoint: PathLike | None = None,
    checkpoint_every: int = 100,
    resume: PathLike | None = None,
    max_retries: int = 3,
    callback: Callable[[int, float, float | None, int], bool | None] | None = None,
) -> Model:
    """Trains one model on rows split into ``shards`` (a list of (X, y) pairs), each held by
    its own worker: a Ray actor (``backend="ray"``; ``ray.init()`` first, or a local cluster is
    started) or an object in this process (``backend="local"``).

    Every iteration each worker draws ``batch_size`` of its rows (its own seeded stream, seed
    ``random_state + k`` for shard k), so a global batch has ``batch_size`` rows per shard and
    the ELBO's scale is N/B over all of them. Inputs (and regression targets) are standardised
    with the global moments; Z is placed by k-means++ on up to 4096 rows sampled from the
    shards; multiclass likelihoods take class indices 0 … C−1 in y.

    ``checkpoint`` is written every ``checkpoint_every`` iterations (and when training stops on
    a failure); ``resume`` continues from one exactly, on the same shards and settings. A
    worker that dies is restarted by Ray from its shard and the iteration is retried (at most
    ``max_retries`` times in a row; the trainer is unchanged by a failed iteration, so the
    result is that of an uninterrupted run); beyond that training stops with a RuntimeError
    naming the iteration and the checkpoint written.
    """
    data = _check_shards(shards)
    d = data[0][0].shape[1]
    names = list(feature_names) if feature_names is not None else [f"x{j + 1}" for j in range(d)]
    seed = seed_of(random_state)
    settings = {
        "likelihood": likelihood,
        "kernel": kernel,
        "num_inducing": num_inducing,
        "batch_size": batch_size,
        "max_iter": max_iter,
        "parametrisation": parametrisation,
        "gamma": gamma,
        "adam_lr": adam_lr,
        "random_state": seed,
        "classes": None,
    }
    x_mean, x_sd = _moments([X for X, _ in data])
    y_mean, y_sd = _moments([y for _, y in data])
    sample_x, sample_y = _sample(data, max(SAMPLE_ROWS, num_inducing), seed)
    model_json = _svgp.initial_model(
        settings, sample_x, sample_y, (list(x_mean), list(x_sd)), (y_mean[0], y_sd[0]), names
    )
    num_data = sum(X.shape[0] for X, _ in data)
    resume_path = None if resume is None else os.fspath(resume)
    trainer = _svgp.ShardedTrainer(model_json, settings, num_data, resume_path)
    workers = _workers(backend, model_json, data, batch_size, seed)
    _train(
        trainer, workers, max_iter, num_data, checkpoint, checkpoint_every, max_retries, callback
    )
    model = Model(likelihood=likelihood, kernel=kernel, num_inducing=num_inducing)
    model._fitted = trainer.fitted()
    return model


def _workers(
    backend: str, model_json: str, data: list[tuple[Any, Any]], batch_size: int, seed: int
) -> _LocalShards | _RayShards:
    """The shards' workers on ``backend``."""
    if backend == "local":
        return _LocalShards(
            [_Shard(model_json, X, y, batch_size, seed + k) for k, (X, y) in enumerate(data)]
        )
    if backend != "ray":
        raise ValueError(f"backend {backend!r}: expected 'ray' or 'local'")
    import ray

    if not ray.is_initialized():
        ray.init(include_dashboard=False)
    actor = ray.remote(max_restarts=-1, max_task_retries=0)(_Shard)
    refs = [(ray.put(X), ray.put(y)) for X, y in data]
    actors = [actor.remote(model_json, X, y, batch_size, seed + k) for k, (X, y) in enumerate(refs)]
    return _RayShards(actors, refs)


def _train(
    trainer: Any,
    workers: _LocalShards | _RayShards,
    max_iter: int,
    num_data: int,
    checkpoint: PathLike | None,
    every: int,
    max_retries: int,
    callback: Callable[[int, float, float | None, int], bool | None] | None,
) -> None:
    """Iterations until ``max_iter``, each retried after a worker failure."""
    while trainer.iteration < max_iter:
        t = trainer.iteration + 1
        elbo, gamma, halvings = _iteration(trainer, workers, t, num_data, max_retries, checkpoint)
        if checkpoint is not None and (t % every == 0 or t == max_iter):
            trainer.save_checkpoint(os.fspath(checkpoint))
        if callback is not None and callback(t, elbo, gamma, halvings) is False:
            break


def _iteration(
    trainer: Any,
    workers: _LocalShards | _RayShards,
    t: int,
    num_data: int,
    max_retries: int,
    checkpoint: PathLike | None,
) -> tuple[float, float | None, int]:
    """Iteration ``t``: the workers set their parts of the batch, then the trainer steps on
    their sum; after a worker failure (a Ray actor error) both are retried."""
    for attempt in range(max_retries + 1):
        try:
            counts = workers.begin(t, trainer.hyper())
            result: tuple[float, float | None, int] = trainer.step(workers, num_data / sum(counts))
            return result
        except Exception as e:
            if not _is_worker_failure(e) or attempt == max_retries:
                if checkpoint is not None:
                    trainer.save_checkpoint(os.fspath(checkpoint))
                if _is_worker_failure(e):
                    where = f"; checkpoint at {checkpoint}" if checkpoint is not None else ""
                    raise RuntimeError(
                        f"iteration {t}: a worker failed {max_retries + 1} times{where}"
                    ) from e
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _is_worker_failure(e: BaseException) -> bool:
    """Whether ``e`` is a Ray worker's death (the actor is restarted; the step can be retried)."""
    try:
        from ray.exceptions import RayActorError
    except ImportError:
        return False
    return isinstance(e, RayActorError)
