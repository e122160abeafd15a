"""Data-parallel training: the rows split into shards, each held by a worker (a Ray actor, or
an object in this process), which evaluates its part of every global minibatch.

The ELBO is a sum over rows plus a KL term, so the data term's value and gradients (∂/∂m,
∂/∂S of every latent, the hyperparameter and Z gradient) add up over shards and have a fixed
size, O(L M²), whatever a shard holds. A global batch of B rows is drawn as a stratified
sample: shard k draws B_k ∝ N_k of its rows (its own seeded stream) and scales its part by
N_k / B_k, so the sum is an unbiased estimate of the full-data term whatever the shards' sizes
(docs/MATH.md §7). Training runs in the Rust core through the library's one fitting path, the
same code as a single-process fit (scalings, Z, the run loop with its callback, stop rules and
checkpoints, the full-data ELBO); this module only places the shards and moves bytes. The
trainer asks the workers twice per iteration in the common case: the batch at the
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
from numpy.typing import ArrayLike

from . import _svgp
from ._core import check_callback, check_class_indices, check_inputs, check_targets
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

    def begin(self, t: int, hyper: list[float]) -> None:
        self.worker.begin(t, hyper)

    def evaluate(self, t: int, hyper: list[float], qs: Any, token: int, scope: str) -> Any:
        return self.worker.evaluate(t, hyper, qs, token, scope)

    def terms(self, qs: Any, token: int, scope: str, last_checked: bool) -> Any:
        return self.worker.terms(qs, token, scope, last_checked)

    def check(self, qs: Any, token: int, with_hyper: bool) -> Any:
        return self.worker.check(qs, token, with_hyper)

    def full_data_term(self, hyper: list[float], qs: Any) -> float:
        return float(self.worker.full_data_term(hyper, qs))

    def ready(self) -> bool:
        return True


class _LocalShards:
    """Shards in this process, evaluated in turn. The Rust driver calls these methods: ``start``
    once, then each iteration ``evaluate``, ``terms`` and ``check`` (``begin`` after a
    restart), and ``full_data_term`` at the end; each answers for every shard, in order."""

    def __init__(self, sources: list[Any], columns: _Columns, sizes: list[int]) -> None:
        self.sources, self.columns, self.sizes = sources, columns, sizes
        self.shards: list[_Shard] = []

    def start(self, model_json: str, batch_size: int, seed: int) -> list[int]:
        """Builds the workers of the model in ``model_json``, shard k drawing B_k of every
        global batch of ``batch_size`` rows with seed ``seed + k``; returns the B_k."""
        parts = _shares(self.sizes, batch_size)
        self.shards = [
            _Shard(model_json, source, k, self.columns, parts[k], seed + k)
            for k, source in enumerate(self.sources)
        ]
        return parts

    def begin(self, t: int, hyper: list[float]) -> None:
        for s in self.shards:
            s.begin(t, hyper)

    def evaluate(self, t: int, hyper: list[float], qs: Any, token: int, scope: str) -> list[Any]:
        return [s.evaluate(t, hyper, qs, token, scope) for s in self.shards]

    def terms(self, qs: Any, token: int, scope: str, last_checked: bool) -> list[Any]:
        return [s.terms(qs, token, scope, last_checked) for s in self.shards]

    def check(self, qs: Any, token: int, with_hyper: bool) -> list[Any]:
        return [s.check(qs, token, with_hyper) for s in self.shards]

    def full_data_term(self, hyper: list[float], qs: Any) -> list[float]:
        return [s.full_data_term(hyper, qs) for s in self.shards]

    def wait_ready(self, timeout: float) -> None:
        """Shards in this process are always ready."""

    def close(self) -> None:
        """Nothing to end: the shards go with this object."""


class _RayShards:
    """Shards in Ray actors, evaluated in parallel (the methods of :class:`_LocalShards`): each
    call is one round trip to every actor, and q's go to the object store once per call, one
    entry all actors read. An actor that dies is restarted by Ray (``max_restarts``) from its
    constructor's arguments, which live in the object store as long as this object
    (``refs``)."""

    def __init__(self, sources: list[Any], columns: _Columns, sizes: list[int]) -> None:
        self.ray = _ray()
        self.sources, self.columns, self.sizes = sources, columns, sizes
        self.actors: list[Any] = []
        self.refs: list[Any] = list(sources)
        #: Round trips and bytes of q's put in the object store, for reports.
        self.calls = 0
        self.q_bytes = 0

    def start(self, model_json: str, batch_size: int, seed: int) -> list[int]:
        """The actors of :meth:`_LocalShards.start`. The model text goes to the object store
        once, and its reference, like the shards', lives as long as the actors: a restart at
        any model size reads them again."""
        parts = _shares(self.sizes, batch_size)
        actor = self.ray.remote(max_restarts=-1, max_task_retries=0)(_Shard)
        text = self.ray.put(model_json)
        self.refs.append(text)
        self.actors = [
            actor.remote(text, source, k, self.columns, parts[k], seed + k)
            for k, source in enumerate(self.sources)
        ]
        return parts

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

    def begin(self, t: int, hyper: list[float]) -> None:
        self._all("begin", t, hyper)

    def evaluate(self, t: int, hyper: list[float], qs: Any, token: int, scope: str) -> list[Any]:
        return self._all("evaluate", t, hyper, self._put(qs), token, scope)

    def terms(self, qs: Any, token: int, scope: str, last_checked: bool) -> list[Any]:
        return self._all("terms", self._put(qs), token, scope, last_checked)

    def check(self, qs: Any, token: int, with_hyper: bool) -> list[Any]:
        return self._all("check", self._put(qs), token, with_hyper)

    def full_data_term(self, hyper: list[float], qs: Any) -> list[float]:
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
    """What the driver needs of shard k before training, computed where the shard is: the
    moments of its inputs' and target's columns (rows, means, sums of squared deviations, which
    the driver merges), up to ``rows`` rows drawn at random (seeded, kept in shard order) for
    placing Z, its feature names and, for class targets, the classes it holds."""
    X, y, names = _load(source, k, columns, labels)
    idx = np.sort(np.random.default_rng([seed, k]).permutation(X.shape[0])[:rows])
    return {
        "x": _svgp.column_moments(X),
        "y": _svgp.column_moments(np.asarray(y, dtype=np.float64).reshape(-1, 1)),
        "sample": X[idx],
        "names": names,
        "classes": np.unique(y) if labels[0] else None,
    }


def _num_classes(summaries: list[dict[str, Any]]) -> tuple[int | None, bool]:
    """C, for class targets: the classes 0 … C−1 the shards hold between them (ValueError
    naming a class index no shard holds); and whether they hold one class only."""
    if summaries[0]["classes"] is None:
        return None, False
    held = np.unique(np.concatenate([s["classes"] for s in summaries]))
    c = int(held[-1]) + 1
    missing = sorted(set(range(c)) - {int(v) for v in held})
    if missing:
        raise ValueError(
            f"y: no shard holds class {missing[0]}: the class indices must be 0 … {c - 1}, "
            "each in some row"
        )
    return c, len(held) == 1


def _pooled(summaries: list[dict[str, Any]], rows: int) -> Any:
    """Up to ``rows`` of the shards' drawn rows (inputs), each shard in proportion to its
    size."""
    total = sum(s["x"][0] for s in summaries)
    xs = []
    for s in summaries:
        take = max(1, int(np.ceil(rows * s["x"][0] / total)))
        xs.append(s["sample"][:take])
    return np.vstack(xs)


def _check_columns(summaries: list[dict[str, Any]]) -> None:
    """ValueError unless every shard has shard 0's number of columns (and names, for files)."""
    d0 = summaries[0]["sample"].shape[1]
    for k, s in enumerate(summaries):
        d = s["sample"].shape[1]
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
    core_settings = fit_settings(model, model.likelihood, None)
    callback = check_callback(callback)
    columns: _Columns = (target, None if features is None else list(features))
    sources = _placed(backend, shards)
    summary, sizes = _summarise(backend, sources, columns, core_settings, feature_names)
    run = {
        "checkpoint": None if checkpoint is None else os.fspath(checkpoint),
        "checkpoint_every": checkpoint_every,
        "resume": None if resume is None else os.fspath(resume),
        "max_retries": max_retries,
        "restart_timeout": restart_timeout,
    }
    workers = _workers(backend, sources, columns, sizes)
    try:
        fitted, error = _svgp.fit_sharded(workers, summary, core_settings, run, callback)
    finally:
        workers.close()
    model._fitted = fitted
    if error is not None:
        raise error
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


