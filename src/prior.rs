//! Priors p(θ) on the constrained value θ of a hyperparameter (a variance, a lengthscale, a
//! noise scale), for maximum a posteriori training (docs/MATH.md §8): the log density and its
//! derivative d log p/dθ, each in closed form. Every family has support θ > 0.
//!
//! Training adds log p(θ) + log|dθ/dp| to the ELBO, the prior carried to the unconstrained p
//! that Adam moves (`optim::LogPrior`), as GPflow 1's `Parameter` did.

use crate::error::{Result, SvgpError};
use serde::{Deserialize, Serialize};
use statrs::function::gamma::ln_gamma;

/// ½ log(2π).
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// A prior density on a positive constrained value θ. Serialised as
/// `{"family": "log_normal", "mu": 0.0, "sigma": 1.0}` (`gamma`: `shape`, `rate`;
/// `half_normal`: `sigma`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case", deny_unknown_fields)]
pub enum Prior {
    /// log θ ~ N(μ, σ²): p(θ) = exp(−(log θ − μ)²/(2σ²)) / (θ σ √(2π)); mode exp(μ − σ²).
    LogNormal {
        /// μ, the mean of log θ (finite).
        mu: f64,
        /// σ > 0, the standard deviation of log θ.
        sigma: f64,
    },
    /// p(θ) = βᵏ θᵏ⁻¹ e^(−βθ) / Γ(k), shape k > 0 and rate β > 0; mean k/β.
    Gamma {
        /// k > 0.
        shape: f64,
        /// β > 0.
        rate: f64,
    },
    /// p(θ) = 2 N(θ; 0, σ²) for θ ≥ 0.
    HalfNormal {
        /// σ > 0.
        sigma: f64,
    },
}

impl Prior {
    /// The family's name, as serialised (`log_normal`, `gamma`, `half_normal`).
    pub fn family(&self) -> &'static str {
        match self {
            Prior::LogNormal { .. } => "log_normal",
            Prior::Gamma { .. } => "gamma",
            Prior::HalfNormal { .. } => "half_normal",
        }
    }

    /// Checks the prior's parameters.
    ///
    /// # Errors
    /// `InvalidParameter { name: "<family>.<parameter>" }` (e.g. `log_normal.sigma`) for μ not
    /// finite, or σ, k or β not finite and positive.
    pub fn check(&self) -> Result<()> {
        let positive = |name: &str, value: f64| match value.is_finite() && value > 0.0 {
            true => Ok(()),
            false => Err(invalid(
                self.family(),
                name,
                value,
                "must be finite and positive",
            )),
        };
        match *self {
            Prior::LogNormal { mu, sigma } => {
                if !mu.is_finite() {
                    return Err(invalid(self.family(), "mu", mu, "must be finite"));
                }
                positive("sigma", sigma)
            }
            Prior::Gamma { shape, rate } => positive("shape", shape).and(positive("rate", rate)),
            Prior::HalfNormal { sigma } => positive("sigma", sigma),
        }
    }

    /// log p(θ); −∞ for θ ≤ 0 (outside the support) or NaN θ.
    pub fn log_density(&self, theta: f64) -> f64 {
        if theta.is_nan() || theta <= 0.0 {
            return f64::NEG_INFINITY;
        }
        match *self {
            Prior::LogNormal { mu, sigma } => {
                let z = (theta.ln() - mu) / sigma;
                -theta.ln() - sigma.ln() - HALF_LN_2PI - 0.5 * z * z
            }
            Prior::Gamma { shape, rate } => {
                shape * rate.ln() - ln_gamma(shape) + (shape - 1.0) * theta.ln() - rate * theta
            }
            Prior::HalfNormal { sigma } => {
                let z = theta / sigma;
                std::f64::consts::LN_2 - sigma.ln() - HALF_LN_2PI - 0.5 * z * z
            }
        }
    }

    /// d log p/dθ; NaN for θ ≤ 0 (outside the support).
    pub fn d_log_density(&self, theta: f64) -> f64 {
        if theta.is_nan() || theta <= 0.0 {
            return f64::NAN;
        }
        match *self {
            // −1/θ − (log θ − μ)/(σ² θ)
            Prior::LogNormal { mu, sigma } => -(1.0 + (theta.ln() - mu) / (sigma * sigma)) / theta,
            Prior::Gamma { shape, rate } => (shape - 1.0) / theta - rate,
            Prior::HalfNormal { sigma } => -theta / (sigma * sigma),
        }
    }
}

