//! The minibatch ELBO's exact gradients: with respect to q (MATH.md §2) and, by hand-derived
//! reverse mode through A, Lz, Kuu, Kuf and kff, to every kernel and likelihood parameter and
//! every entry of Z (§4). Reached through [`super::Workspace::grad`].

use super::workspace::LatentMarginals;
use super::{Conditional, Svgp};
use crate::kernel::PARALLEL_MIN_ENTRIES;
use crate::likelihood::VarExp;
use crate::linalg::{
    lower_mul_into, lower_of_matmul_nt_into, matmul, mirror_lower_in_place, phi, reshape_buffer,
    solve_lower_transpose_in_place, symmetrise_in_place, transpose_in_place, zero_upper_in_place,
};
use crate::variational::{
    eta_gradient, prior_kl_grad_l, sub_prior_kl_grad_s, Coords, Spare, VariationalQ,
};
use nalgebra::{DMatrix, DVector};
use std::ops::Range;

/// Which gradients an evaluation computes; what is not asked for is `None` in [`ElboGrad`] and
/// its O(M³) work is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GradScope {
    /// The ELBO, ∇_η L and ∂L/∂m: what a natural step needs.
    Eta,
    /// Also ∂L/∂L: what Adam on q needs.
    Q,
    /// The ELBO and the hyperparameter and Z gradients only: what the Adam step on them needs.
    Hyper,
    /// Everything.
    All,
}

impl GradScope {
    fn wants_q(self) -> bool {
        self != GradScope::Hyper
    }
    fn wants_dl_dl(self) -> bool {
        matches!(self, GradScope::Q | GradScope::All)
    }
    fn wants_hyper(self) -> bool {
        matches!(self, GradScope::Hyper | GradScope::All)
    }
}

/// The minibatch ELBO at one state and the gradients its [`GradScope`] asked for. The q
/// gradients have one entry per latent, in latent order.
#[derive(Debug, Clone)]
pub struct ElboGrad {
    /// ELBO = c Σᵢ veᵢ − Σₗ KLₗ (MATH.md §1).
    pub elbo: f64,
    /// ∇_ηₗ L = (∂L/∂η₁, ∂L/∂η₂) of each latent, the direction of every natural gradient
    /// (MATH.md §2; the Fisher matrix is block-diagonal over latents); every scope but `Hyper`.
    pub d_eta: Option<Vec<Coords>>,
    /// ∂L/∂mₗ, length M each; every scope but `Hyper`.
    pub dl_dm: Option<Vec<DVector<f64>>>,
    /// ∂L/∂Lₗ for the lower-triangular entries of Lₗ (strict upper triangle zero), M×M each;
    /// scopes `Q` and `All`.
    pub dl_dl: Option<Vec<DMatrix<f64>>>,
    /// ∂L/∂(hyperparameters), in the order of [`Svgp::hyper_params`]; scopes `Hyper` and `All`.
    pub d_hyper: Option<DVector<f64>>,
}

/// One batch as the gradients see it: its conditionals at the model's hyperparameters (one per
/// kernel), inputs (B×D), targets (B) and scale c = N/B.
pub(super) struct BatchView<'a> {
    pub conds: &'a [Conditional],
    pub x: &'a DMatrix<f64>,
    pub y: &'a DVector<f64>,
    pub scale: f64,
}

impl BatchView<'_> {
    /// Latent l's conditional: the only one with a shared kernel, else the l-th.
    pub fn cond(&self, l: usize) -> &Conditional {
        &self.conds[if self.conds.len() == 1 { 0 } else { l }]
    }

    /// The latents whose kernel is kernel k (all of them with a shared kernel), of `latents`.
    fn latents_of(&self, k: usize, latents: usize) -> Range<usize> {
        if self.conds.len() == 1 {
            0..latents
        } else {
            k..k + 1
        }
    }
}

/// Column l of a column-major matrix, as a slice.
fn column(a: &DMatrix<f64>, l: usize) -> &[f64] {
    let n = a.nrows();
    &a.as_slice()[l * n..(l + 1) * n]
}

