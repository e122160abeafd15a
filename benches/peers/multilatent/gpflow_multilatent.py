#!/usr/bin/env python3
"""GPflow 2.11 reference runs for multi-latent SVGP with natural gradients (issue 14).

Adapted from shared/peers/gpflow_multilatent.py (the project's reference script for exactly these
models). Changes: every fixed input is read from data/ (written by make_data.py) instead of being
recomputed, so another implementation can use the same ones: the split, the standardisation, Z
and the minibatch index stream; the settings come from cases.py; one TensorFlow thread by default;
the full-training-set ELBO is recorded every 10 iterations; timings, final hyperparameters,
per-test-point predictions and versions are written with the result.

Models (whitened SVGP, zero mean, full-covariance q(v) = N(0, I) at the start, float64, jitter 1e-6):
  robustmax  MultiClass(C): RobustMax inverse link, epsilon = 1e-3 fixed (GPflow default),
             expectations by 20-point Gauss-Hermite; C latent GPs sharing Z and ONE SE-ARD kernel
             (variance 1, lengthscales 1 at the start).
  hetero     HeteroskedasticTFPConditional(Normal, scale_transform=Exp): y ~ N(f, exp(g)^2);
             latent 0 = f (location), latent 1 = g (log scale); SeparateIndependent([SE, SE]),
             shared Z (SharedIndependentInducingVariables); expectations by 20x20 Gauss-Hermite.
  gaussian   Gaussian likelihood (noise variance 0.1 at the start), one SE kernel.
Inputs standardised on the training rows; regression targets too (reported metrics are in the
original units of y; ELBOs are in standardised units, `elbo_original_units` converts the final one).

One iteration, on ONE minibatch (rows from the batches file): (1) a natural-gradient step on
(q_mu, q_sqrt) with gamma_t = exp(log 1e-4 + min(t/50, 1) (log gamma - log 1e-4)), t = 0, 1, ...
(GPflow NaturalGradient, xi = XiNat, i.e. the step in the natural parameters theta), then (2) one
Adam(lr, beta 0.9/0.999, eps 1e-7) step on every other trainable parameter (kernel variance(s) and
lengthscales, Gaussian noise, Z) with the gradient taken at the new q. Both in one tf.function.
Loss = minibatch -ELBO scaled by N/B.

    /tmp/peersvenv-ml/bin/python gpflow_multilatent.py wine_robustmax   # writes results/wine_robustmax.json
    (cases: see cases.py; --threads N, --out FILE, --no-save)
"""

import argparse
import hashlib
import json
import os
import platform
import sys
import time

import cases as cs

sys.path.insert(0, os.path.dirname(cs.HERE))
import peers_common as pc

ap = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
)
ap.add_argument("case", choices=sorted(cs.CASES))
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--trace-every", type=int, default=10)
ap.add_argument("--test-every", type=int, default=100)
ap.add_argument("--out", default=None, help="default results/<case>.json")
ap.add_argument("--no-save", action="store_true")
ap.add_argument(
    "--gamma", type=float, default=None, help="override the case's gamma (stability grid)"
)
ap.add_argument("--no-ramp", action="store_true", help="constant gamma from the first iteration")
ap.add_argument(
    "--iters",
    type=int,
    default=None,
    help="fewer iterations than the case (a prefix of its batches)",
)
ap.add_argument("--no-pred", action="store_true", help="do not write the per-test-point CSV")
a = ap.parse_args()
pc.set_threads(a.threads)

import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(a.threads)
tf.config.threading.set_inter_op_parallelism_threads(a.threads)
import gpflow
import tensorflow_probability as tfp
from gpflow.keras import tf_keras

C = dict(cs.CASES[a.case])
T_FILE = C["iters"]
if a.gamma is not None:
    C["gamma"] = a.gamma
if a.iters is not None:
    assert a.iters <= T_FILE, "--iters beyond the case's batch file"
    C["iters"] = a.iters
name, lik_name = C["data"], C["lik"]
regression = lik_name in ("hetero", "gaussian")


