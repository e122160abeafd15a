# Copied from shared/peers/peers_common.py (the project's peer baselines, GPflow 2.11.2 / GPyTorch 1.15.2); the one change: DATA_DIR is $SVGP_PEERS_DATA (default /tmp/svgp-peers/data), not ./data.
"""Shared, library-agnostic pieces of the SVGP natural-gradient peer scripts.

Everything that must be *identical* between the GPflow run, the GPyTorch run and (later)
the Rust crate lives here and is plain numpy:

  * thread settings (must be applied before TensorFlow / torch are imported),
  * data loading (data/<name>_{train,test}.csv, last column y),
  * the minibatch index stream (numpy PCG64, epoch-wise permutation, remainder dropped),
  * initial hyperparameters,
  * test metrics computed from the latent predictive mean/variance (so the metric code
    cannot differ between libraries).
"""

import json
import math
import os
import platform
import time

DATA_DIR = os.environ.get("SVGP_PEERS_DATA", "/tmp/svgp-peers/data")

# Initial values used by every peer (constrained space).
INIT = {
    "kernel_variance": 1.0,
    "lengthscale": 1.0,  # same for every ARD dimension
    "gaussian_noise_variance": 0.1,
    "studentt_df": 3.0,  # fixed, not trained
    "studentt_scale": 0.3,
}
ADAM_LR = 0.01
DEFAULT_LIK = {
    "reg_1d": "gaussian",
    "reg_8d": "gaussian",
    "clf_2d": "bernoulli",
    "studentt_1d": "studentt",
}


def set_threads(n):
    """Pin every thread pool we know about to n threads. Call before importing TF/torch."""
    n = str(int(n))
    for k in (
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "TF_NUM_INTRAOP_THREADS",
        "TF_NUM_INTEROP_THREADS",
    ):
        os.environ[k] = n
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def load(name):
    import numpy as np

    def rd(split):
        a = np.loadtxt(
            os.path.join(DATA_DIR, f"{name}_{split}.csv"),
            delimiter=",",
            skiprows=1,
            dtype=np.float64,
        )
        if a.ndim == 1:
            a = a[None, :]
        return a[:, :-1].copy(), a[:, -1:].copy()

    Xtr, Ytr = rd("train")
    Xte, Yte = rd("test")
    return Xtr, Ytr, Xte, Yte


def batch_indices(n, b, iters, seed=0):
    """(iters, b) int64 array: concatenated epochs, each a fresh permutation of range(n),
    cut into batches of exactly b (remainder of each epoch dropped). b >= n => full batch."""
    import numpy as np

    if b >= n:
        return np.tile(np.arange(n), (iters, 1))
    rng = np.random.default_rng(seed)
    per_epoch = n // b
    out = []
    while len(out) < iters:
        perm = rng.permutation(n)
        for k in range(per_epoch):
            out.append(perm[k * b : (k + 1) * b])
            if len(out) == iters:
                break
    return np.stack(out)


def gauss_hermite(n=50):
    import numpy as np

    x, w = np.polynomial.hermite.hermgauss(n)
    return x, w


def metrics(lik, mu, var, y, lik_params):
    """Test metrics from the latent predictive N(mu, var) per test point.

    gaussian:  rmse, mae, nlpd = -mean log N(y | mu, var + noise)
    bernoulli: acc, nlpd = -mean log Bern(y | Phi(mu / sqrt(1 + var)))     (probit link)
    studentt:  rmse, mae (of the predictive mean mu), nlpd by 50-point Gauss-Hermite of
               log int St(y | f, df, scale) N(f | mu, var) df
    """
    import numpy as np
    from scipy.special import gammaln, log_ndtr, logsumexp

    mu = np.asarray(mu, np.float64).reshape(-1)
    var = np.asarray(var, np.float64).reshape(-1)
    y = np.asarray(y, np.float64).reshape(-1)
    out = {}
    if lik == "gaussian":
        s2 = var + lik_params["noise_variance"]
        lpd = -0.5 * np.log(2 * np.pi * s2) - 0.5 * (y - mu) ** 2 / s2
        out.update(
            test_rmse=float(np.sqrt(np.mean((y - mu) ** 2))),
            test_mae=float(np.mean(np.abs(y - mu))),
        )
    elif lik == "bernoulli":
        z = mu / np.sqrt(1.0 + var)
        lpd = np.where(y > 0.5, log_ndtr(z), log_ndtr(-z))
        out.update(test_acc=float(np.mean((z > 0) == (y > 0.5))))
    elif lik == "studentt":
        df, sc = lik_params["df"], lik_params["scale"]
        gx, gw = gauss_hermite(50)
        f = mu[:, None] + np.sqrt(2.0 * var)[:, None] * gx[None, :]
        r = (y[:, None] - f) / sc
        logst = (
            gammaln((df + 1) / 2)
            - gammaln(df / 2)
            - 0.5 * np.log(df * np.pi)
            - np.log(sc)
            - (df + 1) / 2 * np.log1p(r**2 / df)
        )
        lpd = logsumexp(logst + np.log(gw)[None, :], axis=1) - 0.5 * np.log(np.pi)
        out.update(
            test_rmse=float(np.sqrt(np.mean((y - mu) ** 2))),
            test_mae=float(np.mean(np.abs(y - mu))),
        )
    else:
        raise ValueError(lik)
    out["test_nlpd"] = float(-np.mean(lpd))
    return out


