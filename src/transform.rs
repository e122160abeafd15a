//! Positive parameters kept unconstrained: v = floor + softplus(p) (MATH.md §4, STYLE.md).
//!
//! Every positive hyperparameter (kernel variance and lengthscales, likelihood scales) is stored
//! as the unconstrained p and read as v. Gradients pass through dv/dp = sigmoid(p). [`Constraint`]
//! names the map of each kind of hyperparameter, with its log-Jacobian for priors.

use crate::error::{Result, SvgpError};

/// The map p ↦ v = floor + softplus(p) from ℝ onto (floor, ∞), with `floor ≥ 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Positive {
    /// Lower bound of the constrained value; `v > floor` always.
    pub floor: f64,
}

impl Default for Positive {
    /// Floor 1e-6, as GPflow uses for its likelihood variance: small enough never to bind in a
    /// sensible fit, large enough to keep a kernel matrix or a noise variance away from zero.
    fn default() -> Self {
        Positive { floor: 1e-6 }
    }
}

impl Positive {
    /// A transform with the given floor (≥ 0, finite).
    pub fn with_floor(floor: f64) -> Self {
        Positive { floor }
    }

    /// v = floor + softplus(p), computed without overflow for large |p|.
    pub fn forward(&self, p: f64) -> f64 {
        self.floor + softplus(p)
    }

    /// dv/dp = sigmoid(p).
    pub fn derivative(&self, p: f64) -> f64 {
        sigmoid(p)
    }

    /// The p with `forward(p) == value`.
    ///
    /// # Errors
    /// `InvalidParameter { name, value }` if `value` is not finite or not above the floor.
    pub fn inverse(&self, name: &str, value: f64) -> Result<f64> {
        if !value.is_finite() || value <= self.floor {
            return Err(SvgpError::InvalidParameter {
                name: name.to_string(),
                value,
                reason: "must be finite and above the positive floor",
            });
        }
        let y = value - self.floor;
        // softplus⁻¹(y) = log(eʸ − 1) = y + log(1 − e⁻ʸ)
        Ok(if y > 30.0 {
            y + (-(-y).exp()).ln_1p()
        } else {
            y.exp_m1().ln()
        })
    }
}

/// How a hyperparameter's unconstrained p maps to its constrained value θ, with the log of
/// the map's Jacobian that a prior on θ needs once carried to p (docs/MATH.md §8).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Constraint {
    /// θ = floor + softplus(p) ([`Positive`]), in (floor, ∞).
    Positive(Positive),
    /// θ = sigmoid(p), in (0, 1).
    UnitInterval,
    /// θ = p (an inducing input).
    Identity,
}

impl Constraint {
    /// θ at `p`.
    pub fn forward(&self, p: f64) -> f64 {
        match self {
            Constraint::Positive(t) => t.forward(p),
            Constraint::UnitInterval => sigmoid(p),
            Constraint::Identity => p,
        }
    }

    /// dθ/dp at `p`: sigmoid(p), sigmoid(p)·sigmoid(−p) or 1.
    pub fn derivative(&self, p: f64) -> f64 {
        match self {
            Constraint::Positive(t) => t.derivative(p),
            Constraint::UnitInterval => sigmoid(p) * sigmoid(-p),
            Constraint::Identity => 1.0,
        }
    }

    /// log|dθ/dp| at `p`, without underflow: −softplus(−p), −softplus(−p) − softplus(p), or 0.
    pub fn log_jacobian(&self, p: f64) -> f64 {
        match self {
            Constraint::Positive(_) => -softplus(-p),
            Constraint::UnitInterval => -softplus(-p) - softplus(p),
            Constraint::Identity => 0.0,
        }
    }

    /// d log|dθ/dp| / dp at `p`: sigmoid(−p), sigmoid(−p) − sigmoid(p), or 0.
    pub fn d_log_jacobian(&self, p: f64) -> f64 {
        match self {
            Constraint::Positive(_) => sigmoid(-p),
            Constraint::UnitInterval => sigmoid(-p) - sigmoid(p),
            Constraint::Identity => 0.0,
        }
    }
}

/// sigmoid(p) = 1/(1 + e⁻ᵖ), stable for large |p|.
pub fn sigmoid(p: f64) -> f64 {
    if p >= 0.0 {
        1.0 / (1.0 + (-p).exp())
    } else {
        let e = p.exp();
        e / (1.0 + e)
    }
}

/// softplus(p) = log(1 + eᵖ), stable for large |p|.
pub fn softplus(p: f64) -> f64 {
    if p > 30.0 {
        p + (-p).exp().ln_1p()
    } else {
        p.exp().ln_1p()
    }
}

/// Checks that an unconstrained parameter vector is finite, naming the first bad entry.
///
/// # Errors
/// `InvalidParameter { name: names[i], value }` for the first non-finite entry.
pub fn check_finite(names: &[String], params: &[f64]) -> Result<()> {
    match params.iter().position(|p| !p.is_finite()) {
        Some(i) => Err(SvgpError::InvalidParameter {
            name: names[i].clone(),
            value: params[i],
            reason: "unconstrained parameter must be finite",
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_round_trips_and_derivative_matches_differences() {
        let t = Positive::default();
        for &v in &[2e-6, 1e-3, 0.5, 1.0, 7.0, 45.0, 1e4] {
            let p = t.inverse("v", v).unwrap();
            // round trip: relative 1e-12 (a few ulps of log/exp at these magnitudes)
            assert!((t.forward(p) - v).abs() <= 1e-12 * v.max(1e-3), "v = {v}");
            let h = 1e-5 * p.abs().max(1.0);
            let fd = (t.forward(p + h) - t.forward(p - h)) / (2.0 * h);
            assert!((fd - t.derivative(p)).abs() < 1e-8, "v = {v}");
        }
    }

    /// For each constraint, dθ/dp and d log|dθ/dp|/dp against central differences (h = 1e-5,
    /// both truncation and rounding below 1e-9 at unit scale), and log|dθ/dp| against the log
    /// of dθ/dp (where it does not underflow; 1e-12 for a few ulps).
    #[test]
    fn constraint_jacobians_match_differences() {
        let constraints = [
            Constraint::Positive(Positive::with_floor(0.25)),
            Constraint::UnitInterval,
            Constraint::Identity,
        ];
        let h = 1e-5;
        for c in constraints {
            for p in [-4.0, -0.7, 0.0, 0.3, 2.5, 9.0] {
                let fd = (c.forward(p + h) - c.forward(p - h)) / (2.0 * h);
                assert!((fd - c.derivative(p)).abs() < 1e-9, "{c:?} at {p}");
                let lj = c.log_jacobian(p);
                assert!((lj - c.derivative(p).ln()).abs() < 1e-12, "{c:?} at {p}");
                let fd = (c.log_jacobian(p + h) - c.log_jacobian(p - h)) / (2.0 * h);
                assert!((fd - c.d_log_jacobian(p)).abs() < 1e-9, "{c:?} at {p}");
            }
        }
        // far in the tail the log stays finite where dθ/dp underflows
        assert!((Constraint::UnitInterval.log_jacobian(800.0) + 800.0).abs() < 1e-9);
    }

    #[test]
    fn inverse_refuses_values_at_or_below_the_floor() {
        let t = Positive::default();
        for v in [1e-6, 0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                t.inverse("lengthscale", v),
                Err(SvgpError::InvalidParameter { .. })
            ));
        }
    }
}