def rd(p):
    z = np.loadtxt(p, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    return z[:, :-1], z[:, -1:]


def sha(p):
    return hashlib.sha256(open(p, "rb").read()).hexdigest()


files = {
    "train": os.path.join(cs.DATA, f"{name}_train.csv"),
    "test": os.path.join(cs.DATA, f"{name}_test.csv"),
    "standardise": os.path.join(cs.DATA, f"{name}_standardise.json"),
    "Z": cs.z_file(name, C["M"]),
    "batches": cs.batches_file(name, C["B"], T_FILE) if C["B"] else None,
}
files = {k: p for k, p in files.items() if p}
Xtr, Ytr = rd(files["train"])
Xte, Yte = rd(files["test"])
with open(files["standardise"]) as fh:
    st = json.load(fh)
xm, xs = np.array(st["x_mean"]), np.array(st["x_sd"])
Xtr, Xte = (Xtr - xm) / xs, (Xte - xm) / xs
ym, ys = (st["y_mean"], st["y_sd"]) if regression else (0.0, 1.0)
Ytr_s = (Ytr - ym) / ys
Z = np.loadtxt(files["Z"], delimiter=",", skiprows=1, ndmin=2)
N, D = Xtr.shape
M, B, T = C["M"], C["B"] or N, C["iters"]
if C["B"]:
    idx = np.loadtxt(files["batches"], delimiter=",", dtype=np.int64, ndmin=2)
    assert idx.shape == (T_FILE, B), idx.shape
    assert np.array_equal(idx, pc.batch_indices(N, B, T_FILE, cs.BATCH_SEED)), (
        "batches file differs from the stream"
    )
    idx = idx[:T]
else:
    idx = None  # full batch: all rows in file order
assert Z.shape == (M, D), Z.shape

if lik_name == "robustmax":
    n_class = int(Ytr.max()) + 1
    kern = gpflow.kernels.SquaredExponential(variance=1.0, lengthscales=np.full(D, 1.0))
    lik = gpflow.likelihoods.MultiClass(n_class)
    model = gpflow.models.SVGP(kern, lik, Z.copy(), num_latent_gps=n_class, num_data=N, whiten=True)
elif lik_name == "hetero":
    lik = gpflow.likelihoods.HeteroskedasticTFPConditional(
        distribution_class=tfp.distributions.Normal, scale_transform=tfp.bijectors.Exp()
    )
    kern = gpflow.kernels.SeparateIndependent(
        [
            gpflow.kernels.SquaredExponential(variance=1.0, lengthscales=np.full(D, 1.0)),
            gpflow.kernels.SquaredExponential(variance=1.0, lengthscales=np.full(D, 1.0)),
        ]
    )
    iv = gpflow.inducing_variables.SharedIndependentInducingVariables(
        gpflow.inducing_variables.InducingPoints(Z.copy())
    )
    model = gpflow.models.SVGP(
        kern, lik, iv, num_latent_gps=lik.latent_dim, num_data=N, whiten=True
    )
else:
    kern = gpflow.kernels.SquaredExponential(variance=1.0, lengthscales=np.full(D, 1.0))
    model = gpflow.models.SVGP(
        kern, gpflow.likelihoods.Gaussian(variance=0.1), Z.copy(), num_data=N, whiten=True
    )
gpflow.set_trainable(model.q_mu, False)
gpflow.set_trainable(model.q_sqrt, False)
trainable_names = sorted(
    k for k, v in gpflow.utilities.parameter_dict(model).items() if v.trainable
)

gamma = tf.Variable(cs.GAMMA0, dtype=tf.float64)
ng = gpflow.optimizers.NaturalGradient(gamma=gamma)
# beta 0.9/0.999, epsilon 1e-7 (Keras defaults)
adam = tf_keras.optimizers.Adam(learning_rate=C["adam_lr"])
hyp = model.trainable_variables
Xtr_t, Ytr_t = tf.constant(Xtr), tf.constant(Ytr_s)


@tf.function
def step(Xb, Yb):
    ng.minimize(lambda: model.training_loss((Xb, Yb)), var_list=[(model.q_mu, model.q_sqrt)])
    with tf.GradientTape(watch_accessed_variables=False) as t:
        t.watch(hyp)
        loss = model.training_loss((Xb, Yb))
    adam.apply_gradients(zip(t.gradient(loss, hyp), hyp))
    return loss


@tf.function
def full_elbo():
    return model.elbo((Xtr_t, Ytr_t))


def test_metrics():
    """Test NLPD (original units of y) and accuracy or RMSE, from GPflow's own predictive."""
    if lik_name == "robustmax":
        yt = Yte.ravel().astype(int)
        p = model.predict_y(Xte)[0].numpy()
        return {
            "test_nlpd": float(-np.mean(np.log(np.clip(p[np.arange(len(yt)), yt], 1e-300, 1.0)))),
            "test_acc": float(np.mean(p.argmax(1) == yt)),
        }
    lpd = model.predict_log_density((Xte, (Yte - ym) / ys)).numpy().ravel() - np.log(ys)
    mu = model.predict_y(Xte)[0].numpy()[:, 0] * ys + ym
    return {
        "test_nlpd": float(-np.mean(lpd)),
        "test_rmse": float(np.sqrt(np.mean((mu - Yte.ravel()) ** 2))),
    }


def gamma_at(it):
    if a.no_ramp:
        return C["gamma"]
    return float(
        np.exp(
            np.log(cs.GAMMA0) + min(it / cs.RAMP, 1.0) * (np.log(C["gamma"]) - np.log(cs.GAMMA0))
        )
    )


probe = pc.LoadProbe()
trace = [[0, float(full_elbo().numpy())]]
loss_trace = []
test_trace = [[0, test_metrics()]]
times = []
failed = None
for it in range(T):
    gamma.assign(gamma_at(it))
    b = idx[it] if idx is not None else slice(None)
    t0 = time.perf_counter()
    try:
        loss = step(tf.constant(Xtr[b]), tf.constant(Ytr_s[b])).numpy()
    except tf.errors.InvalidArgumentError as e:  # a Cholesky or a parameter assign failing
        msg = [
            ln.strip()
            for ln in e.message.splitlines()
            if ln.strip()
            and not ln.startswith(
                ("Graph execution error", "Detected at node", "  File", "Stack trace")
            )
        ]
        failed = {"iteration": it, "error": " / ".join(msg)[:400]}
        break
    times.append(time.perf_counter() - t0)
    if not np.isfinite(loss):
        failed = {"iteration": it, "error": "non-finite minibatch loss"}
        break
    if (it + 1) % a.trace_every == 0:
        loss_trace.append([it + 1, float(loss)])
        trace.append([it + 1, float(full_elbo().numpy())])
    if (it + 1) % a.test_every == 0:
        test_trace.append([it + 1, test_metrics()])
load = probe.result()

out = {
    "case": a.case,
    "data": name,
    "likelihood": lik_name,
    "library": "gpflow",
    "N_train": N,
    "N_test": int(Xte.shape[0]),
    "D": D,
    "M": M,
    "B": B,
    "iters": T,
    "gamma": C["gamma"],
    "gamma_ramp": "none (constant)"
    if a.no_ramp
    else f"exp(log {cs.GAMMA0} + min(t/{cs.RAMP},1)(log gamma - log {cs.GAMMA0})), t = 0..iters-1",
    "adam_lr": C["adam_lr"],
    "adam": "tf_keras Adam, beta1 0.9, beta2 0.999, epsilon 1e-7",
    "trainable_by_adam": trainable_names,
    "natgrad": "gpflow.optimizers.NaturalGradient, xi = XiNat, on (q_mu, q_sqrt)",
    "whiten": True,
    "jitter": gpflow.config.default_jitter(),
    "threads": a.threads,
    "versions": {
        "gpflow": gpflow.__version__,
        "tensorflow": tf.__version__,
        "tensorflow_probability": tfp.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    },
    "machine": pc.machine_info(a.threads),
    "load": load,
    "inputs": {
        k: {"file": os.path.relpath(p, cs.HERE), "sha256": sha(p)} for k, p in files.items()
    },
    "failed": failed,
    "iters_done": len(times),
}
if times:
    out.update(
        train_seconds=float(np.sum(times)), **pc.summarize_times(times, min(10, len(times) - 1))
    )
out["elbo_trace_note"] = (
    "[iterations done, ELBO on the full training set] at 0 and after every "
    f"{a.trace_every} iterations" + ("; targets standardised" if regression else "")
)
out["elbo_trace"] = trace
out["minibatch_loss_trace"] = loss_trace
out["test_trace_note"] = (
    f"[iterations done, test metrics] at 0 and after every {a.test_every} iterations"
)
out["test_trace"] = test_trace
out["final_elbo"] = trace[-1][1]
if regression:
    out["elbo_original_units"] = trace[-1][1] - N * np.log(ys)

# learned hyperparameters (constrained values)
out["final_params"] = {
    k: np.asarray(v.numpy()).tolist()
    for k, v in gpflow.utilities.parameter_dict(model).items()
    if k not in (".q_mu", ".q_sqrt") and "inducing_variable" not in k
}

pred_rows, pred_header = None, None
if lik_name == "robustmax":
    yt = Yte.ravel().astype(int)
    fm, fv = (t.numpy() for t in model.predict_f(Xte))
    p = model.predict_y(Xte)[0].numpy()
    lp = np.log(np.clip(p[np.arange(len(yt)), yt], 1e-300, 1.0))
    out.update(
        test_acc=float(np.mean(p.argmax(1) == yt)),
        test_nlpd=float(-np.mean(lp)),
        train_acc=float(
            np.mean(model.predict_y(Xtr)[0].numpy().argmax(1) == Ytr.ravel().astype(int))
        ),
    )
    out["confusion_test"] = (
        np.bincount(yt * n_class + p.argmax(1), minlength=n_class**2)
        .reshape(n_class, n_class)
        .tolist()
    )
    pred_header = (
        [f"mean_f{c}" for c in range(n_class)]
        + [f"var_f{c}" for c in range(n_class)]
        + [f"p{c}" for c in range(n_class)]
        + ["y"]
    )
    pred_rows = np.column_stack([fm, fv, p, yt])
else:
    Yte_s = (Yte - ym) / ys
    lpd = model.predict_log_density((Xte, Yte_s)).numpy().ravel() - np.log(ys)
    ymean, yvar = (t.numpy() for t in model.predict_y(Xte))
    mu = ymean[:, 0] * ys + ym
    fm, fv = (t.numpy() for t in model.predict_f(Xte))
    out.update(
        test_nlpd=float(-np.mean(lpd)), test_rmse=float(np.sqrt(np.mean((mu - Yte.ravel()) ** 2)))
    )
    if lik_name == "hetero":
        # check of GPflow's 20x20 Gauss-Hermite: f integrates exactly, g by 100-point Gauss-Hermite
        gx, gw = np.polynomial.hermite.hermgauss(100)
        g = fm[:, 1:2] + np.sqrt(2 * fv[:, 1:2]) * gx[None, :]
        s2 = fv[:, 0:1] + np.exp(2 * g)
        lq = -0.5 * np.log(2 * np.pi * s2) - 0.5 * (Yte_s - fm[:, 0:1]) ** 2 / s2
        lpd2 = np.log(np.exp(lq) @ (gw / np.sqrt(np.pi))) - np.log(ys)
        out["test_nlpd_gh100"] = float(-np.mean(lpd2))
        # check of GPflow's 20x20 Gauss-Hermite in the ELBO: the closed form of E_q[log N(y | f, exp(2g))]
        # = -log(2 pi)/2 - mu_g - ((y - mu_f)^2 + var_f) exp(-2 mu_g + 2 var_g) / 2
        tm, tv = (t.numpy() for t in model.predict_f(Xtr))
        ve = (
            -0.5 * np.log(2 * np.pi)
            - tm[:, 1]
            - 0.5
            * ((Ytr_s[:, 0] - tm[:, 0]) ** 2 + tv[:, 0])
            * np.exp(-2 * tm[:, 1] + 2 * tv[:, 1])
        )
        out["final_elbo_closed_form"] = float(ve.sum() - model.prior_kl().numpy())
        pred_header = [
            "mean_f",
            "var_f",
            "mean_g",
            "var_g",
            "y_mean",
            "y_var",
            "log_pred_density",
            "y",
        ]
        pred_rows = np.column_stack(
            [fm[:, 0], fv[:, 0], fm[:, 1], fv[:, 1], mu, yvar[:, 0] * ys**2, lpd, Yte.ravel()]
        )
    else:
        pred_header = ["mean_f", "var_f", "y_mean", "y_var", "log_pred_density", "y"]
        pred_rows = np.column_stack([fm[:, 0], fv[:, 0], mu, yvar[:, 0] * ys**2, lpd, Yte.ravel()])
    out["test_pred_note"] = (
        "mean_f/var_f (and g) in standardised units; y_mean, y_var, log_pred_density, y in the original units"
    )

summary = {
    k: out.get(k)
    for k in (
        "case",
        "test_nlpd",
        "test_acc",
        "test_rmse",
        "final_elbo",
        "train_seconds",
        "ms_per_iter_median",
        "failed",
    )
}
print(json.dumps(summary), flush=True)
if not a.no_save:
    path = a.out or os.path.join(cs.RESULTS, f"{a.case}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    if pred_rows is not None and not a.no_pred:
        np.savetxt(
            path[:-5] + "_test_pred.csv",
            pred_rows,
            delimiter=",",
            fmt="%.10g",
            comments="",
            header=",".join(pred_header),
        )
