//! Predictions at new inputs, in chunks of [`Svgp::chunk_rows`] rows so a large test set needs
//! neither O(N*²) nor O(N*·M) memory (MATH.md §1: the marginals of q(f) at new points are those
//! of a batch).

use super::predictor::{LatentPredictor, PredictWork};
use super::Svgp;
use crate::error::{check_targets_shape, Result};
use crate::linalg::{cholesky_with_jitter, reshape_buffer};
use nalgebra::{DMatrix, DVector};

impl Svgp {
    /// Mean and variance of q(f*ₗ) at `x_new` (N*×D) for each latent l: N*×L each, computed
    /// [`Svgp::chunk_rows`] rows at a time ([`Svgp::predict_chunks`]).
    ///
    /// # Errors
    /// `ShapeMismatch` if x_new is not N*×D; `NotPositiveDefinite` for a Kuu.
    pub fn predict_f(&self, x_new: &DMatrix<f64>) -> Result<(DMatrix<f64>, DMatrix<f64>)> {
        let (n, latents) = (x_new.nrows(), self.num_latent());
        let mut mean = DMatrix::zeros(n, latents);
        let mut var = DMatrix::zeros(n, latents);
        self.predict_chunks(x_new, self.chunk_rows(), |start, mu, v| {
            mean.rows_mut(start, mu.nrows()).copy_from(mu);
            var.rows_mut(start, v.nrows()).copy_from(v);
            Ok(())
        })?;
        Ok((mean, var))
    }

    /// Calls `f(start, mean, var)` with the marginals of q(f*ₗ) (b×L each) at each chunk of at
    /// most `rows` rows of `x_new` (N*×D), in order, from row `start`: Kuu is factorised once
    /// per kernel, and a chunk's memory is its Kuf and products, M×b each. A row's prediction
    /// does not depend on the chunking. The kernel matrices spread their work over threads as
    /// the model's [`crate::Parallelism`] says.
    ///
    /// # Errors
    /// `ShapeMismatch` if x_new is not N*×D; `NotPositiveDefinite` for a Kuu; `f`'s.
    pub fn predict_chunks(
        &self,
        x_new: &DMatrix<f64>,
        rows: usize,
        mut f: impl FnMut(usize, &DMatrix<f64>, &DMatrix<f64>) -> Result<()>,
    ) -> Result<()> {
        self.check_prediction_inputs(x_new)?;
        let lzs = self.kuu_factors()?;
        let predictors: Vec<_> = (self.qs().iter().enumerate())
            .map(|(l, q)| LatentPredictor::new(&lzs[self.kernel_index(l)], q, self.parallelism()))
            .collect();
        let (n, latents, rows) = (x_new.nrows(), self.num_latent(), rows.max(1));
        let (mut mean, mut var) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
        let mut kufs = vec![DMatrix::zeros(0, 0); self.kernels().len()];
        let mut work = PredictWork::default();
        for start in (0..n).step_by(rows) {
            let len = rows.min(n - start);
            let chunk = x_new.rows(start, len).into_owned();
            let mut kff_diags = Vec::with_capacity(kufs.len());
            for (kernel, kuf) in self.kernels().iter().zip(kufs.iter_mut()) {
                kernel.matrix_into(self.z(), &chunk, kuf, self.parallelism()); // M×len
                kff_diags.push(kernel.diag(&chunk));
            }
            reshape_buffer(&mut mean, len, latents);
            reshape_buffer(&mut var, len, latents);
            for (l, predictor) in predictors.iter().enumerate() {
                let k = self.kernel_index(l);
                let (mu, v) = (mean.column_mut(l), var.column_mut(l));
                predictor.marginals_into(&kufs[k], &kff_diags[k], mu, v, &mut work);
            }
            f(start, &mean, &var)?;
        }
        Ok(())
    }

    /// Lz = chol(Kuu + jitter·I) (M×M) for each kernel.
    fn kuu_factors(&self) -> Result<Vec<DMatrix<f64>>> {
        let mut kuu = DMatrix::zeros(0, 0);
        let mut factor = |kernel: &dyn crate::kernel::Kernel| {
            kernel.matrix_into(self.z(), self.z(), &mut kuu, self.parallelism()); // M×M
            cholesky_with_jitter(&kuu, self.jitter(), "Kuu", self.parallelism())
        };
        self.kernels().iter().map(|k| factor(k.as_ref())).collect()
    }

    /// Mean and variance of the predictive distribution of y* at `x_new` (N*×D), from the
    /// likelihood's `predict_y`: N*×P each (P = 1 for a scalar target, C class probabilities
    /// for a C-class likelihood).
    ///
    /// # Errors
    /// As [`Svgp::predict_f`].
    pub fn predict_y(&self, x_new: &DMatrix<f64>) -> Result<(DMatrix<f64>, DMatrix<f64>)> {
        let (mu, var) = self.predict_f(x_new)?;
        Ok(self.likelihood().predict_y(&mu, &var))
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
        let outputs = self.likelihood().num_outputs();
        check_targets_shape("test targets", x_new.nrows(), outputs, y.len())?;
        self.likelihood().check_targets(y)?;
        let (mu, var) = self.predict_f(x_new)?;
        Ok(self.likelihood().log_predictive_density(y, &mu, &var))
    }
}
