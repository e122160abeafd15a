//! Joint predictions at new points: each latent's full covariance
//! Σ* = K** − Aᵀ A + Aᵀ S A with A = Lz⁻¹ K(Z, X*) (MATH.md §1, the batch marginals' matrix
//! form), the same for y where each output is its latent plus Gaussian noise, and joint samples
//! drawn through a Cholesky factor of either.

use super::{Conditional, Svgp};
use crate::error::{check_shape, Result, Shape, SvgpError};
use crate::likelihood::special::standard_normal;
use crate::linalg::{lower_mul_into, matmul_add_into, symmetrise_in_place, Scalar};
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Jitter for drawing samples, relative to the covariance's largest diagonal entry: the factor
/// is chol(Σ + 1e-10·max(diag Σ)·I). It covers rounding (about ε·M·max diag Σ) and repeated test
/// points (a singular Σ), and moves a sample's standard deviation by at most 1e-5 of the
/// largest one.
pub const SAMPLE_JITTER: f64 = 1e-10;

/// The most rows a joint prediction takes: each latent's N×N covariance is then 3.2 GB, and
/// N·S sampled values at most this number squared. Above it the front doors would ask for tens
/// of gigabytes, which an allocator cannot refuse gracefully (the process aborts), so the
/// request is refused instead; [`Svgp::predict_f`] gives marginals of any number of rows.
pub const MAX_JOINT_ROWS: usize = 20_000;

/// What a joint prediction is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JointOf {
    /// The latent functions f (one covariance per latent).
    F,
    /// The targets y = f + ε, for likelihoods whose outputs are their latents plus independent
    /// Gaussian noise ([`crate::likelihood::LikelihoodBase::additive_noise_variances`]).
    Y,
}

impl Svgp {
    /// Mean (N*) and full covariance (N*×N*) of latent l's q(f*ₗ) at `x_new` (N*×D):
    /// Σ* = K** − Aᵀ A + Aᵀ S A, A = Lz⁻¹ K(Z, X*), with diag K** taken from the kernel's
    /// `diag` (a white-noise kernel has it on the diagonal only). Memory: the N*² result plus
    /// 3·M·N* work (A, (S − I) A and Aᵀ); use [`Svgp::predict_f`] for marginals of large test
    /// sets.
    ///
    /// # Errors
    /// As [`Svgp::predict_f`]; `InvalidParameter { name: "latent" }` for a latent index ≥ L.
    pub fn predict_f_full_cov(
        &self,
        x_new: &DMatrix<f64>,
        latent: usize,
    ) -> Result<(DVector<f64>, DMatrix<f64>)> {
        if latent >= self.num_latent() {
            return Err(SvgpError::InvalidParameter {
                name: "latent".into(),
                value: latent as f64,
                reason: "must be below the model's number of latents",
            });
        }
        self.check_joint_inputs(x_new, 1)?;
        self.latent_full_cov(x_new, latent)
    }

    /// Means (N*×L, or N*×P for y) and one full covariance (N*×N*) per latent, or per output
    /// for [`JointOf::Y`] (the latent's with σₚ² added to its diagonal). Memory: L·N*² for the
    /// result plus 3·M·N* work, one latent at a time.
    ///
    /// # Errors
    /// As [`Svgp::predict_f`]; `InvalidParameter { name: "likelihood" }` for [`JointOf::Y`] with a
    /// likelihood whose outputs are not their latents plus Gaussian noise.
    pub fn predict_full_covs(
        &self,
        x_new: &DMatrix<f64>,
        of: JointOf,
    ) -> Result<(DMatrix<f64>, Vec<DMatrix<f64>>)> {
        self.check_joint_inputs(x_new, 1)?;
        let noise = self.joint_noise(of)?;
        let mut mean = DMatrix::zeros(x_new.nrows(), self.num_latent());
        let mut covs = Vec::with_capacity(self.num_latent());
        for l in 0..self.num_latent() {
            let (mu, cov) = self.joint_latent(x_new, l, &noise)?;
            mean.set_column(l, &mu);
            covs.push(cov);
        }
        Ok((mean, covs))
    }

