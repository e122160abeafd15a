//! The natural-gradient step ξ ← ξ + γ J ∇_η L on q(v), checked (MATH.md §3, §6).
//!
//! A step whose S is not positive definite is never accepted and never jittered: it is refused
//! with [`SvgpError::StepRejected`], or retried with γ halved up to a stated number of times, and
//! the halvings are reported in [`NatGradStep`]. A caller may also pass an acceptance test (the
//! trainer's: the step must not lower the minibatch ELBO), which shortens steps the same way.

use crate::error::{Result, SvgpError};
use crate::variational::{Coords, Parametrisation, Spare, VariationalQ};
use std::marker::PhantomData;

/// What a natural-gradient step does when ξ + γñ is not a valid Gaussian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidStepPolicy {
    /// Return `StepRejected` at once.
    Refuse,
    /// Retry with γ/2, γ/4, … up to `max_halvings` times, then return `StepRejected`.
    Halve {
        /// Largest number of halvings tried before giving up.
        max_halvings: u32,
    },
}

impl Default for InvalidStepPolicy {
    /// Halve up to 10 times (γ down to about γ/1000), then refuse.
    fn default() -> Self {
        InvalidStepPolicy::Halve { max_halvings: 10 }
    }
}

/// An accepted natural-gradient step of one q.
#[derive(Debug, Clone, PartialEq)]
pub struct NatGradStep {
    /// The new q(v).
    pub q: VariationalQ,
    /// The step size actually used: the requested γ divided by 2^`halvings`.
    pub gamma: f64,
    /// How many times γ was halved before the step was valid and accepted (0: taken as asked).
    pub halvings: u32,
}

/// An accepted natural-gradient step of every latent's q, with one γ for all (the Fisher matrix
/// is block-diagonal over latents, so this is the natural step of the joint q).
#[derive(Debug, Clone, PartialEq)]
pub struct LatentSteps {
    /// The new q(vₗ), in latent order.
    pub qs: Vec<VariationalQ>,
    /// The step size actually used: the requested γ divided by 2^`halvings`.
    pub gamma: f64,
    /// How many times γ was halved before every latent's step was valid and accepted.
    pub halvings: u32,
}

/// Natural-gradient steps in the parametrisation `P` (for example [`crate::variational::Natural`]).
#[derive(Debug, Clone, Copy)]
pub struct NatGrad<P: Parametrisation> {
    /// What to do with a step that leaves the positive-definite cone.
    pub policy: InvalidStepPolicy,
    parametrisation: PhantomData<P>,
}

impl<P: Parametrisation> Default for NatGrad<P> {
    fn default() -> Self {
        Self::new(InvalidStepPolicy::default())
    }
}

impl<P: Parametrisation> NatGrad<P> {
    /// Steps in `P` with the given safeguard.
    pub fn new(policy: InvalidStepPolicy) -> Self {
        NatGrad {
            policy,
            parametrisation: PhantomData,
        }
    }

    /// One step ξ ← ξ + γ ñ from q, ñ = P::natural_gradient(q, ∇_η L); `d_eta` = ∇_η L
    /// (vector length M, symmetric M×M matrix), `gamma` > 0.
    ///
    /// # Errors
    /// `InvalidParameter` for γ not finite and positive; `NonFiniteValue` for a non-finite ∇_η L
    /// or natural gradient; `StepRejected { gamma, attempts, pivot }` when no allowed γ gives a
    /// positive-definite S; errors of `P`'s maps otherwise.
    pub fn step(&self, q: &VariationalQ, d_eta: &Coords, gamma: f64) -> Result<NatGradStep> {
        self.step_checked(q, d_eta, gamma, &mut |_| true)
    }

    /// As [`NatGrad::step`], also halving γ while `accept(candidate)` is false (under the same
    /// bound on halvings).
    ///
    /// # Errors
    /// As [`NatGrad::step`]; `StepRejected { pivot: None }` when the last γ allowed gives a valid
    /// Gaussian that fails `accept`.
    pub fn step_checked(
        &self,
        q: &VariationalQ,
        d_eta: &Coords,
        gamma: f64,
        accept: &mut dyn FnMut(&VariationalQ) -> bool,
    ) -> Result<NatGradStep> {
        self.step_checked_in(q, d_eta, gamma, accept, &mut Spare::new())
    }

