//! Gaussian likelihood p(y | f) = N(y; f, σₙ²), all in closed form (MATH.md §2).

use super::{check_each, LikelihoodBase, LogProb, ScalarLikelihood, ScalarVarExp};
use crate::error::{check_shape, Result, Shape};
use crate::transform::{check_finite, Positive};
use nalgebra::DVector;
use std::f64::consts::PI;

/// y = f + ε, ε ~ N(0, σₙ²); one parameter `noise_variance` (softplus, floor 1e-6 by default).
#[derive(Debug, Clone, PartialEq)]
pub struct Gaussian {
    raw_variance: f64,
    transform: Positive,
}

impl Gaussian {
    /// A Gaussian likelihood with noise variance σₙ² (> 1e-6, the default floor).
    ///
    /// # Errors
    /// `InvalidParameter { name: "noise_variance" }` if σₙ² is not finite or not above the floor.
    pub fn new(noise_variance: f64) -> Result<Self> {
        Self::with_transform(noise_variance, Positive::default())
    }

    /// As [`Gaussian::new`], with a chosen positive transform.
    ///
    /// # Errors
    /// As [`Gaussian::new`], for the transform's floor.
    pub fn with_transform(noise_variance: f64, transform: Positive) -> Result<Self> {
        let raw_variance = transform.inverse("noise_variance", noise_variance)?;
        Ok(Gaussian {
            raw_variance,
            transform,
        })
    }

    /// The noise variance σₙ².
    pub fn noise_variance(&self) -> f64 {
        self.transform.forward(self.raw_variance)
    }

    /// The noise as data (unconstrained variance and floor).
    pub fn noise_spec(&self) -> NoiseSpec {
        NoiseSpec {
            raw_variance: self.raw_variance,
            floor: self.transform.floor,
        }
    }
}

/// A [`Gaussian`]'s noise as data, from which [`NoiseSpec::build`] rebuilds it exactly.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NoiseSpec {
    /// Unconstrained noise variance.
    pub raw_variance: f64,
    /// Floor of the softplus transform (finite, ≥ 0).
    pub floor: f64,
}

impl NoiseSpec {
    /// The Gaussian likelihood described.
    ///
    /// # Errors
    /// `InvalidParameter` for a negative or non-finite floor or a non-finite variance.
    pub fn build(&self) -> Result<Gaussian> {
        if !(self.floor.is_finite() && self.floor >= 0.0) {
            return Err(crate::error::SvgpError::InvalidParameter {
                name: "noise floor".into(),
                value: self.floor,
                reason: "floor must be finite and ≥ 0",
            });
        }
        let mut g = Gaussian::with_transform(1.0 + self.floor, Positive::with_floor(self.floor))?;
        g.set_params(&[self.raw_variance])?;
        Ok(g)
    }
}

impl LikelihoodBase for Gaussian {
    fn name(&self) -> &'static str {
        "gaussian"
    }

    fn num_params(&self) -> usize {
        1
    }

    fn param_names(&self) -> Vec<String> {
        vec!["noise_variance".to_string()]
    }

    fn params(&self) -> Vec<f64> {
        vec![self.raw_variance]
    }

    fn set_params(&mut self, params: &[f64]) -> Result<()> {
        check_shape(
            "Gaussian likelihood parameters",
            Shape::new(1, 1),
            Shape::new(params.len(), 1),
        )?;
        check_finite(&self.param_names(), params)?;
        self.raw_variance = params[0];
        Ok(())
    }

    fn check_targets(&self, y: &DVector<f64>) -> Result<()> {
        check_each(y, "targets must be finite", f64::is_finite)
    }

    fn gaussian_noise_variance(&self) -> Option<f64> {
        Some(self.noise_variance())
    }

    fn additive_noise_variances(&self) -> Option<Vec<f64>> {
        Some(vec![self.noise_variance()])
    }

    fn spec(&self) -> super::LikelihoodSpec {
        let NoiseSpec {
            raw_variance,
            floor,
        } = self.noise_spec();
        super::LikelihoodSpec::Gaussian {
            raw_variance,
            floor,
        }
    }
}

impl ScalarLikelihood for Gaussian {
    fn log_prob_derivatives(&self, y: f64, f: f64) -> LogProb {
        let v = self.noise_variance();
        LogProb {
            value: -0.5 * (2.0 * PI * v).ln() - 0.5 * (y - f).powi(2) / v,
            d1: (y - f) / v,
            d2: -1.0 / v,
        }
    }

