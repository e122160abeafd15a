//! Adam (Kingma & Ba 2015) for the hyperparameters and Z, ascending the ELBO.

use crate::error::{check_shape, Result, Shape};
use nalgebra::DVector;

/// Adam's constants; `Default` gives lr 0.01, β₁ 0.9, β₂ 0.999, ε 1e-7 (the peer scripts' and
/// Keras's values).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate α.
    pub learning_rate: f64,
    /// Decay of the first-moment estimate β₁.
    pub beta1: f64,
    /// Decay of the second-moment estimate β₂.
    pub beta2: f64,
    /// ε added to √v̂.
    pub epsilon: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            learning_rate: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
        }
    }
}

/// Adam's state for a parameter vector of fixed length.
#[derive(Debug, Clone, PartialEq)]
pub struct Adam {
    /// The constants.
    pub config: AdamConfig,
    m: DVector<f64>,
    v: DVector<f64>,
    t: u64,
}

impl Adam {
    /// Fresh state (zero moments, t = 0) for `len` parameters.
    pub fn new(config: AdamConfig, len: usize) -> Self {
        Adam {
            config,
            m: DVector::zeros(len),
            v: DVector::zeros(len),
            t: 0,
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// The new parameters after one ascent step on `grad` (the gradient of the objective being
    /// maximised): t ← t + 1, m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², and
    /// p + α·m̂/(√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) (Kingma & Ba 2015, Algorithm 1).
    ///
    /// The state advances only through [`Adam::commit`], so a step that the caller rejects
    /// leaves no trace.
    ///
    /// # Errors
    /// `ShapeMismatch` if `params` or `grad` does not have the state's length.
    pub fn propose(
        &self,
        params: &DVector<f64>,
        grad: &DVector<f64>,
    ) -> Result<(DVector<f64>, AdamState)> {
        check_shape(
            "Adam parameters",
            Shape::new(self.m.len(), 1),
            Shape::new(params.len(), 1),
        )?;
        check_shape(
            "Adam gradient",
            Shape::new(self.m.len(), 1),
            Shape::new(grad.len(), 1),
        )?;
        let c = &self.config;
        let t = self.t + 1;
        let m = &self.m * c.beta1 + grad * (1.0 - c.beta1);
        let v = &self.v * c.beta2 + grad.component_mul(grad) * (1.0 - c.beta2);
        let bias1 = 1.0 - c.beta1.powi(t as i32);
        let bias2 = 1.0 - c.beta2.powi(t as i32);
        let new = DVector::from_fn(params.len(), |i, _| {
            params[i] + c.learning_rate * (m[i] / bias1) / ((v[i] / bias2).sqrt() + c.epsilon)
        });
        Ok((new, AdamState { m, v, t }))
    }

    /// The moments and step count, to save (see [`Adam::restore`]).
    pub fn moments(&self) -> AdamMoments {
        AdamMoments {
            m: self.m.as_slice().to_vec(),
            v: self.v.as_slice().to_vec(),
            t: self.t,
        }
    }

    /// Continues from saved moments: the next step is the one the saved state would have taken.
    ///
    /// # Errors
    /// `ShapeMismatch` if the moments are not for this state's number of parameters;
    /// `InvalidParameter` for a non-finite moment or a negative second moment.
    pub fn restore(&mut self, saved: &AdamMoments) -> Result<()> {
        let n = self.m.len();
        check_shape(
            "Adam first moments",
            Shape::new(n, 1),
            Shape::new(saved.m.len(), 1),
        )?;
        check_shape(
            "Adam second moments",
            Shape::new(n, 1),
            Shape::new(saved.v.len(), 1),
        )?;
        let bad = saved
            .m
            .iter()
            .find(|x| !x.is_finite())
            .copied()
            .or_else(|| {
                saved
                    .v
                    .iter()
                    .find(|x| !(x.is_finite() && **x >= 0.0))
                    .copied()
            });
        if let Some(value) = bad {
            return Err(crate::error::SvgpError::InvalidParameter {
                name: "Adam moments".into(),
                value,
                reason: "moments must be finite and second moments non-negative",
            });
        }
        self.m = DVector::from_column_slice(&saved.m);
        self.v = DVector::from_column_slice(&saved.v);
        self.t = saved.t;
        Ok(())
    }

    /// Adopts the moments of an accepted [`Adam::propose`].
    pub fn commit(&mut self, state: AdamState) {
        self.m = state.m;
        self.v = state.v;
        self.t = state.t;
    }
}

/// Adam's moments and step count as plain numbers, to save and [`Adam::restore`] exactly.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamMoments {
    /// First moments, one per parameter.
    pub m: Vec<f64>,
    /// Second moments, one per parameter.
    pub v: Vec<f64>,
    /// Steps taken.
    pub t: u64,
}

/// Adam's moments after a proposed step, to [`Adam::commit`] once the step is accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamState {
    m: DVector<f64>,
    v: DVector<f64>,
    t: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A coordinate whose gradient is exactly 0 at every step keeps its value bit for bit
    /// (m = v = 0, so its step is 0/(0 + ε) = 0) while the others move: how Adam leaves Z's
    /// category-code columns, whose kernel derivative is zero, where they are.
    #[test]
    fn a_coordinate_with_zero_gradient_never_moves() {
        let mut adam = Adam::new(AdamConfig::default(), 3);
        let mut p = DVector::from_vec(vec![0.3, 2.0, -1.7]);
        for t in 0..50 {
            let g = DVector::from_vec(vec![(t as f64).sin(), 0.0, 1.0 - p[2]]);
            let (next, state) = adam.propose(&p, &g).unwrap();
            adam.commit(state);
            p = next;
        }
        assert_eq!(p[1], 2.0);
        assert!(p[0] != 0.3 && p[2] != -1.7, "{p}");
    }

    /// First step from zero moments moves each parameter by α·sign(g) (m̂ = g, v̂ = g²; the ε
    /// term changes it by a relative 1e-7/|g|); a second identical gradient again by about α.
    #[test]
    fn first_steps_move_by_the_learning_rate() {
        let mut adam = Adam::new(AdamConfig::default(), 2);
        let p = DVector::from_vec(vec![1.0, -2.0]);
        let g = DVector::from_vec(vec![3.0, -0.5]);
        let (p1, st) = adam.propose(&p, &g).unwrap();
        assert!(
            (p1[0] - 1.01).abs() < 1e-8 && (p1[1] + 2.01).abs() < 1e-8,
            "{p1}"
        );
        assert_eq!(adam.steps(), 0);
        adam.commit(st);
        let (p2, _) = adam.propose(&p1, &g).unwrap();
        assert!((p2[0] - 1.02).abs() < 1e-8, "{p2}");
    }

    /// On the concave quadratic −½‖p − p*‖² Adam climbs to p*.
    #[test]
    fn climbs_a_quadratic() {
        let target = DVector::from_vec(vec![0.3, -1.7, 2.2]);
        let mut adam = Adam::new(
            AdamConfig {
                learning_rate: 0.05,
                ..Default::default()
            },
            3,
        );
        let mut p = DVector::zeros(3);
        for _ in 0..2000 {
            let g = &target - &p;
            let (next, st) = adam.propose(&p, &g).unwrap();
            adam.commit(st);
            p = next;
        }
        assert!((&p - &target).amax() < 1e-3, "{p}");
    }
}
