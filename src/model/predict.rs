//! Predictions at new inputs, in chunks so a large test set never needs O(N_test²) memory
//! (MATH.md §1: the marginals of q(f) at new points are those of a batch).

use super::Svgp;
use crate::error::Result;
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