def machine_info(threads):
    info = {
        "nproc": os.cpu_count(),
        "threads": int(threads),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "loadavg1_start": round(os.getloadavg()[0], 2),
    }
    return info


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def add_run_args(ap):
    """The options of a timed run both peer scripts declare alike: sizes, steps, seed, threads,
    initialisation, the full-batch mode and the output files."""
    ap.add_argument("--M", type=int, default=100)
    ap.add_argument("--B", type=int, default=256)
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--gamma", type=float, default=0.1)
    ap.add_argument("--adam-lr", type=float, default=ADAM_LR)
    ap.add_argument("--seed", type=int, default=0, help="minibatch stream seed")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--warmup", type=int, default=10, help="iterations excluded from the timing median"
    )
    ap.add_argument("--init", choices=["first", "kmeans"], default="first")
    ap.add_argument("--full-batch-step", action="store_true")
    ap.add_argument("--reps", type=int, default=5, help="timed full-batch steps (after 1 warm-up)")
    ap.add_argument("--out", default=None, help="append the JSON line to this file")
    ap.add_argument("--trace", default=None, help="write per-iteration minibatch loss (JSON) here")


def parse_run_args(ap):
    """Adds the time-to-accuracy options to a peer script's parser, parses, and fills in --lik by
    data set where it was not given."""
    add_time_to_accuracy_args(ap)
    a = ap.parse_args()
    a.lik = a.lik or DEFAULT_LIK.get(a.data, "gaussian")
    return a


def add_time_to_accuracy_args(ap):
    """The options both peer scripts take for time_to_accuracy.py: evaluations off the clock and
    the stopping rules."""
    ap.add_argument(
        "--eval-every", type=int, default=0, help="test NLPD every K iterations, off the clock"
    )
    ap.add_argument(
        "--max-seconds", type=float, default=None, help="stop when the training clock reaches this"
    )
    ap.add_argument(
        "--target-nlpd", type=float, default=None, help="stop at the first evaluation <= this"
    )
    ap.add_argument(
        "--stream-epochs",
        type=int,
        default=0,
        help="cycle the first E epochs of the minibatch stream (0: the stream of --iters batches)",
    )


def summarize_times(ts, warmup):
    import numpy as np

    t = np.asarray(ts[warmup:]) * 1e3
    return {
        "ms_per_iter_median": float(np.median(t)),
        "ms_per_iter_p10": float(np.percentile(t, 10)),
        "ms_per_iter_p90": float(np.percentile(t, 90)),
        "first_iter_s": float(ts[0]),  # includes tracing / compilation
        "timed_iters": len(t),
    }


def emit(result, out_path=None):
    result["loadavg1_end"] = round(os.getloadavg()[0], 2)
    line = json.dumps(result, sort_keys=False)
    print(line, flush=True)
    if out_path:
        with open(out_path, "a") as fh:
            fh.write(line + "\n")


now = time.perf_counter
cpu_now = time.process_time


def _proc_stat():
    with open("/proc/stat") as fh:
        vals = [int(v) for v in fh.readline().split()[1:9]]
    return sum(vals), vals[3] + vals[4]  # total, idle+iowait jiffies


class LoadProbe:
    """Measures, over a timed region, how busy the whole machine was and how much of that was us.
    other_busy_frac > ~0.1 means another process competed for the cores (timings then unreliable)."""

    def __init__(self):
        self.t0, self.c0, self.s0 = now(), cpu_now(), _proc_stat()

    def result(self):
        wall, own = now() - self.t0, cpu_now() - self.c0
        tot, idle = _proc_stat()
        dt, di = tot - self.s0[0], idle - self.s0[1]
        ncpu = os.cpu_count() or 1
        busy = (dt - di) / dt if dt > 0 else float("nan")
        own_frac = own / (wall * ncpu) if wall > 0 else float("nan")
        return {
            "sys_busy_frac": round(busy, 3),
            "own_cpu_frac": round(own_frac, 3),
            "other_busy_frac": round(max(0.0, busy - own_frac), 3),
        }


