//! Likelihoods p(y | f) and their variational expectations ve = E_{N(f; μ, σ²)}[log p(y | f)]
//! with derivatives g_μ = ∂ve/∂μ and g_σ = ∂ve/∂σ² (MATH.md §2, §5).
//!
//! Each likelihood is a short file implementing [`Likelihood`]: the pointwise log density with its
//! first two f-derivatives and its parameter gradient. Variational expectations, parameter VJPs
//! and log predictive densities then come by 20-point Gauss–Hermite quadrature
//! ([`quadrature`]); closed forms override them where they exist (Gaussian; Poisson with the exp
//! link). Parameters are unconstrained (see [`crate::transform::Positive`]) in `param_names` order.

#[macro_use]
mod macros {
    /// The parameter methods of a likelihood without parameters, inside its `impl LikelihoodBase`.
    macro_rules! parameter_free {
        ($what:literal) => {
            fn num_params(&self) -> usize {
                0
            }

            fn param_names(&self) -> Vec<String> {
                Vec::new()
            }

            fn params(&self) -> Vec<f64> {
                Vec::new()
            }

            fn set_params(&mut self, params: &[f64]) -> crate::error::Result<()> {
                crate::error::check_shape(
                    $what,
                    crate::error::Shape::new(0, 1),
                    crate::error::Shape::new(params.len(), 1),
                )
            }
        };
    }
}

mod bernoulli;
mod gaussian;
mod heteroscedastic;
mod latent;
mod multi;
mod multi_gaussian;
mod poisson;
pub mod quadrature;
mod robustmax;
mod softmax;
pub(crate) mod special;
mod student_t;

pub use bernoulli::{Bernoulli, BinaryLink};
pub use gaussian::{Gaussian, NoiseSpec};
pub use heteroscedastic::{
    Heteroscedastic, HeteroscedasticSpec, NoiseLink, HETEROSCEDASTIC_QUADRATURE_ORDER,
};
pub use latent::{Likelihood, LikelihoodBase, VarExp};
pub use multi_gaussian::MultiGaussian;
pub use poisson::{Poisson, PoissonLink};
pub use robustmax::{RobustMax, RobustMaxSpec, DEFAULT_EPSILON, ROBUSTMAX_QUADRATURE_ORDER};
pub use softmax::{Softmax, SoftmaxSpec, DEFAULT_NUM_SAMPLES, DEFAULT_SEED, PREDICT_NUM_SAMPLES};
pub use student_t::{StudentT, DEFAULT_DF, STUDENT_T_QUADRATURE_ORDER};

use crate::error::{Result, SvgpError};
use nalgebra::DVector;
use quadrature::GaussHermite;

/// Per-point variational expectations of a single-latent likelihood and their derivatives, each
/// of length B.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarVarExp {
    /// veᵢ = E_{N(f; μᵢ, σ²ᵢ)}[log p(yᵢ | f)].
    pub ve: DVector<f64>,
    /// ∂veᵢ/∂μᵢ.
    pub g_mu: DVector<f64>,
    /// ∂veᵢ/∂σ²ᵢ.
    pub g_var: DVector<f64>,
}

/// log p(y | f) and its first two derivatives with respect to f.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogProb {
    /// log p(y | f).
    pub value: f64,
    /// ∂ log p / ∂f.
    pub d1: f64,
    /// ∂² log p / ∂f².
    pub d2: f64,
}

/// An observation model p(y | f) of one latent function, f scalar per point, with trainable
/// parameters; every such likelihood is a [`Likelihood`] with L = 1 (its batch methods here take
/// vectors; [`Likelihood`]'s take B×1 matrices).
///
/// Shapes: `y`, `mu`, `var` all have length B; `var` ≥ 0.
pub trait ScalarLikelihood: LikelihoodBase {
    /// log p(y | f) with ∂/∂f and ∂²/∂f².
    fn log_prob_derivatives(&self, y: f64, f: f64) -> LogProb;
    /// ∂ log p(y | f) / ∂pₖ for each unconstrained parameter, written to `out` (length
    /// `num_params`; nothing to write for a parameter-free likelihood).
    fn log_prob_param_grad(&self, y: f64, f: f64, out: &mut [f64]);
    /// Mean and variance of y under ∫ p(y | f) N(f; μ, σ²) df, per point (for a binary
    /// likelihood the mean is p(y = 1)).
    fn scalar_predict_y(
        &self,
        mu: &DVector<f64>,
        var: &DVector<f64>,
    ) -> (DVector<f64>, DVector<f64>);

