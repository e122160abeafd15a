//! Natural-gradient step sizes γ_t, t = 1, 2, … (MATH.md §6; Salimbeni et al. 2018, §4).

use crate::error::{Result, SvgpError};

/// K of the default ramp: 10 iterations from 1e-4 to 1e-1 (a factor 2.15 per iteration).
pub const DEFAULT_RAMP_STEPS: u64 = 10;

/// A step-size schedule for the natural-gradient step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// γ_t = γ.
    Constant(f64),
    /// The paper's log-linear ramp: γ_t = γ₀ (γ₁/γ₀)^{(t−1)/(K−1)} for t ≤ K, then γ₁
    /// (so γ_1 = γ₀ and γ_K = γ₁).
    LogLinear {
        /// γ at t = 1.
        start: f64,
        /// γ from t = K on.
        end: f64,
        /// K, the ramp length in iterations (≥ 1).
        steps: u64,
    },
    /// γ_t = γ_max (1 − e^{−r t}), t counted from 1 so the first step is not zero.
    Increasing {
        /// The limit γ_max.
        max: f64,
        /// The rate r > 0.
        rate: f64,
    },
}

impl Schedule {
    /// The paper's ramp for non-conjugate likelihoods, γ 1e-4 → 1e-1 log-linearly over `steps`.
    pub fn paper_ramp(steps: u64) -> Self {
        Schedule::LogLinear {
            start: 1e-4,
            end: 1e-1,
            steps,
        }
    }

    /// The default for a likelihood (MATH.md §6): γ = 1 for a conjugate (Gaussian) likelihood
    /// with full batches, where one step is exact; otherwise the paper's log-linear ramp from
    /// 1e-4 to 1e-1 over [`DEFAULT_RAMP_STEPS`] iterations, then constant.
    pub fn default_for(likelihood: &dyn crate::likelihood::Likelihood, full_batch: bool) -> Self {
        if full_batch && likelihood.is_conjugate() {
            Schedule::Constant(1.0)
        } else {
            Schedule::paper_ramp(DEFAULT_RAMP_STEPS)
        }
    }

    /// Checks that every γ the schedule can produce is finite and positive.
    ///
    /// # Errors
    /// `InvalidParameter` naming the offending field.
    pub fn check(&self) -> Result<()> {
        let bad = |name: &str, value: f64| SvgpError::InvalidParameter {
            name: name.to_string(),
            value,
            reason: "step sizes and rates must be finite and positive",
        };
        let positive = |v: f64| v.is_finite() && v > 0.0;
        match *self {
            Schedule::Constant(g) if !positive(g) => Err(bad("gamma", g)),
            Schedule::LogLinear { start, .. } if !positive(start) => Err(bad("gamma_start", start)),
            Schedule::LogLinear { end, .. } if !positive(end) => Err(bad("gamma_end", end)),
            Schedule::LogLinear { steps: 0, .. } => Err(bad("gamma_ramp_steps", 0.0)),
            Schedule::Increasing { max, .. } if !positive(max) => Err(bad("gamma_max", max)),
            Schedule::Increasing { rate, .. } if !positive(rate) => Err(bad("gamma_rate", rate)),
            _ => Ok(()),
        }
    }

    /// γ at iteration `t` (t ≥ 1; t = 0 is treated as 1).
    pub fn gamma(&self, t: u64) -> f64 {
        let t = t.max(1);
        match *self {
            Schedule::Constant(g) => g,
            Schedule::LogLinear { start, end, steps } => {
                if steps <= 1 || t >= steps {
                    end
                } else {
                    let frac = (t - 1) as f64 / (steps - 1) as f64;
                    start * (end / start).powf(frac)
                }
            }
            Schedule::Increasing { max, rate } => max * -(-rate * t as f64).exp_m1(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_hit_their_closed_forms() {
        let ramp = Schedule::LogLinear {
            start: 1e-4,
            end: 1e-1,
            steps: 4,
        };
        let expect = [1e-4, 1e-3, 1e-2, 1e-1, 1e-1];
        for (t, e) in (1..=5).zip(expect) {
            assert!(
                (ramp.gamma(t) / e - 1.0).abs() < 1e-12,
                "t={t}: {}",
                ramp.gamma(t)
            );
        }
        let inc = Schedule::Increasing {
            max: 0.5,
            rate: 0.1,
        };
        assert!((inc.gamma(1) - 0.5 * (1.0 - (-0.1f64).exp())).abs() < 1e-15);
        assert!(inc.gamma(1) > 0.0 && inc.gamma(1000) > 0.4999);
        assert_eq!(Schedule::Constant(0.3).gamma(17), 0.3);
    }

    #[test]
    fn invalid_schedules_are_refused() {
        assert!(Schedule::Constant(0.0).check().is_err());
        assert!(Schedule::LogLinear {
            start: 1e-4,
            end: f64::NAN,
            steps: 3
        }
        .check()
        .is_err());
        assert!(Schedule::Increasing {
            max: 1.0,
            rate: -1.0
        }
        .check()
        .is_err());
        assert!(Schedule::paper_ramp(5).check().is_ok());
    }
}