    /// `num_samples` joint samples of each latent f at `x_new` (N*×D): one N*×S matrix per
    /// latent, column s a draw from N(μₗ, Σₗ), factored with [`SAMPLE_JITTER`]. The draws come
    /// from `StdRng::seed_from_u64(seed)`, latent by latent and column by column, so a seed gives
    /// the same bits. Memory: N*² + 3·M·N* + N*·S at a time, plus the L·N*·S result.
    ///
    /// # Errors
    /// As [`Svgp::predict_f`]; `InvalidParameter { name: "num_samples" }` for 0;
    /// `NotPositiveDefinite { matrix: "predictive covariance" }` if even the jittered covariance
    /// has no Cholesky factor.
    pub fn predict_f_samples(
        &self,
        x_new: &DMatrix<f64>,
        num_samples: usize,
        seed: u64,
    ) -> Result<Vec<DMatrix<f64>>> {
        self.joint_samples(x_new, JointOf::F, num_samples, seed)
    }

    /// As [`Svgp::predict_f_samples`], of y = f + ε: one N*×S matrix per output, from the joint
    /// covariance of y (Σₗ + σₚ² I), for likelihoods whose outputs are their latents plus
    /// Gaussian noise (Gaussian, multi-output Gaussian).
    ///
    /// # Errors
    /// As [`Svgp::predict_f_samples`]; `InvalidParameter { name: "likelihood" }` for any other
    /// likelihood.
    pub fn predict_y_samples(
        &self,
        x_new: &DMatrix<f64>,
        num_samples: usize,
        seed: u64,
    ) -> Result<Vec<DMatrix<f64>>> {
        self.joint_samples(x_new, JointOf::Y, num_samples, seed)
    }

    /// `ShapeMismatch` unless `x_new` is N*×D.
    pub(super) fn check_prediction_inputs(&self, x_new: &DMatrix<f64>) -> Result<()> {
        check_shape(
            "prediction inputs",
            Shape::new(x_new.nrows(), self.input_dim()),
            Shape::new(x_new.nrows(), x_new.ncols()),
        )
    }

    /// As [`Svgp::check_prediction_inputs`], and `InvalidParameter` for more than
    /// [`MAX_JOINT_ROWS`] rows (`prediction rows`) or N·`num_samples` above its square
    /// (`num_samples`).
    fn check_joint_inputs(&self, x_new: &DMatrix<f64>, num_samples: usize) -> Result<()> {
        self.check_prediction_inputs(x_new)?;
        let rows = x_new.nrows();
        if rows > MAX_JOINT_ROWS {
            return Err(SvgpError::InvalidParameter {
                name: "prediction rows".into(),
                value: rows as f64,
                reason: "a joint prediction holds an N×N covariance per latent (8·N² bytes): at \
                         most model::MAX_JOINT_ROWS = 20000 rows; predict_f gives marginals",
            });
        }
        if rows.saturating_mul(num_samples) > MAX_JOINT_ROWS * MAX_JOINT_ROWS {
            return Err(SvgpError::InvalidParameter {
                name: "num_samples".into(),
                value: num_samples as f64,
                reason: "N·num_samples sampled values must be at most model::MAX_JOINT_ROWS² \
                         (4e8, 3.2 GB per latent)",
            });
        }
        Ok(())
    }

    /// The variance added to each latent's diagonal: zeros for f, σₚ² for y.
    fn joint_noise(&self, of: JointOf) -> Result<Vec<f64>> {
        match of {
            JointOf::F => Ok(vec![0.0; self.num_latent()]),
            JointOf::Y => self.likelihood().additive_noise_variances().ok_or_else(|| {
                SvgpError::InvalidParameter {
                    name: "likelihood".into(),
                    value: f64::NAN,
                    reason: "joint predictions of y need outputs that are their latents plus \
                             Gaussian noise (a Gaussian likelihood); those of f need none",
                }
            }),
        }
    }

