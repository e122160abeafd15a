//! The batch's Gram matrix W = A Aᵀ, from which a conjugate likelihood is trained (MATH.md §4,
//! "Conjugate likelihoods").
//!
//! With a Gaussian likelihood every veᵢ is affine in σ²ᵢₗ with a coefficient gₗ (−1/(2σₙ,ₗ²))
//! the same for every point, so the ELBO and all its gradients need the marginal variances only
//! through Σᵢ σ²ᵢₗ = Σᵢ kffᵢ − tr W + ⟨Sₗ, W⟩, and the O(M²B) products of the per-point path
//! (Lᵀ A at each q, A diag(g_σ) Aᵀ, L (Lᵀ A diag g_σ) with its solve, tril(Ā Aᵀ)) become one
//! Gram matrix per batch, O(M³) products with it, and one product U A for K̄uf.

use super::Conditional;
use crate::linalg::{
    dot, lower_gram_in_column_halves, lower_of_matmul_nt_into, matmul_add_into,
    mirror_lower_in_place, reshape_buffer, solve_lower_transpose_in_place,
};
use crate::parallel::Parallelism;
use crate::variational::VariationalQ;
use nalgebra::{DMatrix, DVector};

/// Whether a batch of `b` rows with `m` inducing points is trained from its Gram matrix (for a
/// conjugate likelihood): when B ≥ M. The Gram path trades ≈ 3·M²B flops of per-point
/// products for ≈ 3·M³ of M×M ones, which run at a lower rate; measured side by side, the two
/// are level at B ≈ 0.8 M and the Gram path is faster from B ≈ M (`cargo bench --bench step`).
pub(super) fn uses_gram(m: usize, b: usize) -> bool {
    b >= m
}

/// W = A Aᵀ (M×M, exactly symmetric) of A (M×B) into `out`: the lower half, then mirrored.
/// `column_halves`: `None` forms it in one product; `Some(join)` as the sum over A's two column
/// halves ([`lower_gram_in_column_halves`], with `scratch`: M×M), side by side when `join`;
/// the one product under `par`.
pub(super) fn gram_into(
    a: &DMatrix<f64>,
    out: &mut DMatrix<f64>,
    scratch: &mut DMatrix<f64>,
    column_halves: Option<bool>,
    par: Parallelism,
) {
    match column_halves {
        Some(join) => lower_gram_in_column_halves(a, out, scratch, join),
        None => lower_of_matmul_nt_into(a, a, out, par),
    }
    mirror_lower_in_place(out);
}

/// Σᵢ σ²ᵢ of q's marginals at the batch, Σᵢ kffᵢ − tr W + ⟨S, W⟩ (`gram`: W, M×M symmetric),
/// with q's S, formed once per q and kept by it (the next iteration's q gradient is taken at
/// the q whose hyperparameter gradient formed it).
pub(super) fn summed_variance(cond: &Conditional, gram: &DMatrix<f64>, q: &VariationalQ) -> f64 {
    cond.kff_diag.sum() - gram.trace() + inner(q.s(), gram)
}

/// ⟨S, W⟩ = Σᵢⱼ Sᵢⱼ Wᵢⱼ for S and W of the same shape: a vectorised sum over every entry.
fn inner(s: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    dot(s.as_slice(), w.as_slice())
}

/// One latent of a kernel in the Gram path: its q (whose S the marginals formed), its g_μ
/// (length B) and its g_σ, the same for every point.
pub(super) struct GramLatent<'a> {
    pub q: &'a VariationalQ,
    pub g_mu: &'a [f64],
    pub g_var: f64,
}

/// What the two halves of one kernel's adjoints in the Gram path share (MATH.md §4, "Conjugate
/// likelihoods"): with T = 2c Σₗ gₗ (Sₗ − I) (M×M symmetric), Ā = c Σₗ mₗ g_μ,ₗᵀ + T A is never
/// formed; [`GramAdjoint::kuf_bar_into`] and [`GramAdjoint::g_lower_into`] are independent and
/// may run on two threads.
pub(super) struct GramAdjoint<'a> {
    pub cond: &'a Conditional,
    /// W = A Aᵀ, M×M.
    pub gram: &'a DMatrix<f64>,
    pub latents: &'a [GramLatent<'a>],
    /// c = N/B.
    pub scale: f64,
    /// T, M×M symmetric ([`scaled_s_minus_i_into`]).
    pub t: &'a DMatrix<f64>,
}

