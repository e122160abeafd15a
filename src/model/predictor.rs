//! One latent's marginals at new points as a quadratic form in k = k(Z, x*), formed once per
//! prediction call (MATH.md §1 with A = Lz⁻¹ Kuf folded into the M×M operators):
//! μ* = kᵀ α and σ²* = k** − kᵀ Q k = k** − 2 kᵀ Φ(Q) k, with α = Lz⁻ᵀ m and
//! Q = Lz⁻ᵀ (I − S) Lz⁻¹ (symmetric). Per chunk of B points that is one triangular product
//! Φ(Q) Kuf (M²·B flops), where A = Lz⁻¹ Kuf and Lᵀ A take two.
//!
//! Folding Lz⁻¹ into Q costs accuracy when Kuu is ill-conditioned: an estimate of the rounding
//! error of kᵀ Q k is ε·√M·‖Lz⁻¹‖²_F·(1 + ‖S‖_F)·‖k‖², where the whitened form's is about
//! ε·√M·kff. Since k(zⱼ, x)² ≤ k(zⱼ, zⱼ)·k(x, x) for any kernel, ‖k‖² ≤ tr(Kuu)·kff, so the
//! relative estimate ε·√M·‖Lz⁻¹‖²_F·‖Lz‖²_F·(1 + ‖S‖_F) holds at every point (‖Lz⁻¹‖²_F·‖Lz‖²_F
//! = tr(Kuu⁻¹)·tr(Kuu) ≥ M² is a condition number of Kuu). A latent for which it (or its
//! analogue ε·√M·‖α‖·‖Lz‖_F for the mean, relative to √kff) exceeds [`QUADRATIC_FORM_TOL`] is
//! predicted in the whitened form instead. The choice depends on the model only, never on the
//! points or the chunks, so a row's prediction does not depend on how the rows are chunked.
//! The estimate is pessimistic: measured errors are 10⁴–10⁵ times below it (this module's tests).

use super::conditional::whitened_marginals_into;
use crate::linalg::{
    inverse_congruence_in_place, lower_inverse, lower_mul_into, phi, solve_lower_in_place,
    solve_lower_transpose_in_place,
};
use crate::parallel::Parallelism;
use crate::variational::VariationalQ;
use nalgebra::{DMatrix, DVector, DVectorViewMut};

/// The largest rounding estimate of the quadratic form, relative to kff (variances) or √kff
/// (means), at which it is used; above it a latent takes the whitened form.
pub(crate) const QUADRATIC_FORM_TOL: f64 = 1e-6;

/// One latent's prediction operators (see the module docs), borrowing its Kuu factor and q.
#[derive(Debug, Clone)]
pub(crate) struct LatentPredictor<'a> {
    /// Lz = chol(Kuu + jitter·I), M×M lower, for the whitened form.
    lz: &'a DMatrix<f64>,
    /// q(v) = N(m, L Lᵀ), for the whitened form.
    q: &'a VariationalQ,
    /// α = Lz⁻ᵀ m, M×1.
    alpha: DMatrix<f64>,
    /// Φ(Q): the lower triangle of Q with its diagonal halved (M×M, strict upper triangle zero).
    phi_q: DMatrix<f64>,
    /// Whether the rounding estimates are within [`QUADRATIC_FORM_TOL`] (see the module docs).
    quadratic: bool,
    /// The model's policy, for the products and solves.
    par: Parallelism,
}

/// Buffers for [`LatentPredictor::marginals_into`], reused across chunks.
#[derive(Debug, Clone, Default)]
pub(crate) struct PredictWork {
    /// Φ(Q) Kuf, or Lᵀ A in the whitened form (M×B).
    product: DMatrix<f64>,
    /// A = Lz⁻¹ Kuf in the whitened form (M×B).
    a: DMatrix<f64>,
}

impl<'a> LatentPredictor<'a> {
    /// From the factor `lz` (M×M) of the latent's Kuu and its q (M inducing points), its
    /// products and solves under `par`.
    pub(crate) fn new(lz: &'a DMatrix<f64>, q: &'a VariationalQ, par: Parallelism) -> Self {
        let num_inducing = q.num_inducing();
        let mut alpha = DMatrix::from_column_slice(num_inducing, 1, q.m().as_slice());
        solve_lower_transpose_in_place(lz, &mut alpha, par);
        // I − S is formed before Lz⁻¹ amplifies it, so that directions where S ≈ I cancel in
        // whitened coordinates rather than in Kuu⁻¹ − Lz⁻ᵀ S Lz⁻¹.
        let mut q_mat = DMatrix::identity(num_inducing, num_inducing) - q.s();
        inverse_congruence_in_place(lz, &mut q_mat, par); // Lz⁻ᵀ (I − S) Lz⁻¹
        let eps_m = f64::EPSILON * (num_inducing as f64).sqrt();
        let kuu_cond = lower_inverse(lz, par).norm_squared() * lz.norm_squared();
        let var_err = eps_m * kuu_cond * (1.0 + q.s().norm());
        let mean_err = eps_m * alpha.norm() * lz.norm();
        LatentPredictor {
            lz,
            q,
            alpha,
            phi_q: phi(q_mat),
            quadratic: var_err <= QUADRATIC_FORM_TOL && mean_err <= QUADRATIC_FORM_TOL,
            par,
        }
    }