    /// Latent l's mean and covariance with `noise[l]` added to the diagonal.
    fn joint_latent(
        &self,
        x_new: &DMatrix<f64>,
        l: usize,
        noise: &[f64],
    ) -> Result<(DVector<f64>, DMatrix<f64>)> {
        let (mean, mut cov) = self.latent_full_cov(x_new, l)?;
        for i in 0..cov.nrows() {
            cov[(i, i)] += noise[l];
        }
        Ok((mean, cov))
    }

    /// Latent l's mean Aᵀ m (N*) and covariance K** + Aᵀ (S − I) A (N*×N*), built in place.
    fn latent_full_cov(
        &self,
        x_new: &DMatrix<f64>,
        l: usize,
    ) -> Result<(DVector<f64>, DMatrix<f64>)> {
        let kernel = self.kernels()[self.kernel_index(l)].as_ref();
        let par = self.parallelism();
        let cond = Conditional::new(kernel, self.z(), x_new, self.jitter(), par)?;
        let q = &self.qs()[l];
        let mean = cond.a.tr_mul(q.m()); // Aᵀ m
        let mut cov = DMatrix::zeros(0, 0);
        kernel.matrix_into(x_new, x_new, &mut cov, par); // K**
        cov.set_diagonal(&cond.kff_diag); // diag K** = kernel.diag(X*)
        let m = q.num_inducing();
        let s_minus_i = q.s() - DMatrix::identity(m, m); // S − I: M×M
        let b = crate::linalg::matmul(&s_minus_i, &cond.a, par); // (S − I) A: M×N*
        matmul_add_into(&cond.a.transpose(), &b, &mut cov, par); // + Aᵀ (S − I) A
        symmetrise_in_place(&mut cov);
        Ok((mean, cov))
    }

    /// Joint samples of f or y (see [`Svgp::predict_f_samples`]).
    fn joint_samples(
        &self,
        x_new: &DMatrix<f64>,
        of: JointOf,
        num_samples: usize,
        seed: u64,
    ) -> Result<Vec<DMatrix<f64>>> {
        if num_samples == 0 {
            return Err(SvgpError::InvalidParameter {
                name: "num_samples".into(),
                value: 0.0,
                reason: "must be at least 1",
            });
        }
        self.check_joint_inputs(x_new, num_samples)?;
        let noise = self.joint_noise(of)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut samples = Vec::with_capacity(self.num_latent());
        for l in 0..self.num_latent() {
            let (mean, cov) = self.joint_latent(x_new, l, &noise)?;
            samples.push(self.draw(&mean, cov, num_samples, &mut rng)?);
        }
        Ok(samples)
    }

    /// N*×S draws μ 1ᵀ + Lc E with Lc = chol(Σ + jitter·I) factored in Σ's buffer and E's
    /// entries standard normal, column by column.
    fn draw(
        &self,
        mean: &DVector<f64>,
        mut cov: DMatrix<f64>,
        num_samples: usize,
        rng: &mut StdRng,
    ) -> Result<DMatrix<f64>> {
        let n = mean.len();
        let jitter = SAMPLE_JITTER * cov.diagonal().iter().fold(0.0_f64, |a, &b| a.max(b));
        for i in 0..n {
            cov[(i, i)] += jitter;
        }
        let par = self.parallelism();
        f64::cholesky_in_place(&mut cov, par).map_err(|pivot| SvgpError::NotPositiveDefinite {
            matrix: "predictive covariance",
            pivot,
            jitter,
        })?;
        let draws = (0..n * num_samples).map(|_| standard_normal(rng));
        let normals = DMatrix::from_iterator(n, num_samples, draws); // E, filled column-major
        let mut out = DMatrix::zeros(0, 0);
        lower_mul_into(&cov, &normals, &mut out, par); // Lc E: N*×S
        for mut column in out.column_iter_mut() {
            column += mean;
        }
        Ok(out)
    }
}