    /// ∂ log p/∂σₙ² = −1/(2σₙ²) + (y − f)²/(2σₙ⁴), times dσₙ²/dp.
    fn log_prob_param_grad(&self, y: f64, f: f64, out: &mut [f64]) {
        let v = self.noise_variance();
        out[0] = (-0.5 / v + 0.5 * (y - f).powi(2) / (v * v))
            * self.transform.derivative(self.raw_variance);
    }

    /// ve = −½ log(2πσₙ²) − ((y − μ)² + σ²)/(2σₙ²), g_μ = (y − μ)/σₙ², g_σ = −1/(2σₙ²).
    fn scalar_variational_expectations(
        &self,
        y: &DVector<f64>,
        mu: &DVector<f64>,
        var: &DVector<f64>,
    ) -> ScalarVarExp {
        let v = self.noise_variance();
        let log_norm = -0.5 * (2.0 * PI * v).ln();
        let ve = DVector::from_fn(y.len(), |i, _| {
            log_norm - 0.5 * ((y[i] - mu[i]).powi(2) + var[i]) / v
        });
        let g_mu = (y - mu) / v;
        let g_var = DVector::from_element(y.len(), -0.5 / v);
        ScalarVarExp { ve, g_mu, g_var }
    }

    /// ∂ve/∂σₙ² = −1/(2σₙ²) + ((y − μ)² + σ²)/(2σₙ⁴), times dσₙ²/dp.
    fn scalar_vjp_params(
        &self,
        y: &DVector<f64>,
        mu: &DVector<f64>,
        var: &DVector<f64>,
        ve_bar: &DVector<f64>,
    ) -> DVector<f64> {
        let v = self.noise_variance();
        let total: f64 = (0..y.len())
            .map(|i| ve_bar[i] * (-0.5 / v + 0.5 * ((y[i] - mu[i]).powi(2) + var[i]) / (v * v)))
            .sum();
        DVector::from_element(1, total * self.transform.derivative(self.raw_variance))
    }

    fn scalar_predict_y(
        &self,
        mu: &DVector<f64>,
        var: &DVector<f64>,
    ) -> (DVector<f64>, DVector<f64>) {
        (mu.clone(), var.add_scalar(self.noise_variance()))
    }

    /// log N(y; μ, σ² + σₙ²).
    fn scalar_log_predictive_density(
        &self,
        y: &DVector<f64>,
        mu: &DVector<f64>,
        var: &DVector<f64>,
    ) -> DVector<f64> {
        let v = self.noise_variance();
        DVector::from_fn(y.len(), |i, _| {
            super::special::log_normal_density(y[i], mu[i], var[i] + v)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ve at σ² = 0 is log p(y | μ); ve and the parameter VJP match central differences
    /// (abs 1e-6 + rel 1e-5: truncation and rounding are ~1e-11 at unit scale).
    #[test]
    fn closed_forms_match_log_prob_and_differences() {
        let lik = Gaussian::new(0.3).unwrap();
        let y = DVector::from_vec(vec![0.5, -1.2, 2.0]);
        let mu = DVector::from_vec(vec![0.1, -0.7, 1.0]);
        let var = DVector::from_vec(vec![0.2, 0.05, 1.3]);
        let at_zero = lik.scalar_variational_expectations(&y, &mu, &DVector::zeros(3));
        for i in 0..3 {
            assert!((at_zero.ve[i] - lik.log_prob(y[i], mu[i])).abs() < 1e-14);
        }
        let ve = |mu: &DVector<f64>, var: &DVector<f64>| {
            lik.scalar_variational_expectations(&y, mu, var).ve
        };
        let got = lik.scalar_variational_expectations(&y, &mu, &var);
        let h = 1e-5;
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6 + 1e-5 * b.abs();
        for i in 0..3 {
            let mut up = mu.clone();
            up[i] += h;
            let mut dn = mu.clone();
            dn[i] -= h;
            assert!(close(
                got.g_mu[i],
                (ve(&up, &var)[i] - ve(&dn, &var)[i]) / (2.0 * h)
            ));
            let mut up = var.clone();
            up[i] += h;
            let mut dn = var.clone();
            dn[i] -= h;
            assert!(close(
                got.g_var[i],
                (ve(&mu, &up)[i] - ve(&mu, &dn)[i]) / (2.0 * h)
            ));
        }
        let w = DVector::from_vec(vec![1.0, 2.0, -0.5]);
        let p = lik.params()[0];
        let total = |p: f64| {
            let mut l = lik.clone();
            l.set_params(&[p]).unwrap();
            l.scalar_variational_expectations(&y, &mu, &var).ve.dot(&w)
        };
        let fd = (total(p + h) - total(p - h)) / (2.0 * h);
        assert!(close(lik.scalar_vjp_params(&y, &mu, &var, &w)[0], fd));
    }
}
