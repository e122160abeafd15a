//! Likelihoods p(y | f) and their variational expectations ve = E_{N(f; μ, σ²)}[log p(y | f)]
//! with derivatives g_μ = ∂ve/∂μ and g_σ = ∂ve/∂σ² (MATH.md §2, §5).
//!
//! Each likelihood is a short file implementing [`Likelihood`]. Parameters are unconstrained (see
//! [`crate::transform::Positive`]) in the fixed order of `param_names`.

mod gaussian;

pub use gaussian::Gaussian;

use crate::error::Result;
use nalgebra::DVector;

/// Per-point variational expectations and their derivatives, each of length B.
#[derive(Debug, Clone, PartialEq)]
pub struct VarExp {
    /// veᵢ = E_{N(f; μᵢ, σ²ᵢ)}[log p(yᵢ | f)].
    pub ve: DVector<f64>,
    /// ∂veᵢ/∂μᵢ.
    pub g_mu: DVector<f64>,
    /// ∂veᵢ/∂σ²ᵢ.
    pub g_var: DVector<f64>,
}

/// An observation model p(y | f) with trainable parameters.
///
/// Shapes: `y`, `mu`, `var` all have length B; `var` ≥ 0.
pub trait Likelihood: std::fmt::Debug + Send + Sync {
    /// A short name for reports and model files ("gaussian", …).
    fn name(&self) -> &'static str;
    /// Number of unconstrained parameters.
    fn num_params(&self) -> usize;
    /// Parameter names, in the order of `params`.
    fn param_names(&self) -> Vec<String>;
    /// Unconstrained parameters.
    fn params(&self) -> Vec<f64>;
    /// Sets the unconstrained parameters (length `num_params`).
    ///
    /// # Errors
    /// `ShapeMismatch` for a wrong length, `InvalidParameter` for a non-finite value; on error the
    /// likelihood is unchanged.
    fn set_params(&mut self, params: &[f64]) -> Result<()>;
    /// log p(y | f) for one point.
    fn log_prob(&self, y: f64, f: f64) -> f64;
    /// ve, g_μ, g_σ per point.
    fn variational_expectations(
        &self,
        y: &DVector<f64>,
        mu: &DVector<f64>,
        var: &DVector<f64>,
    ) -> VarExp;
    /// Σᵢ v̄eᵢ ∂veᵢ/∂pₖ for each unconstrained parameter pₖ (`ve_bar` has length B).
    fn vjp_params(
        &self,
        y: &DVector<f64>,
        mu: &DVector<f64>,
        var: &DVector<f64>,
        ve_bar: &DVector<f64>,
    ) -> DVector<f64>;
    /// Mean and variance of y under ∫ p(y | f) N(f; μ, σ²) df, per point.
    fn predict_y(&self, mu: &DVector<f64>, var: &DVector<f64>) -> (DVector<f64>, DVector<f64>);
    /// log ∫ p(yᵢ | f) N(f; μᵢ, σ²ᵢ) df per point.
    fn log_predictive_density(
        &self,
        y: &DVector<f64>,
        mu: &DVector<f64>,
        var: &DVector<f64>,
    ) -> DVector<f64>;
    /// Checks that every target is in the likelihood's domain.
    ///
    /// # Errors
    /// `InvalidTarget { row, value, reason }` for the first target outside it (0-based row).
    fn check_targets(&self, y: &DVector<f64>) -> Result<()>;
    /// The noise variance σₙ² if this is the conjugate Gaussian likelihood (for the collapsed
    /// SGPR bound and the exact one-step natural gradient), else `None`.
    fn gaussian_noise_variance(&self) -> Option<f64> {
        None
    }
    /// A boxed copy.
    fn box_clone(&self) -> Box<dyn Likelihood>;
}

impl Clone for Box<dyn Likelihood> {
    fn clone(&self) -> Self {
        self.box_clone()
    }
}