    /// As [`NatGrad::step_checked`], building in buffers from `spare` where `P` can
    /// ([`Parametrisation::step_ends`], [`Parametrisation::to_q_at`]) and returning to it the
    /// step's temporaries and every refused candidate: in a training loop that also keeps the
    /// old q there, a step in θ allocates no M×M matrix.
    ///
    /// # Errors
    /// As [`NatGrad::step_checked`].
    pub fn step_checked_in(
        &self,
        q: &VariationalQ,
        d_eta: &Coords,
        gamma: f64,
        accept: &mut dyn FnMut(&VariationalQ) -> bool,
        spare: &mut Spare,
    ) -> Result<NatGradStep> {
        let qs = std::slice::from_ref(q);
        let d_etas = std::slice::from_ref(d_eta);
        let mut accept_one = |qs: &[VariationalQ]| accept(&qs[0]);
        let mut step = self.step_latents_in(qs, d_etas, gamma, &mut accept_one, spare)?;
        Ok(NatGradStep {
            q: step.qs.pop().expect("one latent in, one out"),
            gamma: step.gamma,
            halvings: step.halvings,
        })
    }

    /// The natural step of every latent at once: latent l moves from `qs[l]` along its own
    /// direction from `d_etas[l]` = ∇_ηₗ L, all with the same γ, halved (under the policy's bound)
    /// while any latent's step leaves the positive-definite cone or `accept(candidates)` is
    /// false. Buffers come from and go back to `spare` as in [`NatGrad::step_checked_in`].
    ///
    /// # Errors
    /// As [`NatGrad::step_checked`]; `ShapeMismatch` unless there is one ∇_η L per q.
    pub fn step_latents_in(
        &self,
        qs: &[VariationalQ],
        d_etas: &[Coords],
        gamma: f64,
        accept: &mut dyn FnMut(&[VariationalQ]) -> bool,
        spare: &mut Spare,
    ) -> Result<LatentSteps> {
        if !(gamma.is_finite() && gamma > 0.0) {
            return Err(SvgpError::InvalidParameter {
                name: "gamma".into(),
                value: gamma,
                reason: "the natural-gradient step size must be finite and positive",
            });
        }
        crate::error::check_shape(
            "∇_η L, one per latent",
            crate::error::Shape::new(qs.len(), 1),
            crate::error::Shape::new(d_etas.len(), 1),
        )?;
        if !d_etas.iter().all(Coords::is_finite) {
            return Err(SvgpError::NonFiniteValue {
                quantity: "∇_η L"
            });
        }
        let mut ends = Vec::with_capacity(qs.len());
        for (q, d_eta) in qs.iter().zip(d_etas) {
            match P::step_ends(q, d_eta, spare) {
                Ok(end) => ends.push(end),
                Err(e) => {
                    give_back(ends, spare);
                    return Err(e);
                }
            }
        }
        let outcome = self.first_accepted(&ends, gamma, accept, spare);
        give_back(ends, spare);
        outcome
    }

    /// The halving loop of [`NatGrad::step_latents_in`] from each latent's ξ along its
    /// direction.
    fn first_accepted(
        &self,
        ends: &[(Coords, Coords)],
        gamma: f64,
        accept: &mut dyn FnMut(&[VariationalQ]) -> bool,
        spare: &mut Spare,
    ) -> Result<LatentSteps> {
        if !ends.iter().all(|(_, direction)| direction.is_finite()) {
            return Err(SvgpError::NonFiniteValue {
                quantity: "natural gradient",
            });
        }
        let max_halvings = match self.policy {
            InvalidStepPolicy::Refuse => 0,
            InvalidStepPolicy::Halve { max_halvings } => max_halvings,
        };
        let mut gamma_try = gamma;
        let mut halvings = 0;
        loop {
            let pivot = match candidates::<P>(ends, gamma_try, spare) {
                Ok(qs) if accept(&qs) => {
                    return Ok(LatentSteps {
                        qs,
                        gamma: gamma_try,
                        halvings,
                    })
                }
                Ok(refused) => {
                    refused.into_iter().for_each(|q| spare.keep_q(q));
                    None
                }
                Err(SvgpError::NotPositiveDefinite { pivot, .. }) => Some(pivot),
                Err(other) => return Err(other),
            };
            if halvings == max_halvings {
                return Err(SvgpError::StepRejected {
                    gamma: gamma_try,
                    attempts: halvings as usize + 1,
                    pivot,
                });
            }
            gamma_try *= 0.5;
            halvings += 1;
        }
    }
}

/// Every latent's q at ξ + γ·direction; the first invalid one's error, the others' buffers
/// given back.
fn candidates<P: Parametrisation>(
    ends: &[(Coords, Coords)],
    gamma: f64,
    spare: &mut Spare,
) -> Result<Vec<VariationalQ>> {
    let mut qs = Vec::with_capacity(ends.len());
    for (xi, direction) in ends {
        match P::to_q_at(xi, gamma, direction, spare) {
            Ok(q) => qs.push(q),
            Err(e) => {
                qs.into_iter().for_each(|q| spare.keep_q(q));
                return Err(e);
            }
        }
    }
    Ok(qs)
}

/// Returns the steps' ξ and directions to the pool.
fn give_back(ends: Vec<(Coords, Coords)>, spare: &mut Spare) {
    for (xi, direction) in ends {
        spare.keep_coords(xi);
        spare.keep_coords(direction);
    }
}
