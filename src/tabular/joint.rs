//! Joint predictions of a saved model in the data's units: full covariances and joint samples
//! of f or y at raw inputs (the model's [`JointOf`] predictions, scaled back like
//! [`super::predict_latent`]: latent p < P, the outputs, in output p's units).

use super::{standardised_inputs, SavedModel};
use crate::error::Result;
use crate::model::JointOf;
use nalgebra::DMatrix;

/// Means (N×L, or N×P for y) and one N×N covariance per latent (or output) at raw inputs `x`
/// (N×D), in the targets' units: with standardised targets, latent p < P has its mean shifted
/// and scaled by output p's mean and scale sₚ and its covariance multiplied by sₚ²; every other
/// latent stays in the model's units. Memory: L·N² f64 for the result.
///
/// # Errors
/// `ShapeMismatch` for a wrong number of columns; as [`crate::model::Svgp::predict_full_covs`].
pub fn predict_joint(
    saved: &SavedModel,
    x: &DMatrix<f64>,
    of: JointOf,
) -> Result<(DMatrix<f64>, Vec<DMatrix<f64>>)> {
    let xs = standardised_inputs(saved, x)?;
    let (mut mean, mut covs) = saved.model.predict_full_covs(&xs, of)?;
    if let Some(s) = &saved.target_scaling {
        for (p, cov) in covs.iter_mut().enumerate().take(s.mean.len()) {
            let (shift, scale) = (s.mean[p], s.scale[p]);
            mean.column_mut(p).apply(|t| *t = shift + scale * *t);
            *cov *= scale * scale;
        }
    }
    Ok((mean, covs))
}

/// `num_samples` joint samples of f or y at raw inputs `x` (N×D): one N×S matrix per latent
/// (or output), in the units of [`predict_joint`], from the seeded draws of
/// [`crate::model::Svgp::predict_f_samples`] (the same seed gives the same bits).
///
/// # Errors
/// `ShapeMismatch` for a wrong number of columns; as [`crate::model::Svgp::predict_f_samples`].
pub fn sample_joint(
    saved: &SavedModel,
    x: &DMatrix<f64>,
    of: JointOf,
    num_samples: usize,
    seed: u64,
) -> Result<Vec<DMatrix<f64>>> {
    let xs = standardised_inputs(saved, x)?;
    let mut samples = match of {
        JointOf::F => saved.model.predict_f_samples(&xs, num_samples, seed)?,
        JointOf::Y => saved.model.predict_y_samples(&xs, num_samples, seed)?,
    };
    if let Some(s) = &saved.target_scaling {
        for (p, draws) in samples.iter_mut().enumerate().take(s.mean.len()) {
            let (shift, scale) = (s.mean[p], s.scale[p]);
            draws.apply(|t| *t = shift + scale * *t);
        }
    }
    Ok(samples)
}
