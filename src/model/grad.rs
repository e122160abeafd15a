//! The minibatch ELBO's exact gradients: with respect to q (MATH.md §2) and, by hand-derived
//! reverse mode through A, Lz, Kuu, Kuf and kff, to every kernel and likelihood parameter and
//! every entry of Z (§4). Reached through [`super::Workspace::grad`].

use super::{BatchMarginals, Conditional, Svgp};
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

/// The minibatch ELBO at one state and the gradients its [`GradScope`] asked for.
#[derive(Debug, Clone)]
pub struct ElboGrad {
    /// ELBO = c Σᵢ veᵢ − KL (MATH.md §1).
    pub elbo: f64,
    /// ∇_η L = (∂L/∂η₁, ∂L/∂η₂), the direction of every natural gradient (MATH.md §2); every
    /// scope but `Hyper`.
    pub d_eta: Option<Coords>,
    /// ∂L/∂m, length M; every scope but `Hyper`.
    pub dl_dm: Option<DVector<f64>>,
    /// ∂L/∂L for the lower-triangular entries of L (strict upper triangle zero), M×M; scopes
    /// `Q` and `All`.
    pub dl_dl: Option<DMatrix<f64>>,
    /// ∂L/∂(hyperparameters), in the order of [`Svgp::hyper_params`]; scopes `Hyper` and `All`.
    pub d_hyper: Option<DVector<f64>>,
}

/// One batch as the gradients see it: its conditional at the model's hyperparameters, inputs
/// (B×D), targets (B) and scale c = N/B.
pub(super) struct BatchView<'a> {
    pub cond: &'a Conditional,
    pub x: &'a DMatrix<f64>,
    pub y: &'a DVector<f64>,
    pub scale: f64,
}

/// The M×B and M×M temporaries of the gradients, reshaped on first use and reused while M and B
/// stay the same; their contents between calls mean nothing.
#[derive(Debug, Clone)]
pub(super) struct GradBuffers {
    /// M×B: A diag(g_σ) for the q gradients, then Ā and K̄uf = Lz⁻ᵀ Ā.
    mb: DMatrix<f64>,
    /// M×M: tril(Ā Aᵀ), then K̄uu.
    mm: DMatrix<f64>,
}

impl GradBuffers {
    pub(super) fn new() -> Self {
        GradBuffers {
            mb: DMatrix::zeros(0, 0),
            mm: DMatrix::zeros(0, 0),
        }
    }
}

/// The ELBO's value `elbo` at the model's q with the gradients `scope` asks for, from that q's
/// batch marginals `marg` (their Lᵀ A is overwritten when the hyperparameter gradient is asked
/// for) and the likelihood's expectations there; ∂L/∂S is built in a matrix from `spare`.
pub(super) fn gradients(
    model: &Svgp,
    batch: &BatchView,
    (marg, vexp): (&mut BatchMarginals, &VarExp),
    (elbo, scope): (f64, GradScope),
    buffers: &mut GradBuffers,
    spare: &mut Spare,
) -> ElboGrad {
    let (d_eta, dl_dm, dl_dl) = if scope.wants_q() {
        let (d_eta, dl_dm, dl_dl) = q_gradients(
            model.q(),
            batch,
            vexp,
            scope.wants_dl_dl(),
            &mut buffers.mb,
            spare,
        );
        (Some(d_eta), Some(dl_dm), dl_dl)
    } else {
        (None, None, None)
    };
    let d_hyper = scope
        .wants_hyper()
        .then(|| hyper_gradient(model, batch, marg, vexp, buffers));
    ElboGrad {
        elbo,
        d_eta,
        dl_dm,
        dl_dl,
        d_hyper,
    }
}