def _summarise(
    backend: str,
    sources: list[Any],
    columns: _Columns,
    settings: dict[str, Any],
    feature_names: Sequence[str] | None,
) -> tuple[dict[str, Any], list[int]]:
    """What the driver needs of the shards (their summaries, map-reduced where they are): each
    shard's column moments, pooled rows for Z, the feature names, the number of classes; and
    the shards' row counts N_k."""
    rows = max(SAMPLE_ROWS, settings["num_inducing"])
    labels = _labels_of(settings["likelihood"])
    seed = settings["seed"]
    summaries = _map(backend, _summary, sources, columns, rows, seed, labels)
    _check_columns(summaries)
    d = summaries[0]["sample"].shape[1]
    names = summaries[0]["names"] or [f"x{j + 1}" for j in range(d)]
    if feature_names is not None:
        names = list(feature_names)
    num_classes, single_class = _num_classes(summaries)
    summary = {
        "x_moments": [s["x"] for s in summaries],
        "y_moments": [s["y"] for s in summaries],
        "sample": _pooled(summaries, rows),
        "feature_names": names,
        "num_classes": num_classes,
        "single_class": single_class,
    }
    return summary, [s["x"][0] for s in summaries]


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
    backend: str, sources: list[Any], columns: _Columns, sizes: list[int]
) -> _LocalShards | _RayShards:
    """The shards' workers on ``backend``, not yet started (the driver starts them with the
    model it trains)."""
    if backend == "local":
        return _LocalShards(sources, columns, sizes)
    return _RayShards(sources, columns, sizes)