/// `InvalidParameter` naming `<family>.<parameter>`.
fn invalid(family: &str, parameter: &str, value: f64, reason: &'static str) -> SvgpError {
    SvgpError::InvalidParameter {
        name: format!("{family}.{parameter}"),
        value,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{Continuous, Gamma, LogNormal, Normal};

    fn priors() -> [Prior; 4] {
        [
            Prior::LogNormal {
                mu: 0.3,
                sigma: 0.7,
            },
            Prior::Gamma {
                shape: 2.5,
                rate: 1.5,
            },
            Prior::Gamma {
                shape: 0.5,
                rate: 3.0,
            },
            Prior::HalfNormal { sigma: 1.7 },
        ]
    }

    /// statrs' log density of the same distribution, an independent implementation.
    fn reference(prior: &Prior, theta: f64) -> f64 {
        match *prior {
            Prior::LogNormal { mu, sigma } => LogNormal::new(mu, sigma).unwrap().ln_pdf(theta),
            Prior::Gamma { shape, rate } => Gamma::new(shape, rate).unwrap().ln_pdf(theta),
            Prior::HalfNormal { sigma } => {
                std::f64::consts::LN_2 + Normal::new(0.0, sigma).unwrap().ln_pdf(theta)
            }
        }
    }

    /// Each log density equals statrs' to 1e-12 (both closed forms; a few ulps of the logs and
    /// of ln Γ at these magnitudes).
    #[test]
    fn log_densities_match_statrs() {
        for prior in priors() {
            for theta in [1e-3, 0.2, 1.0, 2.7, 15.0] {
                let (ours, theirs) = (prior.log_density(theta), reference(&prior, theta));
                assert!(
                    (ours - theirs).abs() < 1e-12 * theirs.abs().max(1.0),
                    "{prior:?} at {theta}: {ours} vs {theirs}"
                );
            }
        }
    }

    /// d log p/dθ against central differences, h = 1e-5·θ: truncation h²|f‴|/6 and rounding
    /// ε|f|/h stay below 1e-6 relative to max(1, |f′|) for θ ≥ 1e-2 here.
    #[test]
    fn derivatives_match_central_differences() {
        for prior in priors() {
            for theta in [1e-2, 0.2, 1.0, 2.7, 15.0] {
                let h = 1e-5 * theta;
                let fd = (prior.log_density(theta + h) - prior.log_density(theta - h)) / (2.0 * h);
                let d = prior.d_log_density(theta);
                assert!(
                    (d - fd).abs() < 1e-6 * d.abs().max(1.0),
                    "{prior:?} at {theta}: {d} vs {fd}"
                );
            }
        }
    }

    #[test]
    fn outside_the_support_the_log_density_is_minus_infinity() {
        for prior in priors() {
            for theta in [0.0, -1.0, f64::NAN] {
                assert_eq!(prior.log_density(theta), f64::NEG_INFINITY, "{prior:?}");
                assert!(prior.d_log_density(theta).is_nan(), "{prior:?}");
            }
        }
    }

    #[test]
    fn bad_parameters_are_refused_naming_the_prior_and_the_parameter() {
        let cases = [
            (
                Prior::LogNormal {
                    mu: f64::NAN,
                    sigma: 1.0,
                },
                "log_normal.mu",
            ),
            (
                Prior::LogNormal {
                    mu: 0.0,
                    sigma: 0.0,
                },
                "log_normal.sigma",
            ),
            (
                Prior::Gamma {
                    shape: -1.0,
                    rate: 1.0,
                },
                "gamma.shape",
            ),
            (
                Prior::Gamma {
                    shape: 1.0,
                    rate: f64::INFINITY,
                },
                "gamma.rate",
            ),
            (Prior::HalfNormal { sigma: -2.0 }, "half_normal.sigma"),
        ];
        for (prior, expected) in cases {
            match prior.check() {
                Err(SvgpError::InvalidParameter { name, .. }) => assert_eq!(name, expected),
                other => panic!("{prior:?}: {other:?}"),
            }
        }
        assert!(priors().iter().all(|p| p.check().is_ok()));
    }

    #[test]
    fn priors_serialise_by_family_and_read_back() {
        for prior in priors() {
            let json = serde_json::to_string(&prior).unwrap();
            assert!(
                json.contains(&format!(r#""family":"{}""#, prior.family())),
                "{json}"
            );
            assert_eq!(serde_json::from_str::<Prior>(&json).unwrap(), prior);
        }
        let typo = r#"{"family": "log_normal", "mu": 0, "sigma": 1, "sgima": 2}"#;
        assert!(serde_json::from_str::<Prior>(typo).is_err());
    }
}
