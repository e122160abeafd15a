//! [`Likelihood`]: an observation model p(y | f₁, …, f_L) of L latent functions, as the model sees
//! it (MATH.md §1, §5). Its batch evaluations take the marginals of q(fₗ) as B×L matrices, column
//! l for latent l. Every [`ScalarLikelihood`] is one with L = 1.

use super::{LikelihoodSpec, ScalarLikelihood, ScalarVarExp};
use crate::error::Result;
use nalgebra::{DMatrix, DVector, Dyn};

/// Per-point variational expectations veᵢ = E_q[log p(yᵢ | fᵢ)] (length B) and their
/// derivatives with respect to each latent's marginal mean and variance (B×L each).
#[derive(Debug, Clone, PartialEq)]
pub struct VarExp {
    /// veᵢ, length B.
    pub ve: DVector<f64>,
    /// ∂veᵢ/∂μᵢₗ, B×L.
    pub g_mu: DMatrix<f64>,
    /// ∂veᵢ/∂σ²ᵢₗ, B×L.
    pub g_var: DMatrix<f64>,
}

/// What every likelihood has, whatever its number of latents: a name, trainable parameters, a
/// domain for its targets and a serialisable description.
pub trait LikelihoodBase: std::fmt::Debug + Send + Sync {
    /// A short name for reports and model files ("gaussian", "robustmax", …).
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
    /// P, the targets per point: 1 except for several outputs ([`super::MultiGaussian`]).
    fn num_outputs(&self) -> usize {
        1
    }
    /// Checks that every target is in the likelihood's domain (`y`: B×P column-major).
    ///
    /// # Errors
    /// `InvalidTarget { row, value, reason }` for the first target outside it (0-based row).
    fn check_targets(&self, y: &DVector<f64>) -> Result<()>;
    /// A serialisable description from which [`LikelihoodSpec::build`] rebuilds this exactly.
    fn spec(&self) -> LikelihoodSpec;
    /// C if the targets are class indices 0..C−1 (2 for a binary likelihood), else `None`.
    fn num_classes(&self) -> Option<usize> {
        None
    }
    /// The noise variance σₙ² if this is the conjugate Gaussian likelihood (for the collapsed
    /// SGPR bound and the exact one-step natural gradient), else `None`.
    fn gaussian_noise_variance(&self) -> Option<f64> {
        None
    }
    /// Whether every output is Gaussian in its latent (conjugate), so that one full-batch
    /// natural step with γ = 1 reaches the optimal q.
    ///
    /// A likelihood that says so promises more, which training relies on: each veᵢ is affine in
    /// every σ²ᵢₗ with a coefficient g_σ,ₗ that is the same for every point and depends on
    /// neither μ nor σ², and so is each parameter derivative of veᵢ. Training then evaluates
    /// [`Likelihood::variational_expectations`] and [`Likelihood::vjp_params`] with each latent's
    /// batch-mean variance in every row (exact for the sums it uses; docs/MATH.md §4).
    fn is_conjugate(&self) -> bool {
        self.gaussian_noise_variance().is_some()
    }
    /// σₚ² for each output p if every output is its own latent plus independent Gaussian noise,
    /// yₚ = fₚ + εₚ with εₚ ~ N(0, σₚ²) (so L = P), else `None`: then the joint law of y at
    /// several points is that of f with σₚ² added to each diagonal.
    fn additive_noise_variances(&self) -> Option<Vec<f64>> {
        None
    }
}

/// An observation model of L ≥ 1 latent GPs, as the model evaluates it.
///
/// Shapes: `y` holds the B×P targets column-major (length B·P, P = `num_outputs()`: B values for
/// every likelihood but [`super::MultiGaussian`]; a class index 0..C−1 for a classifier); `mu` and
/// `var` are B×L with `var` ≥ 0.
pub trait Likelihood: LikelihoodBase {
    /// L, the number of latent functions per point.
    fn num_latent(&self) -> usize;
    /// ve, g_μ and g_σ at the marginals (`mu`, `var`: B×L).
    fn variational_expectations(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
    ) -> VarExp;
    /// Σᵢ v̄eᵢ ∂veᵢ/∂pₖ for each unconstrained parameter pₖ (`ve_bar`: length B).
    fn vjp_params(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
        ve_bar: &DVector<f64>,
    ) -> DVector<f64>;
    /// log ∫ p(yᵢ | f) q(fᵢ) df per point (length B).
    fn log_predictive_density(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
    ) -> DVector<f64>;
    /// Predictive mean and variance of y per point, B×P each: P = 1 for a scalar target (for a
    /// binary likelihood the mean is p(y = 1)); for a C-class likelihood P = C, the mean of the
    /// one-hot target (the class probabilities) and its variance p(1 − p).
    fn predict_y(&self, mu: &DMatrix<f64>, var: &DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>);
    /// A boxed copy.
    fn box_clone(&self) -> Box<dyn Likelihood>;
}

/// Column 0 of a B×1 matrix as a vector (a copy: B entries).
fn column0(a: &DMatrix<f64>) -> DVector<f64> {
    a.column(0).into_owned()
}

/// A vector as a B×1 matrix, without copying.
fn as_column(v: DVector<f64>) -> DMatrix<f64> {
    let n = v.len();
    v.reshape_generic(Dyn(n), Dyn(1))
}

impl<T: ScalarLikelihood + Clone + 'static> Likelihood for T {
    fn num_latent(&self) -> usize {
        1
    }
    fn variational_expectations(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
    ) -> VarExp {
        let ScalarVarExp { ve, g_mu, g_var } =
            self.scalar_variational_expectations(y, &column0(mu), &column0(var));
        VarExp {
            ve,
            g_mu: as_column(g_mu),
            g_var: as_column(g_var),
        }
    }
    fn vjp_params(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
        ve_bar: &DVector<f64>,
    ) -> DVector<f64> {
        self.scalar_vjp_params(y, &column0(mu), &column0(var), ve_bar)
    }
    fn log_predictive_density(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
    ) -> DVector<f64> {
        self.scalar_log_predictive_density(y, &column0(mu), &column0(var))
    }
    fn predict_y(&self, mu: &DMatrix<f64>, var: &DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
        let (mean, var) = self.scalar_predict_y(&column0(mu), &column0(var));
        (as_column(mean), as_column(var))
    }
    fn box_clone(&self) -> Box<dyn Likelihood> {
        Box::new(self.clone())
    }
}