/// ∇_η L, ∂L/∂m and (when `with_dl_dl`) ∂L/∂L at q (MATH.md §2); `a_gvar` is an M×B buffer.
fn q_gradients(
    q: &VariationalQ,
    batch: &BatchView,
    vexp: &VarExp,
    with_dl_dl: bool,
    a_gvar: &mut DMatrix<f64>,
    spare: &mut Spare,
) -> (Coords, DVector<f64>, Option<DMatrix<f64>>) {
    let (cond, scale, m) = (batch.cond, batch.scale, q.m());
    // c A diag(g_σ) Aᵀ, M×M: a symmetric rank-B update, lower half then mirrored
    reshape_buffer(a_gvar, cond.a.nrows(), cond.a.ncols());
    a_gvar.copy_from(&cond.a);
    scale_columns(a_gvar, &vexp.g_var); // A diag(g_σ), M×B
    let mut dl_ds = spare.matrix(m.len(), m.len());
    lower_of_matmul_nt_into(a_gvar, &cond.a, &mut dl_ds);
    dl_ds *= scale;
    mirror_lower_in_place(&mut dl_ds);
    let dl_dm = &cond.a * &vexp.g_mu * scale - m; // c A g_μ − ∂KL/∂m
    let dl_dl = with_dl_dl.then(|| {
        let mut dl_dl = matmul(&dl_ds, q.l()) * 2.0; // 2 (∂L/∂S)_data L
        zero_upper_in_place(&mut dl_dl);
        dl_dl - prior_kl_grad_l(q)
    });
    sub_prior_kl_grad_s(q, &mut dl_ds); // c A diag(g_σ) Aᵀ − ½ I + ½ S⁻¹
    (eta_gradient(&dl_dm, dl_ds, m), dl_dm, dl_dl)
}

/// ∂L/∂(kernel, likelihood, Z) by reverse mode through A, Lz, Kuu, Kuf and kff (MATH.md §4).
fn hyper_gradient(
    model: &Svgp,
    batch: &BatchView,
    marg: &mut BatchMarginals,
    vexp: &VarExp,
    buffers: &mut GradBuffers,
) -> DVector<f64> {
    let BatchView { cond, x, y, scale } = *batch;
    let GradBuffers {
        mb: a_bar,
        mm: kuu_bar,
    } = buffers;
    a_bar_into(model.q(), batch, marg, vexp, a_bar);
    let kff_bar = &vexp.g_var * scale;
    // K̄uu from G = tril(Ā Aᵀ), taken before Ā becomes K̄uf (see kuu_bar_in_place)
    lower_of_matmul_nt_into(a_bar, &cond.a, kuu_bar);
    let (kernel, z) = (model.kernel(), model.z());
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
    let b = y.len();
    let d_lik =
        model
            .likelihood()
            .vjp_params(y, &marg.mu, &marg.var, &DVector::from_element(b, scale));
    let d_z = z_bar_uu * 2.0 + z_bar_uf; // Kuu = k(Z, Z) is symmetric: twice its first-argument VJP
    DVector::from_iterator(
        d_kernel.len() + d_lik.len() + d_z.len(),
        d_kernel
            .iter()
            .chain(d_lik.iter())
            .chain(d_z.iter())
            .copied(),
    )
}

/// Ā = c (m g_μᵀ + 2 (S − I) A diag(g_σ)) into `a_bar` (M×B), with
/// (S − I) A diag(g_σ) = L (Lᵀ A diag(g_σ)) − A diag(g_σ): one triangular product, no S.
/// Overwrites the marginals' Lᵀ A.
fn a_bar_into(
    q: &VariationalQ,
    batch: &BatchView,
    marg: &mut BatchMarginals,
    vexp: &VarExp,
    a_bar: &mut DMatrix<f64>,
) {
    let lta_gvar = &mut marg.lta;
    scale_columns(lta_gvar, &vexp.g_var); // Lᵀ A diag(g_σ)
    lower_mul_into(q.l(), lta_gvar, a_bar); // S A diag(g_σ)
    let m = q.m().as_slice();
    let (g_mu, g_var) = (vexp.g_mu.as_slice(), vexp.g_var.as_slice());
    let columns = a_bar
        .as_mut_slice()
        .chunks_exact_mut(m.len())
        .zip(batch.cond.a.as_slice().chunks_exact(m.len()));
    let scale = batch.scale;
    for ((col, a_j), (&g_mu_j, &g_var_j)) in columns.zip(g_mu.iter().zip(g_var)) {
        for ((v, &mi), &aij) in col.iter_mut().zip(m).zip(a_j) {
            *v = scale * (mi * g_mu_j + 2.0 * (*v - aij * g_var_j));
        }
    }
}

/// A ← A diag(w): column j of `a` (M×B) scaled by wⱼ (B), in place.
fn scale_columns(a: &mut DMatrix<f64>, w: &DVector<f64>) {
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
