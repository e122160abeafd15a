//! The minibatch ELBO's exact gradients: with respect to q (MATH.md §2) and, by hand-derived
//! reverse mode through A, Lz, Kuu, Kuf and kff, to every kernel and likelihood parameter and
//! every entry of Z (§4). Reached through [`super::Workspace::grad`].

use super::batch::{BatchView, LatentMarginals};
use super::gram::{scaled_s_minus_i_into, GramAdjoint, GramLatent};
use super::{Conditional, Svgp};
use crate::error::{check_shape, Result, Shape, SvgpError};
use crate::likelihood::VarExp;
use crate::linalg::{
    inverse_congruence_in_place, lower_mul_into, lower_of_matmul_nt_into, matmul,
    mirror_lower_in_place, phi, reshape_buffer, solve_lower_transpose_in_place,
    zero_upper_in_place,
};
use crate::parallel::Parallelism;
use crate::variational::{
    eta_gradient, prior_kl, prior_kl_grad_l, sub_prior_kl_grad_s, Coords, Spare, VariationalQ,
};
use nalgebra::allocator::Allocator;
use nalgebra::{DMatrix, DVector, DefaultAllocator, Dim, Dyn, OMatrix};

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
    /// M×M: T of the Gram path ([`super::gram::GramAdjoint`]).
    mm_t: DMatrix<f64>,
    /// M×M: U = Lz⁻ᵀ T of the Gram path.
    mm_u: DMatrix<f64>,
}

impl GradBuffers {
    pub(super) fn new() -> Self {
        GradBuffers {
            mb: DMatrix::zeros(0, 0),
            mb_latent: DMatrix::zeros(0, 0),
            mm: DMatrix::zeros(0, 0),
            mm_t: DMatrix::zeros(0, 0),
            mm_u: DMatrix::zeros(0, 0),
        }
    }
}

/// The data term c Σᵢ veᵢ of the minibatch ELBO over some rows of a batch, and its gradients
/// `scope` asks for: a value of fixed size (O(L M²) and one hyperparameter vector, whatever the
/// rows) that adds up over shards of the batch, each evaluated with the batch's scale c = N/B
/// at the same model. [`DataTerms::into_elbo_grad`] adds the KL terms, which need no data.
#[derive(Debug, Clone, PartialEq)]
pub struct DataTerms {
    /// Which gradients these are.
    pub scope: GradScope,
    /// c Σᵢ veᵢ.
    pub ve: f64,
    /// c Aₗ g_μ,ₗ of each latent, length M (the data term's ∂/∂mₗ); every scope but `Hyper`.
    pub d_m: Option<Vec<DVector<f64>>>,
    /// c Aₗ diag(g_σ,ₗ) Aₗᵀ of each latent, M×M symmetric (the data term's ∂/∂Sₗ); every scope
    /// but `Hyper`.
    pub d_s: Option<Vec<DMatrix<f64>>>,
    /// ∂(c Σᵢ veᵢ)/∂(hyperparameters), in the order of [`Svgp::hyper_params`] (the whitened KL
    /// term does not depend on them); scopes `Hyper` and `All`.
    pub d_hyper: Option<DVector<f64>>,
}

impl DataTerms {
    /// Adds the terms of another shard of the same batch (same model, scale and scope); on
    /// error these are unchanged.
    ///
    /// # Errors
    /// `ShapeMismatch` when the latents or sizes differ; `InvalidParameter { name: "scope" }`
    /// when the scopes do.
    pub fn add(&mut self, other: &DataTerms) -> Result<()> {
        let len = |v: &Option<DVector<f64>>| Shape::new(v.as_ref().map_or(0, |v| v.len()), 1);
        check_shape(
            "hyperparameter gradient of the shards' terms",
            len(&self.d_hyper),
            len(&other.d_hyper),
        )?;
        if self.scope != other.scope {
            return Err(SvgpError::InvalidParameter {
                name: "scope".into(),
                value: f64::NAN,
                reason: "the shards' terms were evaluated for different gradient scopes",
            });
        }
        check_same(&self.d_m, &other.d_m)?;
        check_same(&self.d_s, &other.d_s)?;
        add_all(&mut self.d_m, &other.d_m);
        add_all(&mut self.d_s, &other.d_s);
        if let (Some(a), Some(b)) = (&mut self.d_hyper, &other.d_hyper) {
            *a += b;
        }
        self.ve += other.ve;
        Ok(())
    }

