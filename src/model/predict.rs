//! Predictions at new inputs, in chunks so a large test set never needs O(N_test²) memory
//! (MATH.md §1: the marginals of q(f) at new points are those of a batch).

use super::Svgp;
use crate::error::{check_shape, Result, Shape};
use crate::linalg::{matmul_tn, symmetrise_in_place};
use nalgebra::{DMatrix, DVector};

/// Rows per chunk of prediction inputs: Kuf for one chunk is M×1024.
pub const PREDICT_CHUNK: usize = 1024;

impl Svgp {
    /// Mean and variance of q(f*) at `x_new` (N*×D), each of length N*.
    ///
    /// # Errors
    /// `ShapeMismatch` if x_new is not N*×D; `NotPositiveDefinite` for Kuu.
    pub fn predict_f(&self, x_new: &DMatrix<f64>) -> Result<(DVector<f64>, DVector<f64>)> {
        let n = x_new.nrows();
        let mut mean = DVector::zeros(n);
        let mut var = DVector::zeros(n);
        for start in (0..n).step_by(PREDICT_CHUNK) {
            let len = PREDICT_CHUNK.min(n - start);
            let chunk = x_new.rows(start, len).into_owned();
            let (mu, v) = self.conditional(&chunk)?.marginals(self.q());
            mean.rows_mut(start, len).copy_from(&mu);
            var.rows_mut(start, len).copy_from(&v);
        }
        Ok((mean, var))
    }

    /// Mean and variance of the predictive distribution of y* at `x_new` (N*×D), from the
    /// likelihood's `predict_y`.
    ///
    /// # Errors
    /// As [`Svgp::predict_f`].
    pub fn predict_y(&self, x_new: &DMatrix<f64>) -> Result<(DVector<f64>, DVector<f64>)> {
        let (mu, var) = self.predict_f(x_new)?;
        Ok(self.likelihood().predict_y(&mu, &var))
    }
}

impl Svgp {
    /// Mean (N*) and full covariance (N*×N*) of q(f*) at `x_new`:
    /// Σ* = K** − Aᵀ A + Aᵀ S A, A = Lz⁻¹ K(Z, X*). Needs O(N*²) memory; use [`Svgp::predict_f`]
    /// for marginals of large test sets.
    ///
    /// # Errors
    /// As [`Svgp::predict_f`].
    pub fn predict_f_full_cov(&self, x_new: &DMatrix<f64>) -> Result<(DVector<f64>, DMatrix<f64>)> {
        let cond = self.conditional(x_new)?;
        let mean = cond.a.tr_mul(self.q().m());
        let lta = matmul_tn(self.q().l(), &cond.a); // Lᵀ A
        let mut cov = self.kernel().matrix(x_new, x_new) - matmul_tn(&cond.a, &cond.a)
            + matmul_tn(&lta, &lta);
        symmetrise_in_place(&mut cov);
        Ok((mean, cov))
    }

    /// log p(y*ᵢ | data) = log ∫ p(y*ᵢ | f) q(f*ᵢ) df per point (`x_new`: N*×D, `y`: N*).
    ///
    /// # Errors
    /// As [`Svgp::predict_f`]; `ShapeMismatch` if y does not have N* entries; `InvalidTarget`
    /// for a target outside the likelihood's domain.
    pub fn log_predictive_density(
        &self,
        x_new: &DMatrix<f64>,
        y: &DVector<f64>,
    ) -> Result<DVector<f64>> {
        check_shape(
            "test targets",
            Shape::new(x_new.nrows(), 1),
            Shape::new(y.len(), 1),
        )?;
        self.likelihood().check_targets(y)?;
        let (mu, var) = self.predict_f(x_new)?;
        Ok(self.likelihood().log_predictive_density(y, &mu, &var))
    }
}