    /// The marginals at one chunk: μ* into `mu` and σ²* (clamped at 0 against rounding) into
    /// `var`, length B each, from `kuf` (M×B) and `kff_diag` (B); by the quadratic form when
    /// it is accurate enough for this latent, else by the whitened form.
    pub(crate) fn marginals_into(
        &self,
        kuf: &DMatrix<f64>,
        kff_diag: &DVector<f64>,
        mut mu: DVectorViewMut<f64>,
        mut var: DVectorViewMut<f64>,
        work: &mut PredictWork,
    ) {
        if !self.quadratic {
            work.a.clone_from(kuf);
            solve_lower_in_place(self.lz, &mut work.a, self.par); // A = Lz⁻¹ Kuf
            let outputs = (mu, var, &mut work.product);
            whitened_marginals_into(&work.a, kff_diag, self.q, outputs, self.par);
            return;
        }
        kuf.tr_mul_to(&self.alpha.column(0), &mut mu); // Kufᵀ α
        lower_mul_into(&self.phi_q, kuf, &mut work.product, self.par); // Φ(Q) Kuf
        for (i, v) in var.iter_mut().enumerate() {
            let quad = kuf.column(i).dot(&work.product.column(i));
            *v = (kff_diag[i] - 2.0 * quad).max(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::SquaredExponential;
    use crate::likelihood::Gaussian;
    use crate::linalg::cholesky_with_jitter;
    use crate::model::Svgp;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    /// A model with inducing inputs `z` (M×D), lengthscale `ls`, jitter 1e-6 and a random
    /// full-covariance q: m ~ U(−1, 1), L lower with diagonal in [0.3, 1.3] and off-diagonals
    /// U(−0.1, 0.1)/√M.
    fn model(rng: &mut StdRng, z: DMatrix<f64>, ls: f64) -> Svgp {
        let n = z.nrows();
        let m = DVector::from_fn(n, |_, _| rng.random_range(-1.0..1.0));
        let scale = 0.1 / (n as f64).sqrt();
        let l = DMatrix::from_fn(n, n, |i, j| match i.cmp(&j) {
            std::cmp::Ordering::Greater => scale * rng.random_range(-1.0..1.0),
            std::cmp::Ordering::Equal => rng.random_range(0.3..1.3),
            std::cmp::Ordering::Less => 0.0,
        });
        let q = VariationalQ::new(m, l).unwrap();
        let kernel = SquaredExponential::new(1.0, vec![ls; z.ncols()]).unwrap();
        let noise = Gaussian::new(0.1).unwrap();
        Svgp::with_q(Box::new(kernel), Box::new(noise), z, q, 1e-6).unwrap()
    }

    /// predict_f (chunked; quadratic or whitened form) against the whitened formula of
    /// MATH.md §1 on the whole test set at once (`Conditional::marginals`): means within
    /// 1e-10·√kff and variances within 1e-10·kff. The quadratic form is only held to an
    /// estimate of 1e-6·kff (QUADRATIC_FORM_TOL), but its measured error is far smaller
    /// (1.1e-12·kff in the first test below, estimate 2.2e-7), so 1e-10 leaves a margin of 100
    /// and would still catch a wrong formula; the whitened form's own rounding is about
    /// ε·√M·kff. The test points include Z itself, where σ²* is smallest and kff − kᵀ Q k
    /// cancels most. Returns whether the quadratic form was used.
    fn check_against_whitened(model: &Svgp, x_new: &DMatrix<f64>) -> bool {
        let (mean, var) = model.predict_f(x_new).unwrap();
        let cond = &model.conditionals(x_new).unwrap()[0];
        let (mu_ref, var_ref) = cond.marginals(model.q());
        for i in 0..x_new.nrows() {
            let kff = cond.kff_diag[i];
            let (dm, dv) = ((mean[i] - mu_ref[i]).abs(), (var[i] - var_ref[i]).abs());
            assert!(
                dm <= QUADRATIC_FORM_TOL * kff.sqrt(),
                "point {i}: mean off by {dm:e}"
            );
            assert!(
                dv <= QUADRATIC_FORM_TOL * kff,
                "point {i}: variance off by {dv:e}"
            );
        }
        let kuu = model.kernel().matrix(model.z(), model.z());
        let lz =
            cholesky_with_jitter(&kuu, model.jitter(), "Kuu", Parallelism::Sequential).unwrap();
        LatentPredictor::new(&lz, model.q(), Parallelism::Sequential).quadratic
    }

    /// Well-spread inducing inputs (M = 200 in [−3, 3]³, lengthscale 1) take the quadratic form;
    /// 2500 test points make two full chunks and a partial one.
    #[test]
    fn quadratic_form_matches_the_whitened_formula() {
        let mut rng = StdRng::seed_from_u64(18);
        let z = DMatrix::from_fn(200, 3, |_, _| rng.random_range(-3.0..3.0));
        let model = model(&mut rng, z.clone(), 1.0);
        let mut x_new = DMatrix::from_fn(2500, 3, |_, _| rng.random_range(-3.5..3.5));
        x_new.rows_mut(0, 200).copy_from(&z);
        assert!(check_against_whitened(&model, &x_new));
    }

    /// Crowded inducing inputs (M = 60 on [0, 2], lengthscale 1: cond(Kuu) near 1/jitter) fail
    /// the rounding estimate (3.8e-5; the quadratic form's measured error there is 1.6e-9) and
    /// take the whitened form.
    #[test]
    fn ill_conditioned_kuu_takes_the_whitened_form() {
        let mut rng = StdRng::seed_from_u64(19);
        let z = DMatrix::from_fn(60, 1, |i, _| 2.0 * i as f64 / 59.0);
        let model = model(&mut rng, z.clone(), 1.0);
        let mut x_new = DMatrix::from_fn(1500, 1, |_, _| rng.random_range(-1.0..3.0));
        x_new.rows_mut(0, 60).copy_from(&z);
        assert!(!check_against_whitened(&model, &x_new));
    }
}
