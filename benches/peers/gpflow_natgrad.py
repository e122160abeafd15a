#!/usr/bin/env python3
# Copied from shared/peers/gpflow_natgrad.py (the project's peer baselines, GPflow 2.11.2 / GPyTorch 1.15.2); changed: this line, and the
# time-to-accuracy options (--optimizer, --eval-every, --max-seconds, --target-nlpd, --stream-epochs; time_to_accuracy.py).
"""GPflow peer: SVGP trained with natural gradients (q_mu, q_sqrt) alternating with Adam
(hyperparameters + inducing inputs), GPflow's documented pattern.

Model: gpflow.models.SVGP(SquaredExponential ARD, likelihood, Z, num_data=N,
       whiten=True, q_diag=False); Z = first M training inputs (or --init kmeans).
Each iteration, on ONE minibatch (shared numpy index stream, peers_common.batch_indices):
    1. NaturalGradient(gamma).minimize(loss, [(q_mu, q_sqrt)])      (xi = natural params)
    2. Adam(lr).apply_gradients on model.trainable_variables          (q_mu, q_sqrt set non-trainable)
Both inside one tf.function. The loss returned per iteration is the minibatch -ELBO
evaluated between the natgrad and Adam updates (it is the Adam step's loss).

--optimizer adam trains q_mu and q_sqrt by the same Adam instead (no natural step). With
--eval-every K the test NLPD is computed before the first iteration and after every K-th, outside
the timed region (JSON "curve": [iteration, training seconds, NLPD, training CPU seconds of the
process] rows; the clocks leave out the first iteration, which holds the tracing); --max-seconds and
--target-nlpd stop the run on that clock or at the first evaluation at or below the target;
--stream-epochs E cycles the first E epochs of the minibatch stream (as time_to_accuracy.py
gives the crate).

Prints one JSON line. --full-batch-step instead times natgrad-only steps on the full
training set (no Adam), e.g. --data reg_8d --M 500 --gamma 1 --full-batch-step.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers_common as pc


def parse():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", default="reg_8d")
    ap.add_argument(
        "--lik",
        choices=["gaussian", "bernoulli", "studentt"],
        default=None,
        help="default: by data set (reg_* gaussian, clf_2d bernoulli, studentt_1d studentt)",
    )
    pc.add_run_args(ap)
    ap.add_argument(
        "--bernoulli",
        choices=["exact", "gpflow"],
        default="exact",
        help="exact: log Phi((2y-1)f) probit (as gpytorch); gpflow: stock gpflow Bernoulli, whose "
        "inv_probit is squashed to [1e-3, 1-1e-3]",
    )
    ap.add_argument(
        "--optimizer",
        choices=["natgrad", "adam"],
        default="natgrad",
        help="natgrad: natural step on q then Adam on the rest; adam: Adam on everything",
    )
    return pc.parse_run_args(ap)


args = parse()
pc.set_threads(args.threads)

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tf.config.threading.set_intra_op_parallelism_threads(args.threads)
tf.config.threading.set_inter_op_parallelism_threads(args.threads)
import gpflow
from check_shapes import inherit_check_shapes
from gpflow.keras import tf_keras

_SQRT2 = np.sqrt(2.0)


class ProbitBernoulli(gpflow.likelihoods.ScalarLikelihood):
    """Bernoulli with the exact probit link, p(y|f) = Phi((2y-1) f), y in {0,1}, evaluated with log_ndtr.
    (gpflow.likelihoods.Bernoulli uses Phi(f)(1-2e-3)+1e-3, which changes the ELBO noticeably.)
    Variational expectations: GPflow's default 20-point Gauss-Hermite, as in gpytorch."""

    @inherit_check_shapes
    def _scalar_log_prob(self, X, F, Y):
        return _log_ndtr((2.0 * Y - 1.0) * F)

    @inherit_check_shapes
    def _conditional_mean(self, X, F):
        return _ndtr(F)

    @inherit_check_shapes
    def _conditional_variance(self, X, F):
        p = _ndtr(F)
        return p - p**2

    @inherit_check_shapes
    def _predict_mean_and_var(self, X, Fmu, Fvar):
        p = _ndtr(Fmu / tf.sqrt(1.0 + Fvar))
        return p, p - p**2

    @inherit_check_shapes
    def _predict_log_density(self, X, Fmu, Fvar, Y):
        return tf.reduce_sum(_log_ndtr((2.0 * Y - 1.0) * Fmu / tf.sqrt(1.0 + Fvar)), axis=-1)


def _ndtr(x):
    return 0.5 * tf.math.erfc(-x / _SQRT2)


def _log_ndtr(x):
    # tfp's Normal.log_cdf is special_math.log_ndtr (asymptotic series in the far lower tail)
    return tfp.distributions.Normal(tf.zeros([], x.dtype), tf.ones([], x.dtype)).log_cdf(x)


def build(Xtr, Ytr):
    N, D = Xtr.shape
    if args.init == "kmeans":
        from sklearn.cluster import KMeans

        Z = KMeans(n_clusters=args.M, random_state=0, n_init=1).fit(Xtr).cluster_centers_
    else:
        Z = Xtr[: args.M].copy()
    kern = gpflow.kernels.SquaredExponential(
        variance=pc.INIT["kernel_variance"], lengthscales=np.full(D, pc.INIT["lengthscale"])
    )
    if args.lik == "gaussian":
        lik = gpflow.likelihoods.Gaussian(variance=pc.INIT["gaussian_noise_variance"])
    elif args.lik == "bernoulli":
        lik = ProbitBernoulli() if args.bernoulli == "exact" else gpflow.likelihoods.Bernoulli()
    else:
        lik = gpflow.likelihoods.StudentT(
            scale=pc.INIT["studentt_scale"], df=pc.INIT["studentt_df"]
        )
    model = gpflow.models.SVGP(kern, lik, Z, num_data=N, whiten=True, q_diag=False)
    if args.optimizer == "natgrad":
        gpflow.set_trainable(model.q_mu, False)
        gpflow.set_trainable(model.q_sqrt, False)
    return model