    /// log p(y | f).
    fn log_prob(&self, y: f64, f: f64) -> f64 {
        self.log_prob_derivatives(y, f).value
    }

    /// The Gauss–Hermite rule for this likelihood's expectations: the shared 20-point rule unless
    /// the likelihood needs a finer one.
    fn quadrature(&self) -> &GaussHermite {
        GaussHermite::default_rule()
    }

    /// ve, g_μ, g_σ per point: by default [`quadrature_variational_expectations`].
    fn scalar_variational_expectations(
        &self,
        y: &DVector<f64>,
        mu: &DVector<f64>,
        var: &DVector<f64>,
    ) -> ScalarVarExp {
        quadrature_variational_expectations(self, y, mu, var)
    }

    /// Σᵢ v̄eᵢ ∂veᵢ/∂pₖ for each unconstrained parameter pₖ (`ve_bar` has length B), by default
    /// E[∂ log p/∂pₖ] by Gauss–Hermite.
    fn scalar_vjp_params(
        &self,
        y: &DVector<f64>,
        mu: &DVector<f64>,
        var: &DVector<f64>,
        ve_bar: &DVector<f64>,
    ) -> DVector<f64> {
        let rule = self.quadrature();
        let k = self.num_params();
        let mut total = DVector::zeros(k);
        let mut point = vec![0.0; k];
        for i in 0..y.len() {
            for (f, w) in rule.gaussian_points(mu[i], var[i]) {
                self.log_prob_param_grad(y[i], f, &mut point);
                for (t, p) in total.iter_mut().zip(&point) {
                    *t += ve_bar[i] * w * p;
                }
            }
        }
        total
    }

    /// log ∫ p(yᵢ | f) N(f; μᵢ, σ²ᵢ) df per point, by default the 200-point Gauss–Hermite rule
    /// with log-sum-exp (evaluation only, so accuracy comes before speed).
    fn scalar_log_predictive_density(
        &self,
        y: &DVector<f64>,
        mu: &DVector<f64>,
        var: &DVector<f64>,
    ) -> DVector<f64> {
        let rule = GaussHermite::fine_rule();
        DVector::from_fn(y.len(), |i, _| {
            rule.log_expect_exp(mu[i], var[i], |f| self.log_prob(y[i], f))
        })
    }
}

/// A likelihood as data: what model files store (unconstrained parameters, as trained).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LikelihoodSpec {
    /// [`Gaussian`] with its unconstrained noise variance and transform floor.
    Gaussian {
        /// Unconstrained noise variance.
        raw_variance: f64,
        /// Floor of the softplus transform.
        floor: f64,
    },
    /// [`Bernoulli`].
    Bernoulli {
        /// The link.
        link: BinaryLink,
    },
    /// [`StudentT`].
    StudentT {
        /// Unconstrained scale.
        raw_scale: f64,
        /// Unconstrained degrees of freedom.
        raw_df: f64,
        /// Whether ν is trained.
        learn_df: bool,
        /// Gauss–Hermite order.
        quadrature_order: usize,
    },
    /// [`Poisson`].
    Poisson {
        /// The link.
        link: PoissonLink,
    },
    /// [`RobustMax`].
    RobustMax(RobustMaxSpec),
    /// [`Softmax`].
    Softmax(SoftmaxSpec),
    /// [`Heteroscedastic`].
    Heteroscedastic(HeteroscedasticSpec),
    /// [`MultiGaussian`]: each output's noise, in output order.
    MultiGaussian {
        /// One per output (P ≥ 1).
        outputs: Vec<NoiseSpec>,
    },
}

