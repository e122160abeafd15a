#!/usr/bin/env python3
# Copied from shared/peers/gpytorch_ngd.py (the project's peer baselines, GPflow 2.11.2 / GPyTorch 1.15.2); changed: this line, and the
# time-to-accuracy options (--optimizer, --eval-every, --max-seconds, --target-nlpd, --stream-epochs; time_to_accuracy.py).
"""GPyTorch peer: SVGP trained with natural gradients, same protocol as gpflow_natgrad.py.

Model: gpytorch ApproximateGP with a whitened VariationalStrategy
(learn_inducing_locations=True) over NaturalVariationalDistribution(M, mean_init_std=0),
ZeroMean, ScaleKernel(RBFKernel(ard_num_dims=D)), float64 throughout;
Z = first M training inputs (or --init kmeans). Loss: VariationalELBO(num_data=N).

Each iteration, on ONE minibatch (shared numpy index stream, peers_common.batch_indices):
  --schedule alternate (default, matches GPflow's pattern):
      1. gpytorch.optim.NGD(variational params, num_data=N, lr=gamma).step()
         with gradients of the minibatch loss w.r.t. the natural parameters only
      2. torch.optim.Adam(hyperparameters + Z + likelihood params, lr).step()
         with gradients of the minibatch loss re-evaluated after step 1
  --schedule joint (GPyTorch tutorial pattern): one forward/backward, then both steps.

Parameterisations are chosen to match GPflow exactly: kernel variance / lengthscales via
softplus, Gaussian noise = softplus(raw) + 1e-6 (GPflow's lower bound; gpytorch's default
would be 1e-4), Student-t with fixed df=3 and scale = softplus(raw) + 1e-6 (a small custom
likelihood, since gpytorch's StudentTLikelihood parameterises noise = scale^2 and trains df).
Probit link for Bernoulli in both. 20-point Gauss-Hermite for non-Gaussian expectations in both.
Reported losses / ELBOs are on GPflow's scale (sum over data, not divided by N).

--optimizer adam instead uses CholeskyVariationalDistribution (q = N(0, I) at the start, like the
natural one) and one torch Adam on every parameter, q included. --eval-every, --max-seconds,
--target-nlpd and --stream-epochs are those of gpflow_natgrad.py (test NLPD off the clock).

Prints one JSON line. --full-batch-step instead times natgrad-only steps on the full data.
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
    ap.add_argument("--lik", choices=["gaussian", "bernoulli", "studentt"], default=None)
    pc.add_run_args(ap)
    ap.add_argument("--schedule", choices=["alternate", "joint"], default="alternate")
    ap.add_argument(
        "--bernoulli",
        choices=["exact", "gpytorch"],
        default="exact",
        help="exact: quadrature of torch.special.log_ndtr (as GPflow run); gpytorch: stock "
        "BernoulliLikelihood, whose log_normal_cdf is a rational approximation for f < -1 "
        "(error up to ~1.6e-3 in log Phi)",
    )
    ap.add_argument(
        "--chunk", type=int, default=4000, help="rows per chunk for full-data ELBO / prediction"
    )
    ap.add_argument(
        "--optimizer",
        choices=["natgrad", "adam"],
        default="natgrad",
        help="natgrad: NGD on q then Adam on the rest; adam: Cholesky q and Adam on everything",
    )
    return pc.parse_run_args(ap)


args = parse()
pc.set_threads(args.threads)

import numpy as np
import torch

torch.set_num_threads(args.threads)
torch.set_num_interop_threads(args.threads)
torch.set_default_dtype(torch.float64)
import gpytorch
from gpytorch.constraints import GreaterThan
from gpytorch.distributions import base_distributions
from gpytorch.likelihoods.likelihood import _OneDimensionalLikelihood


class StudentTScale(_OneDimensionalLikelihood):
    """Student-t likelihood with fixed df and scale = softplus(raw) + 1e-6 (GPflow's parameterisation)."""

    def __init__(self, df, scale):
        super().__init__()
        self.df = float(df)
        self.register_parameter("raw_scale", torch.nn.Parameter(torch.zeros(1)))
        self.register_constraint("raw_scale", GreaterThan(1e-6))
        self.initialize(
            raw_scale=self.raw_scale_constraint.inverse_transform(torch.tensor([float(scale)]))
        )

    @property
    def scale(self):
        return self.raw_scale_constraint.transform(self.raw_scale)

    def forward(self, function_samples, *a, **k):
        return base_distributions.StudentT(df=self.df, loc=function_samples, scale=self.scale)


class ExactProbitBernoulli(gpytorch.likelihoods.BernoulliLikelihood):
    """Stock BernoulliLikelihood (probit, labels {0,1}) but with the exact log Phi inside the quadrature."""

    def expected_log_prob(self, observations, function_dist, *a, **k):
        sgn = observations.mul(2).sub(1)
        return self.quadrature(lambda f: torch.special.log_ndtr(f.mul(sgn)), function_dist)


class SVGP(gpytorch.models.ApproximateGP):
    def __init__(self, Z):
        M, D = Z.shape
        if args.optimizer == "natgrad":
            vd = gpytorch.variational.NaturalVariationalDistribution(M, mean_init_std=0.0)
        else:
            vd = gpytorch.variational.CholeskyVariationalDistribution(M, mean_init_std=0.0)
        vs = gpytorch.variational.VariationalStrategy(self, Z, vd, learn_inducing_locations=True)
        super().__init__(vs)
        self.mean_module = gpytorch.means.ZeroMean()
        self.covar_module = gpytorch.kernels.ScaleKernel(gpytorch.kernels.RBFKernel(ard_num_dims=D))
        self.covar_module.outputscale = pc.INIT["kernel_variance"]
        self.covar_module.base_kernel.lengthscale = torch.full((1, D), pc.INIT["lengthscale"])

    def forward(self, x):
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


def build(Xtr):
    if args.init == "kmeans":
        from sklearn.cluster import KMeans

        Z = KMeans(n_clusters=args.M, random_state=0, n_init=1).fit(Xtr).cluster_centers_
    else:
        Z = Xtr[: args.M].copy()
    model = SVGP(torch.tensor(Z))
    if args.lik == "gaussian":
        lik = gpytorch.likelihoods.GaussianLikelihood(noise_constraint=GreaterThan(1e-6))
        lik.noise = pc.INIT["gaussian_noise_variance"]
    elif args.lik == "bernoulli":
        lik = (
            ExactProbitBernoulli()
            if args.bernoulli == "exact"
            else gpytorch.likelihoods.BernoulliLikelihood()
        )
    else:
        lik = StudentTScale(pc.INIT["studentt_df"], pc.INIT["studentt_scale"])
    return model, lik


def lik_params(lik):
    if args.lik == "gaussian":
        return {"noise_variance": float(lik.noise.item())}
    if args.lik == "studentt":
        return {"df": lik.df, "scale": float(lik.scale.item())}
    return {}


def hyper_summary(model, lik):
    h = {
        "kernel_variance": float(model.covar_module.outputscale.item()),
        "lengthscales": [
            float(v) for v in model.covar_module.base_kernel.lengthscale.detach().reshape(-1)
        ],
    }
    h.update(lik_params(lik))
    return h


@torch.no_grad()
def full_elbo(model, lik, X, y):
    """sum_i E_q[log p(y_i|f_i)] - KL, evaluated in chunks (same quantity as GPflow's model.elbo)."""
    model.train()
    lik.train()
    ell = 0.0
    for s in range(0, X.shape[0], args.chunk):
        ell += float(
            lik.expected_log_prob(y[s : s + args.chunk], model(X[s : s + args.chunk])).sum()
        )
    return ell - float(model.variational_strategy.kl_divergence().sum())


def predict(model, lik, Xte, yte):
    """Latent predictive mean and variance and the native log marginal per test row (eval mode; the
    caller switches back to train mode to go on training)."""
    model.eval()
    lik.eval()
    mus, vars_, lm = [], [], []
    with torch.no_grad():
        for s in range(0, Xte.shape[0], args.chunk):
            f = model(Xte[s : s + args.chunk])
            mus.append(f.mean.numpy())
            vars_.append(f.variance.numpy())
            lm.append(lik.log_marginal(yte[s : s + args.chunk], f).numpy())
    return np.concatenate(mus), np.concatenate(vars_), np.concatenate(lm)


def base_result(N, D):
    backend = f"torch {torch.__version__} (CPU)"
    extra = {"schedule": args.schedule}
    return pc.base_result(args, "gpytorch", gpytorch.__version__, backend, N, D, **extra)


def set_grads(loss, params):
    """Sets each parameter's .grad to the loss's gradient in it (torch.autograd.grad, which, unlike
    backward(), leaves the other parameters' grads alone)."""
    for p, g in zip(params, torch.autograd.grad(loss, params)):
        p.grad = g


def train_step(model, mll, ngd, ng_substep, var_params, hyp_params):
    """The per-iteration step of --optimizer and --schedule: Adam on everything, or a natural step
    on q then Adam on the rest (alternate), or both from one backward pass (joint)."""
    adam_params = hyp_params if args.optimizer == "natgrad" else hyp_params + var_params
    adam = torch.optim.Adam(adam_params, lr=args.adam_lr, eps=1e-7)  # eps as Keras/GPflow

    def step_adam(xb, yb):
        loss = -mll(model(xb), yb)
        set_grads(loss, adam_params)
        adam.step()
        return loss

    def step_alternate(xb, yb):
        ng_substep(xb, yb)
        loss = -mll(model(xb), yb)
        set_grads(loss, hyp_params)
        adam.step()
        return loss

    def step_joint(xb, yb):
        ngd.zero_grad()
        adam.zero_grad()
        loss = -mll(model(xb), yb)
        loss.backward()
        ngd.step()
        adam.step()
        return loss

    if args.optimizer == "adam":
        return step_adam
    return step_alternate if args.schedule == "alternate" else step_joint


def emit_success(model, lik, data, elbo0, run):
    """Emits the JSON line of a finished run: final ELBO, test metrics, hyperparameters."""
    Xtr, ytr, Xte, yte, Yte_np = data
    N, D = Xtr.shape
    elbo_final = full_elbo(model, lik, Xtr, ytr)
    mu, var, lm = predict(model, lik, Xte, yte)
    res = base_result(N, D)
    res.update(
        run.success(args),
        elbo_init=elbo0,
        final_elbo=elbo_final,
        **pc.metrics(args.lik, mu, var, Yte_np, lik_params(lik)),
        native_test_nlpd=-float(np.mean(lm)),
        hyper=hyper_summary(model, lik),
    )
    res["final_elbo_per_datum"] = res["final_elbo"] / N
    if args.trace:
        pc.write_trace(args.trace, "gpytorch", args, run)
    pc.emit(res, args.out)


def main():
    Xtr_np, Ytr_np, Xte_np, Yte_np = pc.load(args.data)
    N, D = Xtr_np.shape
    Xtr, ytr = torch.tensor(Xtr_np), torch.tensor(Ytr_np[:, 0])
    Xte, yte = torch.tensor(Xte_np), torch.tensor(Yte_np[:, 0])
    model, lik = build(Xtr_np)
    model.train()
    lik.train()
    mll = gpytorch.mlls.VariationalELBO(lik, model, num_data=N)
    var_params = list(model.variational_parameters())
    hyp_params = [
        p for p in list(model.hyperparameters()) + list(lik.parameters()) if p.requires_grad
    ]
    ngd = gpytorch.optim.NGD(var_params, num_data=N, lr=args.gamma)

    def ng_substep(xb, yb):
        loss = -mll(model(xb), yb)
        set_grads(loss, var_params)
        ngd.step()
        return loss

    elbo0 = full_elbo(model, lik, Xtr, ytr)

    if args.full_batch_step:
        res = base_result(N, D)
        res.update(
            **pc.time_full_batch_step(lambda: ng_substep(Xtr, ytr), args.reps, N),
            elbo_before=elbo0,
            elbo_after=full_elbo(model, lik, Xtr, ytr),
        )
        pc.emit(res, args.out)
        return

    step = train_step(model, mll, ngd, ng_substep, var_params, hyp_params)
    stream = args.stream_epochs * (N // args.B) if args.stream_epochs else args.iters
    idx = pc.batch_indices(N, args.B, stream, args.seed)

    def test_nlpd():
        mu, var, _ = predict(model, lik, Xte, yte)
        model.train()
        lik.train()
        return pc.metrics(args.lik, mu, var, Yte_np, lik_params(lik))["test_nlpd"]

    def one(it):
        b = torch.from_numpy(idx[it % len(idx)])
        try:
            return float(step(Xtr[b], ytr[b]).item()) * N  # GPflow's scale
        except (RuntimeError, ValueError) as e:  # NotPSDError / non-PD natural matrix
            return f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"

    run = pc.TrainLoop(args, one, test_nlpd)
    if run.error is not None:
        res = base_result(N, D)
        res.update(run.failure(args))
        pc.emit(res, args.out)
        return
    emit_success(model, lik, (Xtr, ytr, Xte, yte, Yte_np), elbo0, run)


if __name__ == "__main__":
    main()