def base_result(args, library, version, backend, n, d, **extra):
    """The fields every peer result starts with: the library, the task and its sizes, the settings
    (``extra`` after ``init``: a script's own ones) and the machine."""
    return {
        "library": library,
        "version": version,
        "backend": backend,
        "task": args.data,
        "lik": args.lik,
        "N": n,
        "D": d,
        "M": args.M,
        "gamma": args.gamma,
        "optimizer": args.optimizer,
        "init": args.init,
        **extra,
        **({"bernoulli": args.bernoulli} if args.lik == "bernoulli" else {}),
        **machine_info(args.threads),
    }


def time_full_batch_step(step, reps, n):
    """Times ``step()`` (one natural step on all ``n`` rows) ``reps`` + 1 times, the first a
    warm-up: the timing fields of a --full-batch-step result."""
    import numpy as np

    ts, probe = [], LoadProbe()
    for _ in range(reps + 1):
        t0 = now()
        step()
        ts.append(now() - t0)
    return dict(
        mode="full_batch_natgrad_step",
        B=n,
        reps=reps,
        ms_per_step_median=float(np.median(ts[1:]) * 1e3),
        first_step_s=float(ts[0]),
        step_s_all=[round(t, 4) for t in ts],
        **probe.result(),
    )


def write_trace(path, library, args, loop):
    """Writes a run's per-iteration minibatch losses and times (``loop``: a finished TrainLoop) with
    its arguments to ``path`` as JSON (run.py's --trace files)."""
    with open(path, "w") as fh:
        json.dump(
            {
                "library": library,
                "args": vars(args),
                "minibatch_loss": loop.losses,
                "iter_s": loop.ts,
            },
            fh,
        )


class TrainLoop:
    """The timed training loop both peer scripts run (svgp's is examples/peer_timing.rs).

    ``one(it)`` runs iteration ``it`` and returns its loss on GPflow's scale, or a string naming the
    library's error. The clock sums the iteration times from the second on (the first, with its
    tracing, is reported, not clocked); with ``args.eval_every`` the test NLPD is taken before the
    first iteration and every that many, off the clock, into ``curve`` as (iteration, clock, NLPD,
    CPU seconds on the clock); the loop ends at ``args.iters``, an error, a non-finite loss, the
    first NLPD at or below ``args.target_nlpd`` or a clock of ``args.max_seconds``.
    """

    def __init__(self, args, one, test_nlpd):
        self.losses, self.ts, self.curve = [], [], []
        self.clock, self.reached, self.error = 0.0, False, None
        if args.eval_every:
            self.curve.append((0, 0.0, test_nlpd(), 0.0))
        cpu_off = 0.0  # process CPU seconds outside the clock (first iteration, evaluations)
        t_all, c_all, probe = now(), cpu_now(), LoadProbe()
        for it in range(args.iters):
            t0 = now()
            loss = one(it)
            if isinstance(loss, str):
                self.error = loss
                break
            self.ts.append(now() - t0)
            self.clock += self.ts[-1] if it > 0 else 0.0
            if it == 0:
                cpu_off += cpu_now() - c_all
            self.losses.append(float(loss))
            if not math.isfinite(loss):
                self.error = "non-finite loss"
                break
            if args.eval_every and (it + 1) % args.eval_every == 0:
                c1 = cpu_now()
                self.curve.append((it + 1, self.clock, test_nlpd(), c1 - c_all - cpu_off))
                cpu_off += cpu_now() - c1
                if args.target_nlpd is not None and self.curve[-1][2] <= args.target_nlpd:
                    self.reached = True
                    break
            if args.max_seconds is not None and self.clock >= args.max_seconds:
                break
        self.train_s, self.train_cpu_s = now() - t_all, cpu_now() - c_all
        self.load = probe.result()

    def _run_fields(self, args):
        """The fields a finished and a failed run share first."""
        return {
            "mode": "minibatch_natgrad_adam",
            "B": args.B,
            "iters": len(self.losses),
            "adam_lr": args.adam_lr,
            "seed": args.seed,
        }

    def failure(self, args):
        """The result fields of a run that stopped on an error."""
        return dict(
            **self._run_fields(args),
            error=self.error,
            failed_at_iter=len(self.losses) + 1,
            minibatch_loss_last=self.losses[-1] if self.losses else None,
            **self.load,
            train_clock_s=self.clock,
            curve=self.curve,
        )

    def success(self, args):
        """The timing fields of a finished run."""
        return dict(
            **self._run_fields(args),
            **summarize_times(self.ts, args.warmup),
            train_s=float(self.train_s),
            train_cpu_s=float(self.train_cpu_s),
            **self.load,
            minibatch_loss_first=self.losses[0],
            minibatch_loss_last=self.losses[-1],
            train_clock_s=self.clock,
            reached_target=self.reached,
            curve=self.curve,
        )