impl GramAdjoint<'_> {
    /// K̄uf = Lz⁻ᵀ Ā = c Σₗ (Lz⁻ᵀ mₗ) g_μ,ₗᵀ + (Lz⁻ᵀ T) A into `kuf_bar` (M×B), with Lz⁻ᵀ T
    /// built in `work` (M×M): the outer products first, the product accumulated onto them.
    pub fn kuf_bar_into(&self, work: &mut DMatrix<f64>, kuf_bar: &mut DMatrix<f64>) {
        let (cond, m) = (self.cond, self.t.nrows());
        debug_assert!(
            !self.latents.is_empty(),
            "a kernel serves at least one latent"
        );
        reshape_buffer(work, m, m);
        work.copy_from(self.t);
        solve_lower_transpose_in_place(&cond.lz, work, cond.par); // U = Lz⁻ᵀ T
        reshape_buffer(kuf_bar, m, cond.a.ncols());
        for (l, latent) in self.latents.iter().enumerate() {
            let mut alpha = DMatrix::from_column_slice(m, 1, latent.q.m().as_slice());
            solve_lower_transpose_in_place(&cond.lz, &mut alpha, cond.par); // Lz⁻ᵀ m
            let (u, v) = (alpha.as_slice(), latent.g_mu);
            outer_into(kuf_bar, self.scale, (u, v), l > 0); // the first latent's is written
        }
        matmul_add_into(work, &cond.a, kuf_bar, cond.par); // + U A, M×B
    }

    /// G = tril(Ā Aᵀ) = tril(T W + c Σₗ mₗ (A g_μ,ₗ)ᵀ) into `g_lower` (M×M, strict upper
    /// triangle zero).
    pub fn g_lower_into(&self, g_lower: &mut DMatrix<f64>) {
        lower_of_matmul_nt_into(self.t, self.gram, g_lower, self.cond.par); // tril(T W): W = Wᵀ
        for latent in self.latents {
            let a_g_mu = &self.cond.a * DVector::from_column_slice(latent.g_mu); // A g_μ, M
            add_lower_outer(g_lower, self.scale, latent.q.m(), &a_g_mu);
        }
    }
}

/// T = 2c Σₗ gₗ (Sₗ − I) (M×M, exactly symmetric as each Sₗ is) into `t` (`scale`: c);
/// returns k̄ff = c Σₗ gₗ, the same for every point.
pub(super) fn scaled_s_minus_i_into(
    latents: &[GramLatent],
    scale: f64,
    t: &mut DMatrix<f64>,
) -> f64 {
    let m = latents.first().map_or(0, |l| l.q.num_inducing());
    reshape_buffer(t, m, m); // 0×0 without latents
    for (l, latent) in latents.iter().enumerate() {
        let w = 2.0 * scale * latent.g_var;
        let entries = t.as_mut_slice().iter_mut().zip(latent.q.s().as_slice());
        match l {
            0 => entries.for_each(|(t, s)| *t = w * s), // the first latent's is written
            _ => entries.for_each(|(t, s)| *t += w * s),
        }
        for i in 0..m {
            t[(i, i)] -= w;
        }
    }
    scale * latents.iter().map(|l| l.g_var).sum::<f64>()
}

/// The lower triangle of `out` (N×N) += c u vᵀ.
fn add_lower_outer(out: &mut DMatrix<f64>, c: f64, u: &DVector<f64>, v: &DVector<f64>) {
    let n = out.nrows();
    for (j, col) in out.as_mut_slice().chunks_exact_mut(n.max(1)).enumerate() {
        let cv = c * v[j];
        col[j..]
            .iter_mut()
            .zip(&u.as_slice()[j..])
            .for_each(|(o, &ui)| *o += cv * ui);
    }
}

