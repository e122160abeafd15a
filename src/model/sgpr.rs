//! The collapsed (Titsias 2009) bound for a Gaussian likelihood and its optimal whitened q(v),
//! in O(N M²) without any N×N matrix (MATH.md §3).
//!
//! With A = Lz⁻¹ Kuf (M×N) and B = I + A Aᵀ/σₙ² = L_B L_Bᵀ, the determinant lemma and Woodbury
//! reduce every N×N quantity to M×M ones; the optimum is S* = B⁻¹, m* = B⁻¹ A y / σₙ².

use super::Conditional;
use crate::error::{check_shape, Result, Shape};
use crate::kernel::Kernel;
use crate::linalg::{
    cholesky, cholesky_of_inverse, log_det_from_factor, matmul_nt, solve_lower_in_place,
    solve_lower_transpose_in_place,
};
use crate::parallel::Parallelism;
use crate::variational::VariationalQ;
use nalgebra::{DMatrix, DVector};
use std::f64::consts::PI;

/// The collapsed bound and the q(v) that attains it.
#[derive(Debug, Clone)]
pub struct SgprFit {
    /// log N(y | 0, Qff + σₙ² I) − tr(Kff − Qff)/(2σₙ²), Qff = Aᵀ A.
    pub bound: f64,
    /// The optimal whitened q(v): S* = (I + A Aᵀ/σₙ²)⁻¹, m* = S* A y/σₙ².
    pub q: VariationalQ,
}

/// The SGPR bound at inducing inputs `z` (M×D), data `x` (N×D), `y` (N), noise variance σₙ² and
/// Kuu jitter.
///
/// Uses log|Qff + σₙ²I| = N log σₙ² + log|B| and
/// yᵀ(Qff + σₙ²I)⁻¹y = (yᵀy − ‖L_B⁻¹ A y‖²/σₙ²)/σₙ² (Woodbury).
///
/// # Errors
/// `ShapeMismatch` for inconsistent shapes; `InvalidTarget` naming the row of the first
/// non-finite target; `NotPositiveDefinite` for Kuu or B.
pub fn sgpr_bound(
    kernel: &dyn Kernel,
    noise_variance: f64,
    z: &DMatrix<f64>,
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    jitter: f64,
) -> Result<SgprFit> {
    check_shape(
        "SGPR targets",
        Shape::new(x.nrows(), 1),
        Shape::new(y.len(), 1),
    )?;
    check_shape(
        "SGPR inputs",
        Shape::new(x.nrows(), z.ncols()),
        Shape::new(x.nrows(), x.ncols()),
    )?;
    crate::likelihood::check_each(y, "Gaussian targets must be finite", f64::is_finite)?;
    let par = Parallelism::default(); // a reference computation: the default policy
    let cond = Conditional::new(kernel, z, x, jitter, par)?;
    let (n, m) = (x.nrows() as f64, z.nrows());
    let a = &cond.a; // M×N
    let b = DMatrix::identity(m, m) + matmul_nt(a, a, par) / noise_variance; // I + A Aᵀ/σₙ²
    let lb = cholesky(&b, "B = I + A Aᵀ/σₙ²", par)?;
    let mut c = DMatrix::from_column_slice(m, 1, (a * y).as_slice()); // A y
    solve_lower_in_place(&lb, &mut c, par); // L_B⁻¹ A y
    let c_norm2 = c.norm_squared();
    let log_det = n * noise_variance.ln() + log_det_from_factor(&lb);
    let quad = (y.norm_squared() - c_norm2 / noise_variance) / noise_variance;
    let trace = cond.kff_diag.sum() - a.norm_squared(); // tr(Kff − Qff)
    let bound = -0.5 * (n * (2.0 * PI).ln() + log_det + quad) - 0.5 * trace / noise_variance;

    // S* = B⁻¹ = L_B⁻ᵀ L_B⁻¹: its Cholesky factor is chol(B⁻¹), and m* = L_B⁻ᵀ (L_B⁻¹ A y)/σₙ².
    let l_opt = cholesky_of_inverse(&b, "B = I + A Aᵀ/σₙ²", par)?;
    let mut m_opt = c / noise_variance;
    solve_lower_transpose_in_place(&lb, &mut m_opt, par);
    let q = VariationalQ::new(m_opt.column(0).into_owned(), l_opt)?;
    Ok(SgprFit { bound, q })
}

impl super::Svgp {
    /// The collapsed SGPR bound at this model's kernel, Z, jitter and Gaussian noise, on all of
    /// (x: N×D, y: N), with the optimal q(v) that attains it.
    ///
    /// # Errors
    /// `InvalidParameter { name: "likelihood" }` if the likelihood is not Gaussian; as
    /// [`sgpr_bound`] otherwise.
    pub fn sgpr_bound(&self, x: &DMatrix<f64>, y: &DVector<f64>) -> Result<SgprFit> {
        let noise = self.likelihood().gaussian_noise_variance().ok_or_else(|| {
            crate::SvgpError::InvalidParameter {
                name: "likelihood".into(),
                value: f64::NAN,
                reason: "the collapsed bound needs the Gaussian likelihood",
            }
        })?;
        sgpr_bound(self.kernel(), noise, self.z(), x, y, self.jitter())
    }
}