    /// The minibatch ELBO c Σᵢ veᵢ − Σₗ KLₗ at `qs` (the q's these terms were evaluated at, one
    /// per latent) and its gradients: ∂L/∂mₗ = c Aₗ g_μ − mₗ, ∂L/∂Sₗ = c Aₗ diag(g_σ) Aₗᵀ − ½ I +
    /// ½ Sₗ⁻¹, ∇_ηₗ L from them, ∂L/∂Lₗ = 2 (∂L/∂Sₗ)_data Lₗ − (Lₗ − Lₗ⁻ᵀ) (MATH.md §2).
    ///
    /// `qs` must be the q's the terms were evaluated at (one per latent, each with the terms'
    /// M); [`super::Workspace::grad`] and the trainer pass exactly those. `par`: the model's
    /// policy, for the M×M products.
    pub fn into_elbo_grad(self, qs: &[VariationalQ], par: Parallelism) -> ElboGrad {
        let elbo = self.ve - total_kl(qs);
        let (mut d_eta, mut dl_dm, mut dl_dl) = (Vec::new(), Vec::new(), Vec::new());
        let latents = self
            .d_m
            .into_iter()
            .flatten()
            .zip(self.d_s.into_iter().flatten());
        for (q, (d_m, mut d_s)) in qs.iter().zip(latents) {
            if self.scope.wants_dl_dl() {
                let mut dl = matmul(&d_s, q.l(), par) * 2.0; // 2 (∂L/∂S)_data L
                zero_upper_in_place(&mut dl);
                dl_dl.push(dl - prior_kl_grad_l(q));
            }
            let d_m = d_m - q.m(); // c A g_μ − ∂KL/∂m
            sub_prior_kl_grad_s(q, &mut d_s); // c A diag(g_σ) Aᵀ − ½ I + ½ S⁻¹
            d_eta.push(eta_gradient(&d_m, d_s, q.m()));
            dl_dm.push(d_m);
        }
        let wants_q = self.scope.wants_q();
        ElboGrad {
            elbo,
            d_eta: wants_q.then_some(d_eta),
            dl_dm: wants_q.then_some(dl_dm),
            dl_dl: self.scope.wants_dl_dl().then_some(dl_dl),
            d_hyper: self.d_hyper,
        }
    }
}

/// `ShapeMismatch` unless `a` and `b` are both absent or hold as many matrices (or vectors),
/// of equal shapes.
fn check_same<C: Dim>(
    a: &Option<Vec<OMatrix<f64, Dyn, C>>>,
    b: &Option<Vec<OMatrix<f64, Dyn, C>>>,
) -> Result<()>
where
    DefaultAllocator: Allocator<Dyn, C>,
{
    let shapes = |v: &Option<Vec<OMatrix<f64, Dyn, C>>>| -> Vec<Shape> {
        v.iter()
            .flatten()
            .map(|m| Shape::new(m.nrows(), m.ncols()))
            .collect()
    };
    let (sa, sb) = (shapes(a), shapes(b));
    let count =
        |v: &Option<Vec<OMatrix<f64, Dyn, C>>>| Shape::new(v.as_ref().map_or(0, Vec::len), 1);
    check_shape("latents of the shards' terms", count(a), count(b))?;
    for (x, y) in sa.into_iter().zip(sb) {
        check_shape("q gradient of the shards' terms", x, y)?;
    }
    Ok(())
}

/// Adds each of `b`'s matrices (or vectors) to `a`'s (checked by [`check_same`]).
fn add_all<C: Dim>(a: &mut Option<Vec<OMatrix<f64, Dyn, C>>>, b: &Option<Vec<OMatrix<f64, Dyn, C>>>)
where
    DefaultAllocator: Allocator<Dyn, C>,
{
    for (x, y) in a.iter_mut().flatten().zip(b.iter().flatten()) {
        *x += y;
    }
}