/// The M×B and M×M temporaries of the gradients, reshaped on first use and reused while M and B
/// stay the same; their contents between calls mean nothing.
#[derive(Debug, Clone)]
pub(super) struct GradBuffers {
    /// M×B: A diag(g_σ) for the q gradients, then Ā and K̄uf = Lz⁻ᵀ Ā.
    mb: DMatrix<f64>,
    /// M×B: one more latent's S A diag(g_σ) while Ā sums over the latents of a shared kernel.
    mb_latent: DMatrix<f64>,
    /// M×M: tril(Ā Aᵀ), then K̄uu.
    mm: DMatrix<f64>,
}

impl GradBuffers {
    pub(super) fn new() -> Self {
        GradBuffers {
            mb: DMatrix::zeros(0, 0),
            mb_latent: DMatrix::zeros(0, 0),
            mm: DMatrix::zeros(0, 0),
        }
    }
}

/// The ELBO's value `elbo` at the model's q's with the gradients `scope` asks for, from those
/// q's batch marginals `marg` (their Lᵀ A are overwritten when the hyperparameter gradient is
/// asked for) and the likelihood's expectations there; each ∂L/∂S is built in a matrix from
/// `spare`.
pub(super) fn gradients(
    model: &Svgp,
    batch: &BatchView,
    (marg, vexp): (&mut LatentMarginals, &VarExp),
    (elbo, scope): (f64, GradScope),
    buffers: &mut GradBuffers,
    spare: &mut Spare,
) -> ElboGrad {
    let (mut d_eta, mut dl_dm, mut dl_dl) = (Vec::new(), Vec::new(), Vec::new());
    if scope.wants_q() {
        for (l, q) in model.qs().iter().enumerate() {
            let g = LatentGrad {
                cond: batch.cond(l),
                scale: batch.scale,
                g_mu: column(&vexp.g_mu, l),
                g_var: column(&vexp.g_var, l),
            };
            let (de, dm, dl) = q_gradients(q, &g, scope.wants_dl_dl(), &mut buffers.mb, spare);
            d_eta.push(de);
            dl_dm.push(dm);
            dl_dl.extend(dl);
        }
    }
    let d_hyper = scope
        .wants_hyper()
        .then(|| hyper_gradient(model, batch, marg, vexp, buffers));
    ElboGrad {
        elbo,
        d_eta: scope.wants_q().then_some(d_eta),
        dl_dm: scope.wants_q().then_some(dl_dm),
        dl_dl: scope.wants_dl_dl().then_some(dl_dl),
        d_hyper,
    }
}

/// What one latent's gradients need of the batch: its conditional, the scale c = N/B and the
/// likelihood's g_μ and g_σ for this latent (length B each).
struct LatentGrad<'a> {
    cond: &'a Conditional,
    scale: f64,
    g_mu: &'a [f64],
    g_var: &'a [f64],
}

/// ∇_η L, ∂L/∂m and (when `with_dl_dl`) ∂L/∂L at one latent's q (MATH.md §2); `a_gvar` is an
/// M×B buffer.
fn q_gradients(
    q: &VariationalQ,
    g: &LatentGrad,
    with_dl_dl: bool,
    a_gvar: &mut DMatrix<f64>,
    spare: &mut Spare,
) -> (Coords, DVector<f64>, Option<DMatrix<f64>>) {
    let (cond, scale, m) = (g.cond, g.scale, q.m());
    // c A diag(g_σ) Aᵀ, M×M: a symmetric rank-B update, lower half then mirrored
    reshape_buffer(a_gvar, cond.a.nrows(), cond.a.ncols());
    a_gvar.copy_from(&cond.a);
    scale_columns(a_gvar, g.g_var); // A diag(g_σ), M×B
    let mut dl_ds = spare.matrix(m.len(), m.len());
    lower_of_matmul_nt_into(a_gvar, &cond.a, &mut dl_ds);
    dl_ds *= scale;
    mirror_lower_in_place(&mut dl_ds);
    let g_mu = DVector::from_column_slice(g.g_mu);
    let dl_dm = &cond.a * g_mu * scale - m; // c A g_μ − ∂KL/∂m
    let dl_dl = with_dl_dl.then(|| {
        let mut dl_dl = matmul(&dl_ds, q.l()) * 2.0; // 2 (∂L/∂S)_data L
        zero_upper_in_place(&mut dl_dl);
        dl_dl - prior_kl_grad_l(q)
    });
    sub_prior_kl_grad_s(q, &mut dl_ds); // c A diag(g_σ) Aᵀ − ½ I + ½ S⁻¹
    (eta_gradient(&dl_dm, dl_ds, m), dl_dm, dl_dl)
}