def lik_params(model):
    if args.lik == "gaussian":
        return {"noise_variance": float(model.likelihood.variance.numpy())}
    if args.lik == "studentt":
        return {"df": float(model.likelihood.df), "scale": float(model.likelihood.scale.numpy())}
    return {}


def hyper_summary(model):
    ls = model.kernel.lengthscales.numpy()
    h = {
        "kernel_variance": float(model.kernel.variance.numpy()),
        "lengthscales": [float(v) for v in np.atleast_1d(ls)],
    }
    h.update(lik_params(model))
    return h


def full_elbo(model, X, Y):
    return float(model.elbo((tf.constant(X), tf.constant(Y))).numpy())


def base_result(N, D):
    backend = f"tensorflow-cpu {tf.__version__}"
    return pc.base_result(args, "gpflow", gpflow.__version__, backend, N, D)


def emit_full_batch_step(model, natgrad, var_pair, Xtr, Ytr):
    """--full-batch-step: times natural steps on the full data and emits the JSON line."""
    N, D = Xtr.shape
    Xf, Yf = tf.constant(Xtr), tf.constant(Ytr)

    @tf.function
    def ng_full():
        natgrad.minimize(lambda: model.training_loss((Xf, Yf)), var_list=var_pair)
        return model.q_mu[0, 0]

    elbo0 = full_elbo(model, Xtr, Ytr)
    res = base_result(N, D)
    res.update(
        **pc.time_full_batch_step(lambda: ng_full().numpy(), args.reps, N),
        elbo_before=elbo0,
        elbo_after=full_elbo(model, Xtr, Ytr),
    )
    pc.emit(res, args.out)


def emit_success(model, data, elbo0, run):
    """Emits the JSON line of a finished run: final ELBO, test metrics, hyperparameters."""
    Xtr, Ytr, Xte, Yte = data
    N, D = Xtr.shape
    mu, var = model.predict_f(tf.constant(Xte))
    mu, var = mu.numpy(), var.numpy()
    native_nlpd = -float(
        np.mean(model.predict_log_density((tf.constant(Xte), tf.constant(Yte))).numpy())
    )
    res = base_result(N, D)
    res.update(
        run.success(args),
        elbo_init=elbo0,
        final_elbo=full_elbo(model, Xtr, Ytr),
        **pc.metrics(args.lik, mu, var, Yte, lik_params(model)),
        native_test_nlpd=native_nlpd,
        hyper=hyper_summary(model),
    )
    res["final_elbo_per_datum"] = res["final_elbo"] / N
    if args.trace:
        pc.write_trace(args.trace, "gpflow", args, run)
    pc.emit(res, args.out)


def main():
    Xtr, Ytr, Xte, Yte = pc.load(args.data)
    N, D = Xtr.shape
    model = build(Xtr, Ytr)
    natgrad = gpflow.optimizers.NaturalGradient(gamma=args.gamma)
    var_pair = [(model.q_mu, model.q_sqrt)]

    if args.full_batch_step:
        emit_full_batch_step(model, natgrad, var_pair, Xtr, Ytr)
        return

    adam = tf_keras.optimizers.Adam(learning_rate=args.adam_lr)
    # kernel, likelihood, Z (and q_mu/q_sqrt with --optimizer adam)
    hyp_vars = model.trainable_variables
    Xte_tf = tf.constant(Xte)

    def test_nlpd():
        mu, var = model.predict_f(Xte_tf)
        return pc.metrics(args.lik, mu.numpy(), var.numpy(), Yte, lik_params(model))["test_nlpd"]

    @tf.function
    def step(Xb, Yb):
        if args.optimizer == "natgrad":
            natgrad.minimize(lambda: model.training_loss((Xb, Yb)), var_list=var_pair)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(hyp_vars)
            loss = model.training_loss((Xb, Yb))
        grads = tape.gradient(loss, hyp_vars)
        adam.apply_gradients(zip(grads, hyp_vars))
        return loss

    stream = args.stream_epochs * (N // args.B) if args.stream_epochs else args.iters
    idx = pc.batch_indices(N, args.B, stream, args.seed)
    elbo0 = full_elbo(model, Xtr, Ytr)

    def one(it):
        b = idx[it % len(idx)]
        try:
            return float(step(tf.constant(Xtr[b]), tf.constant(Ytr[b])).numpy())
        except (tf.errors.InvalidArgumentError, tf.errors.OpError) as e:  # non-PD / NaN q
            lines = [
                ln.strip()
                for ln in str(e).splitlines()
                if ln.strip() and not ln.strip().startswith("[[")
            ]
            return f"{type(e).__name__}: {lines[-1][:240] if lines else ''}"

    run = pc.TrainLoop(args, one, test_nlpd)
    if run.error is not None:
        res = base_result(N, D)
        res.update(run.failure(args))
        pc.emit(res, args.out)
        return
    emit_success(model, (Xtr, Ytr, Xte, Yte), elbo0, run)


if __name__ == "__main__":
    main()