/// `out` (R×C) += c u vᵀ (u: R, v: C) when `add`, else `out` = c u vᵀ.
fn outer_into(out: &mut DMatrix<f64>, c: f64, (u, v): (&[f64], &[f64]), add: bool) {
    let rows = out.nrows().max(1);
    for (col, &vj) in out.as_mut_slice().chunks_exact_mut(rows).zip(v) {
        let cv = c * vj;
        let entries = col.iter_mut().zip(u);
        if add {
            entries.for_each(|(o, &ui)| *o += cv * ui);
        } else {
            entries.for_each(|(o, &ui)| *o = cv * ui);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{Kernel, Matern32, SquaredExponential};
    use crate::likelihood::{Gaussian, Likelihood, MultiGaussian, Poisson, PoissonLink};
    use crate::model::{ElboGrad, GradScope, Marginals, Svgp, Workspace};

    /// Seeded M×N matrix with entries in [−1, 1).
    fn matrix(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
        let mut state = seed;
        DMatrix::from_fn(rows, cols, |_, _| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
    }

    /// A model of `latents` Gaussian outputs (one Gaussian when 1) on seeded data with M = 6,
    /// D = 2, random q's, and a batch of `b` rows; one kernel per latent when `per_latent`.
    fn problem(latents: usize, per_latent: bool, b: usize) -> (Svgp, DMatrix<f64>, DVector<f64>) {
        problem_with(latents, per_latent, 6, b)
    }

    /// As [`problem`] with M = `m`, Z and X spread over a square √(M/6) times wider (so that Kuu
    /// stays as well conditioned as at M = 6).
    fn problem_with(
        latents: usize,
        per_latent: bool,
        m: usize,
        b: usize,
    ) -> (Svgp, DMatrix<f64>, DVector<f64>) {
        let (d, spread) = (2, (m as f64 / 6.0).sqrt());
        let z = matrix(m, d, 11) * (2.0 * spread);
        let x = matrix(b, d, 12) * (2.5 * spread);
        let y = matrix(b * latents, 1, 13).column(0).into_owned();
        let kernel = |l: usize| -> Box<dyn Kernel> {
            let lengths = vec![0.9 + 0.2 * l as f64, 1.4];
            match l {
                1 => Box::new(Matern32::new(1.3, lengths).unwrap()),
                _ => Box::new(SquaredExponential::new(1.1, lengths).unwrap()),
            }
        };
        let likelihood: Box<dyn Likelihood> = match latents {
            1 => Box::new(Gaussian::new(0.2).unwrap()),
            _ => Box::new(MultiGaussian::new(&[0.2, 0.5, 1.1][..latents]).unwrap()),
        };
        let kernels = match per_latent {
            true => (0..latents).map(kernel).collect(),
            false => vec![kernel(0)],
        };
        let qs = (0..latents as u64)
            .map(|l| {
                let raw = matrix(m, m, 20 + l);
                let l_factor = raw.lower_triangle() * 0.4 + DMatrix::identity(m, m) * 0.7;
                let mean = matrix(m, 1, 30 + l).column(0).into_owned();
                VariationalQ::new(mean, l_factor).unwrap()
            })
            .collect();
        let model = Svgp::with_qs(kernels, likelihood, z, qs, 1e-6).unwrap();
        (model, x, y)
    }

    /// Relative difference of two slices, max |a − b| / max(1, max |b|).
    fn rel(a: &[f64], b: &[f64]) -> f64 {
        let scale = b.iter().fold(1.0f64, |s, v| s.max(v.abs()));
        a.iter()
            .zip(b)
            .fold(0.0f64, |e, (x, y)| e.max((x - y).abs()))
            / scale
    }

    /// The Gram path gives the per-point path's ELBO and every gradient (q's and the
    /// hyperparameters', Z included) for one Gaussian, several outputs with a shared kernel and
    /// several with one kernel each. Both are exact; they differ by the order of rounding in
    /// O(M²B) sums of O(1) terms, so 1e-11 relative is ~100× the ε·√(M B) expected.
    #[test]
    fn gram_path_equals_the_per_point_path() {
        for (latents, per_latent) in [(1, false), (3, false), (3, true)] {
            let (model, x, y) = problem(latents, per_latent, 20);
            let ctx = format!("{latents} latents, per-latent kernels {per_latent}");
            gram_against_per_point(&model, &x, &y, &ctx);
        }
    }

    /// At M = 64, B = 512 (2¹⁵ Kuf entries) A = Lz⁻¹ Kuf and W = A Aᵀ are formed in column
    /// halves ([`crate::parallel::splits_columns`]). A equals nalgebra's own triangular solve
    /// to 1e-12 relative (entries are O(1) with Lz well conditioned: ~100 × ε·M), the Gram path
    /// still equals the per-point path (which never reads W) to 1e-11 as above, and the halves
    /// side by side on two threads give bitwise what they give one after the other.
    #[test]
    fn gram_path_in_halves_equals_the_per_point_path() {
        let (m, b) = (64, 512);
        assert!(crate::parallel::splits_columns(m, b));
        for (latents, per_latent) in [(1, false), (3, true)] {
            let (model, x, y) = problem_with(latents, per_latent, m, b);
            for cond in model.conditionals(&x).unwrap() {
                let direct = cond.lz.solve_lower_triangular(&cond.kuf).unwrap();
                assert!(rel(cond.a.as_slice(), direct.as_slice()) < 1e-12, "A");
            }
            let ctx = format!("M = {m}, {latents} latents");
            let model = model.with_parallelism(Parallelism::Sequential);
            let serial = gram_against_per_point(&model, &x, &y, &ctx);
            let two = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap();
            let model = model.with_parallelism(Parallelism::Threads);
            assert!(two.install(|| model.parallelism().joins_branches(m, b)));
            let joined = two.install(|| gram_against_per_point(&model, &x, &y, &ctx));
            assert_eq!(serial.elbo.to_bits(), joined.elbo.to_bits(), "{ctx}");
            assert_eq!(serial.d_hyper, joined.d_hyper, "{ctx}");
            assert_eq!(serial.dl_dm, joined.dl_dm, "{ctx}");
            assert_eq!(serial.dl_dl, joined.dl_dl, "{ctx}");
        }
    }

    /// The ELBO and every gradient from the Gram path against the per-point path on one batch
    /// (scale 3), to 1e-11 relative; returns the Gram path's.
    fn gram_against_per_point(
        model: &Svgp,
        x: &DMatrix<f64>,
        y: &DVector<f64>,
        ctx: &str,
    ) -> ElboGrad {
        let mut ws = Workspace::new();
        ws.set_batch(model, x, y, 3.0).unwrap();
        assert!(ws.uses_grams());
        let gram = ws.grad(model, GradScope::All, Marginals::Compute).unwrap();
        ws.drop_grams();
        let direct = ws.grad(model, GradScope::All, Marginals::Compute).unwrap();
        assert!(
            (gram.elbo - direct.elbo).abs() < 1e-11 * direct.elbo.abs(),
            "{ctx}"
        );
        let (gh, dh) = (
            gram.d_hyper.as_ref().unwrap(),
            direct.d_hyper.as_ref().unwrap(),
        );
        assert!(rel(gh.as_slice(), dh.as_slice()) < 1e-11, "{ctx}: hyper");
        let means = gram
            .dl_dm
            .iter()
            .flatten()
            .zip(direct.dl_dm.iter().flatten());
        for (a, b) in means {
            assert!(rel(a.as_slice(), b.as_slice()) < 1e-11, "{ctx}: m");
        }
        let factors = gram
            .dl_dl
            .iter()
            .flatten()
            .zip(direct.dl_dl.iter().flatten());
        for (a, b) in factors {
            assert!(rel(a.as_slice(), b.as_slice()) < 1e-11, "{ctx}: L");
        }
        gram
    }

    /// A batch smaller than M, or a likelihood that is not conjugate, is evaluated per point.
    #[test]
    fn small_batches_and_other_likelihoods_go_per_point() {
        let (model, x, y) = problem(1, false, 5);
        let mut ws = Workspace::new();
        ws.set_batch(&model, &x, &y, 1.0).unwrap();
        assert!(!ws.uses_grams());
        let (model, x, _) = problem(1, false, 20);
        let poisson = Box::new(Poisson::new(PoissonLink::Exp));
        let kernels = vec![model.kernel().box_clone()];
        let model = Svgp::with_qs(
            kernels,
            poisson,
            model.z().clone(),
            model.qs().to_vec(),
            1e-6,
        );
        let model = model.unwrap();
        ws.set_batch(&model, &x, &DVector::from_element(20, 1.0), 1.0)
            .unwrap();
        assert!(!ws.uses_grams());
        // A batch set for a Gaussian model refuses a Poisson one instead of misusing its Gram path.
        let (gaussian, x, y) = problem(1, false, 20);
        ws.set_batch(&gaussian, &x, &y, 1.0).unwrap();
        assert!(ws.grad(&model, GradScope::All, Marginals::Compute).is_err());
        assert!(ws.elbo(&model).is_err());
    }

    #[test]
    fn gram_threshold_is_m() {
        assert!(uses_gram(100, 100) && !uses_gram(100, 99) && uses_gram(0, 0));
    }
}