/// ∂L/∂(kernels, likelihood, Z) by reverse mode through A, Lz, Kuu, Kuf and kff of each kernel
/// (MATH.md §4); a kernel shared by several latents gets the sum of their adjoints.
fn hyper_gradient(
    model: &Svgp,
    batch: &BatchView,
    marg: &mut LatentMarginals,
    vexp: &VarExp,
    buffers: &mut GradBuffers,
) -> DVector<f64> {
    let mut d_params = Vec::new();
    let mut d_z = DMatrix::zeros(model.z().nrows(), model.z().ncols());
    for k in 0..model.kernels().len() {
        let (d_kernel, d_z_k) = kernel_gradient(model, batch, k, (marg, vexp), buffers);
        d_params.extend(d_kernel.iter().copied());
        d_z += d_z_k;
    }
    let scale = DVector::from_element(batch.y.len(), batch.scale);
    let d_lik = model
        .likelihood()
        .vjp_params(batch.y, &marg.mu, &marg.var, &scale);
    d_params.extend(d_lik.iter().chain(d_z.iter()).copied());
    DVector::from_vec(d_params)
}

/// Kernel k's parameter gradient and its part of ∂L/∂Z, from the latents it serves.
fn kernel_gradient(
    model: &Svgp,
    batch: &BatchView,
    k: usize,
    (marg, vexp): (&mut LatentMarginals, &VarExp),
    buffers: &mut GradBuffers,
) -> (DVector<f64>, DMatrix<f64>) {
    let (x, cond) = (batch.x, &batch.conds[k]);
    let GradBuffers {
        mb: a_bar,
        mb_latent,
        mm: kuu_bar,
    } = buffers;
    let latents = batch.latents_of(k, model.num_latent());
    let mut kff_bar = DVector::zeros(batch.y.len());
    for (n, l) in latents.enumerate() {
        let g = LatentGrad {
            cond,
            scale: batch.scale,
            g_mu: column(&vexp.g_mu, l),
            g_var: column(&vexp.g_var, l),
        };
        let lta = &mut marg.lta[l];
        a_bar_add(&model.qs()[l], &g, lta, (a_bar, mb_latent), n == 0);
        kff_bar += DVector::from_column_slice(g.g_var) * batch.scale;
    }
    // K̄uu from G = tril(Ā Aᵀ), taken before Ā becomes K̄uf (see kuu_bar_in_place)
    lower_of_matmul_nt_into(a_bar, &cond.a, kuu_bar);
    let (kernel, z) = (model.kernels()[k].as_ref(), model.z());
    let kuf_vjp = move || {
        let kuf_bar = a_bar; // becomes Lz⁻ᵀ Ā
        solve_lower_transpose_in_place(&cond.lz, kuf_bar);
        kernel.vjp_given_matrix(z, x, &cond.kuf, kuf_bar)
    };
    let kuu_vjp = move || {
        let kuu_bar = kuu_bar; // moved in: the closure runs once
        kuu_bar_in_place(&cond.lz, kuu_bar);
        kernel.vjp_given_matrix(z, z, &cond.kuu, kuu_bar)
    };
    // The two branches are independent: one on each core when Kuf is large enough to pay
    // for the hand-off (the kernels' threshold; BENCHMARKS.md has the measurement).
    let ((d_kuf, z_bar_uf), (d_kuu, z_bar_uu)) = if cond.kuf.len() >= PARALLEL_MIN_ENTRIES {
        rayon::join(kuf_vjp, kuu_vjp)
    } else {
        (kuf_vjp(), kuu_vjp())
    };
    let d_kernel = d_kuu + d_kuf + kernel.vjp_diag_params(x, &kff_bar);
    (d_kernel, z_bar_uu * 2.0 + z_bar_uf) // Kuu = k(Z, Z) is symmetric: twice its first-argument VJP
}

