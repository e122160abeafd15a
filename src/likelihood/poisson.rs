//! Poisson likelihood for counts y ∈ {0, 1, 2, …} with rate λ = exp(f) (closed-form variational
//! expectations, MATH.md §5) or λ = softplus(f) (Gauss–Hermite).

use super::{
    check_each, quadrature_variational_expectations, LikelihoodBase, LogProb, ScalarLikelihood,
    ScalarVarExp,
};
use crate::error::Result;
use crate::transform::{sigmoid, softplus};
use nalgebra::DVector;
use statrs::function::gamma::ln_gamma;

/// The inverse link from f to the rate λ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoissonLink {
    /// λ = exp(f).
    Exp,
    /// λ = softplus(f) = log(1 + eᶠ): grows linearly, not exponentially.
    Softplus,
}

/// Count regression, no parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poisson {
    /// The link.
    pub link: PoissonLink,
}

impl Poisson {
    /// A Poisson likelihood with the given link.
    pub fn new(link: PoissonLink) -> Self {
        Poisson { link }
    }
}

impl LikelihoodBase for Poisson {
    fn name(&self) -> &'static str {
        match self.link {
            PoissonLink::Exp => "poisson-exp",
            PoissonLink::Softplus => "poisson-softplus",
        }
    }

    parameter_free!("Poisson likelihood parameters");

    fn check_targets(&self, y: &DVector<f64>) -> Result<()> {
        check_each(y, "Poisson targets must be non-negative integers", |v| {
            v >= 0.0 && v.fract() == 0.0 && v.is_finite()
        })
    }

    fn spec(&self) -> super::LikelihoodSpec {
        super::LikelihoodSpec::Poisson { link: self.link }
    }
}

impl ScalarLikelihood for Poisson {
    fn log_prob_param_grad(&self, _y: f64, _f: f64, _out: &mut [f64]) {}

    /// log p = y log λ − λ − log y!. Exp: d1 = y − λ, d2 = −λ. Softplus (σ = sigmoid(f)):
    /// d1 = (y/λ − 1) σ, d2 = (y/λ − 1) σ(1 − σ) − y σ²/λ².
    fn log_prob_derivatives(&self, y: f64, f: f64) -> LogProb {
        let log_fact = ln_gamma(y + 1.0);
        match self.link {
            PoissonLink::Exp => {
                let lambda = f.exp();
                LogProb {
                    value: y * f - lambda - log_fact,
                    d1: y - lambda,
                    d2: -lambda,
                }
            }
            PoissonLink::Softplus => {
                let lambda = softplus(f);
                let sg = sigmoid(f);
                let value = if y == 0.0 {
                    -lambda
                } else {
                    y * lambda.ln() - lambda - log_fact
                };
                LogProb {
                    value,
                    d1: (y / lambda - 1.0) * sg,
                    d2: (y / lambda - 1.0) * sg * (1.0 - sg) - y * sg * sg / (lambda * lambda),
                }
            }
        }
    }

    /// Exp link in closed form: ve = y μ − e^{μ+σ²/2} − log y!, g_μ = y − e^{μ+σ²/2},
    /// g_σ = −½ e^{μ+σ²/2}; softplus by Gauss–Hermite.
    fn scalar_variational_expectations(
        &self,
        y: &DVector<f64>,
        mu: &DVector<f64>,
        var: &DVector<f64>,
    ) -> ScalarVarExp {
        match self.link {
            PoissonLink::Exp => {
                let rate = DVector::from_fn(y.len(), |i, _| (mu[i] + 0.5 * var[i]).exp());
                ScalarVarExp {
                    ve: DVector::from_fn(y.len(), |i, _| {
                        y[i] * mu[i] - rate[i] - ln_gamma(y[i] + 1.0)
                    }),
                    g_mu: y - &rate,
                    g_var: &rate * -0.5,
                }
            }
            PoissonLink::Softplus => quadrature_variational_expectations(self, y, mu, var),
        }
    }

    /// Mean E\[λ\] and variance E\[λ\] + Var\[λ\]: exp link e^{μ+σ²/2} and e^{2μ+σ²}(e^{σ²} − 1);
    /// softplus by Gauss–Hermite.
    fn scalar_predict_y(
        &self,
        mu: &DVector<f64>,
        var: &DVector<f64>,
    ) -> (DVector<f64>, DVector<f64>) {
        let n = mu.len();
        let mut mean = DVector::zeros(n);
        let mut v = DVector::zeros(n);
        for i in 0..n {
            let (m1, var_rate) = match self.link {
                PoissonLink::Exp => {
                    let m1 = (mu[i] + 0.5 * var[i]).exp();
                    (m1, m1 * m1 * var[i].exp_m1())
                }
                PoissonLink::Softplus => {
                    let rule = self.quadrature();
                    let m1 = rule.expect(mu[i], var[i], softplus);
                    (
                        m1,
                        rule.expect(mu[i], var[i], |f| softplus(f).powi(2)) - m1 * m1,
                    )
                }
            };
            mean[i] = m1;
            v[i] = m1 + var_rate.max(0.0);
        }
        (mean, v)
    }
}
