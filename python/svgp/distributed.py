"""Data-parallel training: the rows split into shards, each held by a worker (a Ray actor, or
an object in this process), which evaluates its part of every global minibatch.

The ELBO is a sum over rows plus a KL term, so the data term's value and gradients (∂/∂m,
∂/∂S of every latent, the hyperparameter and Z gradient) add up over shards and have a fixed
size, O(L M²), whatever a shard holds. A global batch of B rows is drawn as a stratified
sample: shard k draws B_k ∝ N_k of its rows (its own seeded stream) and scales its part by
N_k / B_k, so the sum is an unbiased estimate of the full-data term whatever the shards' sizes
(docs/MATH.md §7). The driver's trainer (the library's, the same code as single-process
training) asks the workers twice per iteration in the common case: the batch at the
hyperparameters with the terms at the current q, then the natural step's candidate with the
terms the Adam step needs there; q's travel once per iteration, packed, as one object-store
entry all workers read. See the README's "Several machines" section for the cost and how to run
it on a cluster.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _svgp
from ._core import check_class_indices, check_inputs, check_targets
from ._model import Model, PathLike
from ._settings import CLASS_LIKELIHOODS, fit_settings, takes_parameters

#: Rows drawn from all shards together to place the inducing inputs by k-means++.
SAMPLE_ROWS = 4096
#: Seconds to wait for Ray to restart a worker that died before the iteration is retried.
RESTART_TIMEOUT = 120.0


#: A shard: (X, y) arrays, or the path of a CSV or binary ``.svgpb`` table its worker reads.
Source = Union[tuple[ArrayLike, ArrayLike], str, "os.PathLike[str]"]


class WorkerLost(RuntimeError):
    """A shard's worker died and cannot come back (its restart failed, or it did not answer
    within ``restart_timeout`` seconds)."""


class _Shard:
    """One shard's worker: the Rust ``ShardWorker`` over its rows, read from its source where
    the worker runs (the body of a Ray actor; a restarted actor reads them again)."""

    def __init__(
        self, model_json: str, source: Source, k: int, columns: _Columns, batch_size: int, seed: int
    ) -> None:
        X, y, _ = _load(source, k, columns)
        self.worker = _svgp.ShardWorker(model_json, X, y, batch_size, seed)

    def evaluate(self, t: int, hyper: NDArray[np.float64], qs: Any, token: int, scope: str) -> Any:
        return self.worker.evaluate(t, list(hyper), qs, token, scope)

    def terms(self, qs: Any, token: int, scope: str, last_checked: bool) -> Any:
        return self.worker.terms(qs, token, scope, last_checked)

    def check(self, qs: Any, token: int, with_hyper: bool) -> Any:
        return self.worker.check(qs, token, with_hyper)

    def full_data_term(self, hyper: NDArray[np.float64], qs: Any) -> float:
        return float(self.worker.full_data_term(list(hyper), qs))

    def ready(self) -> bool:
        return True


class _LocalShards:
    """Shards in this process, evaluated in turn."""

    def __init__(self, shards: list[_Shard]) -> None:
        self.shards = shards

    def evaluate(
        self, t: int, hyper: NDArray[np.float64], qs: Any, token: int, scope: str
    ) -> list[Any]:
        return [s.evaluate(t, hyper, qs, token, scope) for s in self.shards]

    def terms(self, qs: Any, token: int, scope: str, last_checked: bool) -> list[Any]:
        return [s.terms(qs, token, scope, last_checked) for s in self.shards]

    def check(self, qs: Any, token: int, with_hyper: bool) -> list[Any]:
        return [s.check(qs, token, with_hyper) for s in self.shards]

    def full_data_term(self, hyper: NDArray[np.float64], qs: Any) -> list[float]:
        return [s.full_data_term(hyper, qs) for s in self.shards]

    def wait_ready(self, timeout: float) -> None:
        """Shards in this process are always ready."""

    def close(self) -> None:
        """Nothing to end: the shards go with this object."""


class _RayShards:
    """Shards in Ray actors, evaluated in parallel: each call is one round trip to every actor,
    and q's go to the object store once per call, one entry all actors read. An actor that dies
    is restarted by Ray (``max_restarts``) from its constructor's arguments, which live in the
    object store as long as this object (``refs``)."""

    def __init__(self, actors: list[Any], refs: list[Any]) -> None:
        import ray

        self.ray = ray
        self.actors = actors
        self.refs = refs
        #: Round trips and bytes of q's put in the object store, for reports.
        self.calls = 0
        self.q_bytes = 0

    def _all(self, method: str, *args: Any) -> list[Any]:
        self.calls += 1
        refs = [getattr(a, method).remote(*args) for a in self.actors]
        result: list[Any] = self.ray.get(refs)
        return result

    def _put(self, qs: Any) -> Any:
        if qs is None:
            return None
        self.q_bytes += sum(q.nbytes for q in qs)
        return self.ray.put(qs)

    def evaluate(
        self, t: int, hyper: NDArray[np.float64], qs: Any, token: int, scope: str
    ) -> list[Any]:
        return self._all("evaluate", t, hyper, self._put(qs), token, scope)

    def terms(self, qs: Any, token: int, scope: str, last_checked: bool) -> list[Any]:
        return self._all("terms", self._put(qs), token, scope, last_checked)

    def check(self, qs: Any, token: int, with_hyper: bool) -> list[Any]:
        return self._all("check", self._put(qs), token, with_hyper)

    def full_data_term(self, hyper: NDArray[np.float64], qs: Any) -> list[float]:
        return self._all("full_data_term", hyper, self._put(qs))

    def close(self) -> None:
        """Ends the actors (also after a failure, so that none is left running or
        restarting)."""
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)

    def wait_ready(self, timeout: float) -> None:
        """Waits until every actor answers (a restarted one has read its shard again), at most
        ``timeout`` seconds; raises :class:`WorkerLost` naming the shard as soon as Ray reports
        an actor dead for good (its restart's constructor failed) or when time is up."""
        deadline = time.monotonic() + timeout
        errors = self.ray.exceptions
        for k, actor in enumerate(self.actors):
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WorkerLost(f"shard {k}: its worker did not come back in {timeout:g} s")
                try:
                    self.ray.get(actor.ready.remote(), timeout=min(left, 5.0))
                    break
                except errors.ActorDiedError as e:
                    if e.actor_init_failed:
                        cause = str(e).strip().splitlines()[-1]  # the constructor's error
                        raise WorkerLost(f"shard {k}: its worker cannot restart: {cause}") from e
                    time.sleep(0.1)
                except (errors.RayActorError, errors.GetTimeoutError):
                    time.sleep(0.1)


#: The columns a CSV shard is read with: (target, features), as ``svgp fit`` takes them.
_Columns = tuple[str | None, Sequence[str] | None]


#: Which targets a likelihood takes: class indices (below a bound, 2 for Bernoulli, or any for
#: C classes counted over every shard) or real numbers.
_Labels = tuple[bool, int | None]


def _labels_of(likelihood: str) -> _Labels:
    """The targets ``likelihood`` takes (see :data:`_Labels`)."""
    return likelihood in CLASS_LIKELIHOODS, 2 if likelihood == "bernoulli" else None


def _load(
    source: Source, k: int, columns: _Columns, labels: _Labels = (False, None)
) -> tuple[Any, Any, list[str] | None]:
    """Shard k's rows as float arrays and, for a file, its feature names; arrays are checked
    (numbers, 2-D inputs with rows, one target per row, every entry finite), files by the
    reader (naming the file, line and column), and class targets are checked to be class
    indices; a ValueError or TypeError names the shard, the argument, row and column."""
    if isinstance(source, (str, os.PathLike)):
        target, features = columns
        X, y, names = _svgp.read_table(os.fspath(source), target, features)
        found: list[str] | None = list(names)
    else:
        X, y = _fetched(source)
        X = check_inputs(X, f"shard {k}: X")
        y = check_targets(y, X.shape[0], 1, f"shard {k}: y")
        found = None
    if labels[0]:
        check_class_indices(y, labels[1], f"shard {k}: y")
    return X, y, found


def _fetched(pair: tuple[Any, Any]) -> tuple[Any, Any]:
    """An (X, y) pair, fetched from Ray's object store when it holds references (Ray resolves
    only an argument's top level)."""
    try:
        import ray
    except ImportError:
        return pair
    if isinstance(pair[0], ray.ObjectRef):
        X, y = ray.get(list(pair))
        return X, y
    return pair


def _summary(
    source: Source, k: int, columns: _Columns, rows: int, seed: int, labels: _Labels
) -> dict[str, Any]:
    """What the driver needs of shard k before training, computed where the shard is: its row
    count, column means and sums of squared deviations (inputs and target), up to ``rows``
    rows drawn at random (seeded) for placing Z, its feature names and, for class targets, the
    classes it holds."""
    X, y, names = _load(source, k, columns, labels)
    idx = np.random.default_rng([seed, k]).permutation(X.shape[0])[:rows]
    return {
        "n": X.shape[0],
        "x": (X.mean(axis=0), ((X - X.mean(axis=0)) ** 2).sum(axis=0)),
        "y": (np.array([y.mean()]), np.array([((y - y.mean()) ** 2).sum()])),
        "sample": (X[idx], y[idx]),
        "names": names,
        "classes": np.unique(y) if labels[0] else None,
    }


def _num_classes(summaries: list[dict[str, Any]]) -> int | None:
    """C, for class targets: the classes 0 … C−1 the shards hold between them (ValueError
    naming a class index no shard holds)."""
    if summaries[0]["classes"] is None:
        return None
    held = np.unique(np.concatenate([s["classes"] for s in summaries]))
    c = int(held[-1]) + 1
    missing = sorted(set(range(c)) - {int(v) for v in held})
    if missing:
        raise ValueError(
            f"y: no shard holds class {missing[0]}: the class indices must be 0 … {c - 1}, "
            "each in some row"
        )
    return c


def _combine(parts: list[tuple[int, NDArray[Any], NDArray[Any]]]) -> tuple[Any, Any]:
    """Global means and population standard deviations from each shard's (count, mean, sum of
    squared deviations), by the pairwise update of Chan, Golub & LeVeque."""
    n, mean, m2 = parts[0]
    for nk, mk, m2k in parts[1:]:
        delta, total = mk - mean, n + nk
        mean = mean + delta * nk / total
        m2 = m2 + m2k + delta**2 * n * nk / total
        n = total
    return mean, np.sqrt(m2 / n)


def _pooled(summaries: list[dict[str, Any]], rows: int) -> tuple[Any, Any]:
    """Up to ``rows`` of the shards' drawn rows, each shard in proportion to its size."""
    total = sum(s["n"] for s in summaries)
    xs, ys = [], []
    for s in summaries:
        take = max(1, int(np.ceil(rows * s["n"] / total)))
        xs.append(s["sample"][0][:take])
        ys.append(s["sample"][1][:take])
    return np.vstack(xs), np.concatenate(ys)


def _check_columns(summaries: list[dict[str, Any]]) -> None:
    """ValueError unless every shard has shard 0's number of columns (and names, for files)."""
    d0 = summaries[0]["sample"][0].shape[1]
    for k, s in enumerate(summaries):
        d = s["sample"][0].shape[1]
        if d != d0:
            raise ValueError(f"shard {k}: X has {d} columns, shard 0 has {d0}")
        if s["names"] is not None and summaries[0]["names"] not in (None, s["names"]):
            raise ValueError(f"shard {k}: columns {s['names']} differ from shard 0's")


@takes_parameters(Model, exclude=("verbose",))
def fit(
    shards: Sequence[Source],
    *,
    backend: str = "ray",
    feature_names: Sequence[str] | None = None,
    target: str | None = None,
    features: Sequence[str] | None = None,
    checkpoint: PathLike | None = None,
    checkpoint_every: int = 100,
    resume: PathLike | None = None,
    max_retries: int = 3,
    restart_timeout: float = RESTART_TIMEOUT,
    callback: Callable[[int, float, float | None, int], bool | None] | None = None,
    **settings: Any,
) -> Model:
    """Trains one model on rows split into ``shards``, each held by its own worker: a Ray
    actor (``backend="ray"``; ``ray.init()`` first, or a local cluster is started) or an object
    in this process (``backend="local"``). A shard is an (X, y) pair of arrays, or the path of a
    CSV file (read with the columns ``target`` and ``features``, as ``svgp fit`` reads them) or
    of a binary ``.svgpb`` table, read where its worker runs (so the path must be valid there).

    A global batch has ``batch_size`` rows B, as in one process, drawn as a stratified sample:
    shard k draws B_k of its N_k rows each iteration (its own seeded stream, seed
    ``random_state + k``), B_k ∝ N_k by largest remainders (at least one row, at most N_k), and
    scales its part of the ELBO's data term by N_k / B_k, so that every row weighs the same
    whatever the shards' sizes (docs/MATH.md §7). Inputs (and regression targets) are
    standardised with the global moments; Z is placed by k-means++ on up to 4096 rows sampled
    from the shards; multiclass likelihoods take class indices 0 … C−1 in y.

    ``checkpoint`` is written every ``checkpoint_every`` iterations (and when training stops on
    a failure); ``resume`` continues from one exactly, on the same shards and settings. A
    worker that dies is restarted by Ray from its shard and the iteration is retried (at most
    ``max_retries`` times in a row; the trainer is unchanged by a failed iteration, so the
    result is that of an uninterrupted run). Each retry waits up to ``restart_timeout`` seconds
    for the restarted worker; one that cannot come back (its restart fails, say because its
    file is gone) stops training at once. Either way a :class:`WorkerLost` (a RuntimeError)
    names the shard, the iteration and the checkpoint written.

    Training parameters (:class:`svgp.Model`'s but ``verbose``)
    ------------------------------------------------------------
    {parameters}
    """
    if len(shards) == 0:
        raise ValueError("shards is empty: give at least one (X, y) pair or file")
    if backend not in ("ray", "local"):
        raise ValueError(f"backend {backend!r}: expected 'ray' or 'local'")
    if "verbose" in settings:
        raise TypeError("fit() got an unexpected keyword argument 'verbose'")
    model = Model(**settings)
    batch_size, max_iter = model.batch_size, model.max_iter
    core_settings = fit_settings(model, model.likelihood, None)
    columns: _Columns = (target, None if features is None else list(features))
    sources = _placed(backend, shards)
    model_json, sizes = _initial_model(backend, sources, columns, core_settings, feature_names)
    num_data = sum(sizes)
    resume_path = None if resume is None else os.fspath(resume)
    trainer = _svgp.ShardedTrainer(model_json, core_settings, num_data, resume_path)
    seed = core_settings["seed"]
    parts = _shares(sizes, batch_size)
    workers = _workers(backend, model_json, sources, columns, parts, seed)
    retries = (max_retries, restart_timeout)
    try:
        _train(trainer, workers, max_iter, checkpoint, checkpoint_every, retries, callback)
        terms = workers.full_data_term(trainer.hyper(), trainer.qs())
    finally:
        workers.close()
    model._fitted = trainer.fitted(terms)
    return model


def _shares(sizes: Sequence[int], batch_size: int) -> list[int]:
    """Each shard's part B_k of a global batch of ``batch_size`` rows over shards of ``sizes``
    rows: B_k ∝ N_k by largest remainders (ties to the earlier shard); a shard given none
    takes one row from the largest part, so that every shard draws (a batch has at least one
    row per shard); the full batch (B_k = N_k) when ``batch_size`` ≥ ΣN_k. Each shard scales
    its part by N_k / B_k (docs/MATH.md §7)."""
    total = sum(sizes)
    if batch_size >= total:
        return list(sizes)
    exact = [batch_size * n / total for n in sizes]
    parts = [int(e) for e in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda k: (parts[k] - exact[k], k))
    for k in by_remainder[: batch_size - sum(parts)]:
        parts[k] += 1
    for k in range(len(parts)):
        if parts[k] == 0:
            largest = max(range(len(parts)), key=lambda j: parts[j])
            parts[largest] -= parts[largest] > 1
            parts[k] = 1
    return parts


def _initial_model(
    backend: str,
    sources: list[Any],
    columns: _Columns,
    settings: dict[str, Any],
    feature_names: Sequence[str] | None,
) -> tuple[str, list[int]]:
    """The initial model file text and the shards' row counts N_k, from their summaries
    (map-reduced where the shards are): global moments for the scalings, pooled rows for Z,
    the feature names, the number of classes."""
    rows = max(SAMPLE_ROWS, settings["num_inducing"])
    labels = _labels_of(settings["likelihood"])
    seed = settings["seed"]
    summaries = _map(backend, _summary, sources, columns, rows, seed, labels)
    _check_columns(summaries)
    d = summaries[0]["sample"][0].shape[1]
    names = summaries[0]["names"] or [f"x{j + 1}" for j in range(d)]
    if feature_names is not None:
        names = list(feature_names)
    x_mean, x_sd = _combine([(s["n"], *s["x"]) for s in summaries])
    y_mean, y_sd = _combine([(s["n"], *s["y"]) for s in summaries])
    sample_x, sample_y = _pooled(summaries, rows)
    model_json = _svgp.initial_model(
        settings,
        sample_x,
        sample_y,
        (list(x_mean), list(x_sd)),
        (y_mean[0], y_sd[0]),
        names,
        _num_classes(summaries),
    )
    return model_json, [s["n"] for s in summaries]


def _placed(backend: str, shards: Sequence[Source]) -> list[Any]:
    """The shards as their workers receive them: arrays go to Ray's object store once (the
    references live as long as the workers, whose restarts read them); paths stay paths."""
    if backend == "local":
        return list(shards)
    ray = _ray()
    return [
        s if isinstance(s, (str, os.PathLike)) else (ray.put(s[0]), ray.put(s[1])) for s in shards
    ]


def _map(backend: str, f: Callable[..., Any], sources: list[Any], *args: Any) -> list[Any]:
    """``f(source, k, *args)`` for every shard k, where its worker would run."""
    if backend == "local":
        return [f(source, k, *args) for k, source in enumerate(sources)]
    ray = _ray()
    task = ray.remote(f)
    result: list[Any] = ray.get([task.remote(source, k, *args) for k, source in enumerate(sources)])
    return result


def _ray() -> Any:
    """The ``ray`` module, with a local cluster started when none is."""
    import ray

    if not ray.is_initialized():
        ray.init(include_dashboard=False)
    return ray


def _workers(
    backend: str,
    model_json: str,
    sources: list[Any],
    columns: _Columns,
    parts: list[int],
    seed: int,
) -> _LocalShards | _RayShards:
    """The shards' workers on ``backend``, shard k drawing ``parts[k]`` rows per iteration.
    On Ray the model text goes to the object store once, and its reference, like the shards',
    lives as long as the workers: a restart at any model size reads them again."""
    if backend == "local":
        return _LocalShards(
            [
                _Shard(model_json, source, k, columns, parts[k], seed + k)
                for k, source in enumerate(sources)
            ]
        )
    ray = _ray()
    actor = ray.remote(max_restarts=-1, max_task_retries=0)(_Shard)
    text = ray.put(model_json)
    actors = [
        actor.remote(text, source, k, columns, parts[k], seed + k)
        for k, source in enumerate(sources)
    ]
    return _RayShards(actors, [text, *sources])


def _train(
    trainer: Any,
    workers: _LocalShards | _RayShards,
    max_iter: int,
    checkpoint: PathLike | None,
    every: int,
    retries: tuple[int, float],
    callback: Callable[[int, float, float | None, int], bool | None] | None,
) -> None:
    """Iterations until ``max_iter``, each retried after a worker failure."""
    while trainer.iteration < max_iter:
        t = trainer.iteration + 1
        elbo, gamma, halvings = _iteration(trainer, workers, t, retries, checkpoint)
        if checkpoint is not None and (t % every == 0 or t == max_iter):
            trainer.save_checkpoint(os.fspath(checkpoint))
        if callback is not None and callback(t, elbo, gamma, halvings) is False:
            break


def _iteration(
    trainer: Any,
    workers: _LocalShards | _RayShards,
    t: int,
    retries: tuple[int, float],
    checkpoint: PathLike | None,
) -> tuple[float, float | None, int]:
    """Iteration ``t``: the trainer steps on the sum of the workers' parts of the batch; after
    a worker failure (a Ray actor error) it is retried, at most ``retries[0]`` times, each
    after waiting up to ``retries[1]`` seconds for the workers. A worker that cannot come back,
    or failures beyond that, raise :class:`WorkerLost` after writing the checkpoint."""
    max_retries, timeout = retries
    for attempt in range(max_retries + 1):
        try:
            result: tuple[float, float | None, int] = trainer.step(workers)
            return result
        except Exception as e:
            if not _is_worker_failure(e):
                _save(trainer, checkpoint)
                raise
            try:
                if attempt == max_retries:
                    raise WorkerLost(f"a worker failed {max_retries + 1} times") from e
                workers.wait_ready(timeout)
            except WorkerLost as lost:
                _save(trainer, checkpoint)
                where = f"; checkpoint at {checkpoint}" if checkpoint is not None else ""
                raise WorkerLost(f"iteration {t}: {lost}{where}") from e
    raise AssertionError("unreachable")


def _save(trainer: Any, checkpoint: PathLike | None) -> None:
    """The checkpoint, when one is asked for."""
    if checkpoint is not None:
        trainer.save_checkpoint(os.fspath(checkpoint))


def _is_worker_failure(e: BaseException) -> bool:
    """Whether ``e`` is a Ray worker's death (the actor is restarted; the step can be retried)."""
    try:
        from ray.exceptions import RayActorError
    except ImportError:
        return False
    return isinstance(e, RayActorError)