/// Adds one latent's Ā = c (m g_μᵀ + 2 (S − I) A diag(g_σ)) to `a_bar` (M×B), or writes it there
/// when `first`, with (S − I) A diag(g_σ) = L (Lᵀ A diag(g_σ)) − A diag(g_σ): one triangular
/// product, no S. Overwrites `lta` (the latent's Lᵀ A); `a_bar`'s partner buffer holds the
/// product of a latent after the first.
fn a_bar_add(
    q: &VariationalQ,
    g: &LatentGrad,
    lta: &mut DMatrix<f64>,
    (a_bar, product): (&mut DMatrix<f64>, &mut DMatrix<f64>),
    first: bool,
) {
    scale_columns(lta, g.g_var); // Lᵀ A diag(g_σ)
    let m = q.m().as_slice();
    let rows = m.len().max(1);
    let a = g.cond.a.as_slice().chunks_exact(rows);
    let scale = g.scale;
    let entry = move |s_agvar: f64, mi: f64, aij: f64, g_mu_j: f64, g_var_j: f64| {
        scale * (mi * g_mu_j + 2.0 * (s_agvar - aij * g_var_j))
    };
    let per_point = g.g_mu.iter().zip(g.g_var);
    if first {
        lower_mul_into(q.l(), lta, a_bar); // S A diag(g_σ), then Ā in place
        let columns = a_bar.as_mut_slice().chunks_exact_mut(rows).zip(a);
        for ((col, a_j), (&g_mu_j, &g_var_j)) in columns.zip(per_point) {
            for ((v, &mi), &aij) in col.iter_mut().zip(m).zip(a_j) {
                *v = entry(*v, mi, aij, g_mu_j, g_var_j);
            }
        }
    } else {
        lower_mul_into(q.l(), lta, product);
        let sums = a_bar.as_mut_slice().chunks_exact_mut(rows);
        let columns = sums.zip(product.as_slice().chunks_exact(rows)).zip(a);
        for (((col, p_j), a_j), (&g_mu_j, &g_var_j)) in columns.zip(per_point) {
            for (((v, &p), &mi), &aij) in col.iter_mut().zip(p_j).zip(m).zip(a_j) {
                *v += entry(p, mi, aij, g_mu_j, g_var_j);
            }
        }
    }
}

/// A ← A diag(w): column j of `a` (M×B) scaled by wⱼ (B), in place.
fn scale_columns(a: &mut DMatrix<f64>, w: &[f64]) {
    let rows = a.nrows().max(1); // chunks of one column (a column-major buffer)
    for (col, &wj) in a.as_mut_slice().chunks_exact_mut(rows).zip(w.iter()) {
        col.iter_mut().for_each(|v| *v *= wj);
    }
}

/// K̄uu from G = tril(Ā Aᵀ) (M×M, lower, in `w`, overwritten by the symmetric K̄uu), Lz: M×M.
///
/// MATH.md §4 chains L̄z = −tril(Lz⁻ᵀ Ā Aᵀ) = −tril(Lz⁻ᵀ G) into the Cholesky adjoint
/// P = Φ(Lzᵀ L̄z), W = Lz⁻ᵀ P Lz⁻¹, K̄uu = ½ (W + Wᵀ) (Murray 2016). Since
/// Lzᵀ tril(Lz⁻ᵀ G) = G − Lzᵀ striu(Lz⁻ᵀ G) and Lzᵀ times a strictly upper triangular matrix
/// is strictly upper triangular, the lower triangle of Lzᵀ L̄z is that of −G: P = −Φ(G), and
/// neither L̄z nor the M³ product Lzᵀ L̄z is formed.
fn kuu_bar_in_place(lz: &DMatrix<f64>, w: &mut DMatrix<f64>) {
    *w = phi(std::mem::replace(w, DMatrix::zeros(0, 0))); // Φ(G), in its buffer
    w.neg_mut(); // P = Φ(Lzᵀ L̄z) = −Φ(G)
    solve_lower_transpose_in_place(lz, w); // Lz⁻ᵀ P
    transpose_in_place(w);
    solve_lower_transpose_in_place(lz, w); // Lz⁻ᵀ (Lz⁻ᵀ P)ᵀ = Wᵀ
    symmetrise_in_place(w);
}
