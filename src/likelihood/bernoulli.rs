//! Bernoulli likelihood for labels y ∈ {0, 1}: p(y = 1 | f) = Φ(f) (probit) or σ(f) (logit).
//! Variational expectations by Gauss–Hermite; the probit predictive is closed form (MATH.md §5).

use super::special::{log_cdf_and_inverse_mills, log_normal_cdf, normal_cdf};
use super::{check_each, LikelihoodBase, LogProb, ScalarLikelihood};
use crate::error::Result;
use crate::transform::{sigmoid, softplus};
use nalgebra::DVector;

/// The inverse link from f to p(y = 1 | f).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryLink {
    /// Φ(f), the standard normal CDF (log Φ computed exactly, not squashed).
    Probit,
    /// σ(f) = 1/(1 + e⁻ᶠ).
    Logit,
}

/// Binary classification, no parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bernoulli {
    /// The link.
    pub link: BinaryLink,
}

impl Bernoulli {
    /// A Bernoulli likelihood with the given link.
    pub fn new(link: BinaryLink) -> Self {
        Bernoulli { link }
    }
}

impl LikelihoodBase for Bernoulli {
    fn name(&self) -> &'static str {
        match self.link {
            BinaryLink::Probit => "bernoulli-probit",
            BinaryLink::Logit => "bernoulli-logit",
        }
    }

    parameter_free!("Bernoulli likelihood parameters");

    fn check_targets(&self, y: &DVector<f64>) -> Result<()> {
        check_each(y, "Bernoulli targets must be 0 or 1", |v| {
            v == 0.0 || v == 1.0
        })
    }

    fn num_classes(&self) -> Option<usize> {
        Some(2)
    }

    fn spec(&self) -> super::LikelihoodSpec {
        super::LikelihoodSpec::Bernoulli { link: self.link }
    }
}

impl ScalarLikelihood for Bernoulli {
    fn log_prob_param_grad(&self, _y: f64, _f: f64, _out: &mut [f64]) {}

    /// With s = 2y − 1 and z = s f: probit log Φ(z), d1 = s λ(z), d2 = −λ(z)(z + λ(z)),
    /// λ = φ/Φ; logit −softplus(−z), d1 = s σ(−z), d2 = −σ(f) σ(−f).
    fn log_prob_derivatives(&self, y: f64, f: f64) -> LogProb {
        let s = 2.0 * y - 1.0;
        let z = s * f;
        match self.link {
            BinaryLink::Probit => {
                let (log_cdf, lambda) = log_cdf_and_inverse_mills(z);
                LogProb {
                    value: log_cdf,
                    d1: s * lambda,
                    d2: -lambda * (z + lambda),
                }
            }
            BinaryLink::Logit => LogProb {
                value: -softplus(-z),
                d1: s * sigmoid(-z),
                d2: -sigmoid(f) * sigmoid(-f),
            },
        }
    }

    /// p = Φ(μ/√(1 + σ²)) (probit, exact) or E[σ(f)] (logit, Gauss–Hermite); variance p(1 − p).
    fn scalar_predict_y(
        &self,
        mu: &DVector<f64>,
        var: &DVector<f64>,
    ) -> (DVector<f64>, DVector<f64>) {
        let p = DVector::from_fn(mu.len(), |i, _| match self.link {
            BinaryLink::Probit => normal_cdf(mu[i] / (1.0 + var[i]).sqrt()),
            BinaryLink::Logit => self.quadrature().expect(mu[i], var[i], sigmoid),
        });
        let v = p.map(|p| p * (1.0 - p));
        (p, v)
    }

    /// log p(y) = log p̄ or log(1 − p̄) with p̄ the predictive probability (exact for both links up
    /// to the logit's quadrature), computed in log space for the probit.
    fn scalar_log_predictive_density(
        &self,
        y: &DVector<f64>,
        mu: &DVector<f64>,
        var: &DVector<f64>,
    ) -> DVector<f64> {
        DVector::from_fn(y.len(), |i, _| {
            let s = 2.0 * y[i] - 1.0;
            match self.link {
                BinaryLink::Probit => log_normal_cdf(s * mu[i] / (1.0 + var[i]).sqrt()),
                BinaryLink::Logit => self
                    .quadrature()
                    .log_expect_exp(mu[i], var[i], |f| -softplus(-s * f)),
            }
        })
    }
}