impl LikelihoodSpec {
    /// The likelihood described.
    ///
    /// # Errors
    /// `InvalidParameter` for non-finite parameters, a bad floor or quadrature order.
    pub fn build(&self) -> Result<Box<dyn Likelihood>> {
        Ok(match self {
            LikelihoodSpec::Gaussian {
                raw_variance,
                floor,
            } => Box::new(
                NoiseSpec {
                    raw_variance: *raw_variance,
                    floor: *floor,
                }
                .build()?,
            ),
            LikelihoodSpec::Bernoulli { link } => Box::new(Bernoulli::new(*link)),
            LikelihoodSpec::StudentT {
                raw_scale,
                raw_df,
                learn_df,
                quadrature_order,
            } => {
                let mut t = StudentT::new(1.0, DEFAULT_DF, true)?
                    .with_quadrature_order(*quadrature_order)?;
                t.set_params(&[*raw_scale, *raw_df])?;
                Box::new(t.with_learn_df(*learn_df))
            }
            LikelihoodSpec::Poisson { link } => Box::new(Poisson::new(*link)),
            LikelihoodSpec::RobustMax(spec) => Box::new(spec.build()?),
            LikelihoodSpec::Softmax(spec) => Box::new(spec.build()?),
            LikelihoodSpec::Heteroscedastic(spec) => Box::new(spec.build()?),
            LikelihoodSpec::MultiGaussian { outputs } => Box::new(MultiGaussian::from_outputs(
                outputs
                    .iter()
                    .map(NoiseSpec::build)
                    .collect::<Result<_>>()?,
            )?),
        })
    }
}

impl Clone for Box<dyn Likelihood> {
    fn clone(&self) -> Self {
        self.box_clone()
    }
}

/// Below σ = this·max(1, |μ|), [`quadrature_variational_expectations`] takes the σ² → 0 limit.
const LIMIT_BELOW_SD: f64 = 1e-6;

/// ve = Σₖ wₖ log p(y | fₖ), fₖ = μ + √2 σ xₖ, and its exact derivatives through the nodes
/// (MATH.md §5): g_μ = Σₖ wₖ ∂_f log p(fₖ), g_σ = Σₖ wₖ ∂_f log p(fₖ) xₖ/(√2 σ) — so the gradient
/// is that of the objective actually optimised, as autodiff through the rule gives in GPflow.
///
/// For σ ≤ 10⁻⁶·max(1, |μ|) (including σ = 0) the σ² → 0 limit is used instead:
/// ve = log p(μ) + ½σ² ∂²_f log p(μ), g_μ = ∂_f log p(μ), g_σ = ½ ∂²_f log p(μ), each exact to
/// O(σ²), so within ~10⁻¹² relative for a likelihood varying on a unit scale. There the nodes fₖ
/// differ from μ by little more than μ's rounding, and g_σ's sum divides that rounding by σ: its
/// error ~ε(|μ| + |∂_f log p / ∂²_f log p|)/σ grows without bound as σ → 0 (to ~10¹⁴⁰ at
/// σ² = 10⁻³⁰⁰), while just above the threshold it is below ~10⁻⁸ relative. This is the default
/// of [`Likelihood::variational_expectations`], callable by overrides that use it for some
/// configurations only.
pub fn quadrature_variational_expectations<L: ScalarLikelihood + ?Sized>(
    lik: &L,
    y: &DVector<f64>,
    mu: &DVector<f64>,
    var: &DVector<f64>,
) -> ScalarVarExp {
    let rule = lik.quadrature();
    let n = y.len();
    let (mut ve, mut g_mu, mut g_var) = (DVector::zeros(n), DVector::zeros(n), DVector::zeros(n));
    for i in 0..n {
        let v = var[i].max(0.0);
        let sd = v.sqrt();
        if sd <= LIMIT_BELOW_SD * mu[i].abs().max(1.0) {
            let lp = lik.log_prob_derivatives(y[i], mu[i]);
            (ve[i], g_mu[i], g_var[i]) = (lp.value + 0.5 * v * lp.d2, lp.d1, 0.5 * lp.d2);
            continue;
        }
        let node_scale = std::f64::consts::FRAC_1_SQRT_2 / sd; // ∂fₖ/∂σ² = xₖ/(√2 σ)
        for ((f, w), x) in rule.gaussian_points(mu[i], var[i]).zip(rule.nodes()) {
            let lp = lik.log_prob_derivatives(y[i], f);
            ve[i] += w * lp.value;
            g_mu[i] += w * lp.d1;
            g_var[i] += w * lp.d1 * x * node_scale;
        }
    }
    ScalarVarExp { ve, g_mu, g_var }
}

/// `InvalidTarget` for the first row where `ok` fails.
pub(crate) fn check_each(
    y: &DVector<f64>,
    reason: &'static str,
    ok: impl Fn(f64) -> bool,
) -> Result<()> {
    match y.iter().position(|&v| !ok(v)) {
        Some(row) => Err(SvgpError::InvalidTarget {
            row,
            value: y[row],
            reason,
        }),
        None => Ok(()),
    }
}