/// The data terms `scope` asks for at the model's q's, from those q's batch marginals `marg`
/// (their Lᵀ A are overwritten when the hyperparameter gradient is asked for) and the
/// likelihood's expectations there; each ∂/∂S is built in a matrix from `spare`.
pub(super) fn data_terms(
    model: &Svgp,
    batch: &BatchView,
    (marg, vexp): (&mut LatentMarginals, &VarExp),
    scope: GradScope,
    buffers: &mut GradBuffers,
    spare: &mut Spare,
) -> DataTerms {
    let (mut d_m, mut d_s) = (Vec::new(), Vec::new());
    if scope.wants_q() {
        for l in 0..model.num_latent() {
            let g = LatentGrad {
                cond: batch.cond(l),
                scale: batch.scale,
                g_mu: column(&vexp.g_mu, l),
                g_var: column(&vexp.g_var, l),
            };
            let (dm, ds) = match batch.gram(l) {
                Some(gram) => gram_q_data_terms(&g, gram, spare),
                None => q_data_terms(&g, &mut buffers.mb, spare),
            };
            d_m.push(dm);
            d_s.push(ds);
        }
    }
    let d_hyper = scope
        .wants_hyper()
        .then(|| hyper_gradient(model, batch, marg, vexp, buffers));
    DataTerms {
        scope,
        ve: batch.scale * vexp.ve.sum(),
        d_m: scope.wants_q().then_some(d_m),
        d_s: scope.wants_q().then_some(d_s),
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

/// Σₗ KL[q(vₗ) ‖ N(0, I)] of one q per latent.
pub fn total_kl(qs: &[VariationalQ]) -> f64 {
    qs.iter().map(prior_kl).sum()
}

/// One latent's data terms c A g_μ (M) and c A diag(g_σ) Aᵀ (M×M, from `spare`); `a_gvar` is an
/// M×B buffer.
fn q_data_terms(
    g: &LatentGrad,
    a_gvar: &mut DMatrix<f64>,
    spare: &mut Spare,
) -> (DVector<f64>, DMatrix<f64>) {
    let (cond, scale) = (g.cond, g.scale);
    let m = cond.a.nrows();
    // c A diag(g_σ) Aᵀ, M×M: a symmetric rank-B update, lower half then mirrored
    reshape_buffer(a_gvar, m, cond.a.ncols());
    a_gvar.copy_from(&cond.a);
    scale_columns(a_gvar, g.g_var); // A diag(g_σ), M×B
    let mut d_s = spare.matrix(m, m);
    lower_of_matmul_nt_into(a_gvar, &cond.a, &mut d_s, cond.par);
    d_s *= scale;
    mirror_lower_in_place(&mut d_s);
    let g_mu = DVector::from_column_slice(g.g_mu);
    (&cond.a * g_mu * scale, d_s)
}

/// One latent's data terms from the batch's Gram matrix W (M×M): c A g_μ (M) and c g_σ W (M×M,
/// from `spare`), g_σ being the same for every point ([`super::gram`]).
fn gram_q_data_terms(
    g: &LatentGrad,
    gram: &DMatrix<f64>,
    spare: &mut Spare,
) -> (DVector<f64>, DMatrix<f64>) {
    let m = gram.nrows();
    let mut d_s = spare.matrix(m, m);
    let c_g = g.scale * g.g_var.first().copied().unwrap_or(0.0);
    let entries = d_s.as_mut_slice().iter_mut().zip(gram.as_slice());
    entries.for_each(|(d, &w)| *d = w * c_g); // one pass: c g W
    let g_mu = DVector::from_column_slice(g.g_mu);
    (&g.cond.a * g_mu * g.scale, d_s)
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
    let scale = DVector::from_element(batch.x.nrows(), batch.scale);
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
    let latents = batch.latents_of(k, model.num_latent());
    let gram_latents: Vec<GramLatent> = match batch.grams.get(k) {
        Some(_) => latents
            .map(|l| GramLatent {
                q: &model.qs()[l],
                g_mu: column(&vexp.g_mu, l),
                g_var: column(&vexp.g_var, l).first().copied().unwrap_or(0.0),
            })
            .collect(),
        None => Vec::new(),
    };
    let GradBuffers {
        mb: kuf_bar,
        mb_latent,
        mm: kuu_bar,
        mm_t: t,
        mm_u: u,
    } = buffers;
    // With a Gram matrix each branch forms its own adjoint; else Ā (in `kuf_bar`, becoming
    // K̄uf = Lz⁻ᵀ Ā in its branch) and G = tril(Ā Aᵀ) (in `kuu_bar`) come from the marginals.
    let (kff_bar, gram) = match batch.grams.get(k) {
        Some(gram) => {
            let kff = scaled_s_minus_i_into(&gram_latents, batch.scale, t);
            let adjoint = GramAdjoint {
                cond,
                gram,
                latents: &gram_latents,
                scale: batch.scale,
                t,
            };
            (DVector::from_element(x.nrows(), kff), Some(adjoint))
        }
        None => {
            let bars = (kuf_bar as &mut _, mb_latent as &mut _, kuu_bar as &mut _);
            (per_point_bars(model, batch, k, (marg, vexp), bars), None)
        }
    };
    let (kernel, z, par) = (model.kernels()[k].as_ref(), model.z(), model.parallelism());
    let gram = gram.as_ref();
    let kuf_vjp = move || {
        let kuf_bar = kuf_bar; // moved in: the closure runs once
        match gram {
            Some(adjoint) => adjoint.kuf_bar_into(u, kuf_bar),
            None => solve_lower_transpose_in_place(&cond.lz, kuf_bar, par), // Lz⁻ᵀ Ā
        }
        kernel.vjp_given_matrix(z, x, &cond.kuf, kuf_bar, par)
    };
    let kuu_vjp = move || {
        let kuu_bar = kuu_bar;
        if let Some(adjoint) = gram {
            adjoint.g_lower_into(kuu_bar);
        }
        kuu_bar_in_place(&cond.lz, kuu_bar, par);
        kernel.vjp_given_matrix(z, z, &cond.kuu, kuu_bar, par)
    };
    // The two branches are independent: side by side when the policy joins the batch's
    // branches (crate::parallel).
    let ((d_kuf, z_bar_uf), (d_kuu, z_bar_uu)) = Parallelism::join(batch.join, kuf_vjp, kuu_vjp);
    let d_kernel = d_kuu + d_kuf + kernel.vjp_diag_params(x, &kff_bar);
    (d_kernel, z_bar_uu * 2.0 + z_bar_uf) // Kuu = k(Z, Z) is symmetric: twice its first-argument VJP
}

/// Ā of kernel k's latents summed into `a_bar` (M×B; `mb_latent` is its partner buffer) and
/// G = tril(Ā Aᵀ) into `kuu_bar` (M×M), from the per-point marginals (their Lᵀ A are overwritten); returns k̄ff = c Σₗ g_σ,ₗ (B).
fn per_point_bars(
    model: &Svgp,
    batch: &BatchView,
    k: usize,
    (marg, vexp): (&mut LatentMarginals, &VarExp),
    (a_bar, mb_latent, kuu_bar): (&mut DMatrix<f64>, &mut DMatrix<f64>, &mut DMatrix<f64>),
) -> DVector<f64> {
    let cond = &batch.conds[k];
    let mut kff_bar = DVector::zeros(batch.x.nrows());
    for (n, l) in batch.latents_of(k, model.num_latent()).enumerate() {
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
    lower_of_matmul_nt_into(a_bar, &cond.a, kuu_bar, cond.par);
    kff_bar
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
        lower_mul_into(q.l(), lta, a_bar, g.cond.par); // S A diag(g_σ), then Ā in place
        let columns = a_bar.as_mut_slice().chunks_exact_mut(rows).zip(a);
        for ((col, a_j), (&g_mu_j, &g_var_j)) in columns.zip(per_point) {
            for ((v, &mi), &aij) in col.iter_mut().zip(m).zip(a_j) {
                *v = entry(*v, mi, aij, g_mu_j, g_var_j);
            }
        }
    } else {
        lower_mul_into(q.l(), lta, product, g.cond.par);
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
fn kuu_bar_in_place(lz: &DMatrix<f64>, w: &mut DMatrix<f64>, par: Parallelism) {
    *w = phi(std::mem::replace(w, DMatrix::zeros(0, 0))); // Φ(G), in its buffer
    w.as_mut_slice().iter_mut().for_each(|v| *v = -*v); // P = Φ(Lzᵀ L̄z) = −Φ(G)
    inverse_congruence_in_place(lz, w, par); // ½ (W + Wᵀ), W = Lz⁻ᵀ P Lz⁻¹
}
