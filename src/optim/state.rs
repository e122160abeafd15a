//! A trainer's whole state as plain numbers, to save and restore exactly: the model (kernel and
//! likelihood by their specs, Z, each latent's q with S⁻¹ when a natural step left it known), the Adam moments
//! and step counts, and the iteration (which is also the step-size schedule's position).
//! Restored into a trainer built with the same q and hyperparameter training, the next
//! iteration is bit for bit the one the saved trainer would have taken.

use super::adam::AdamMoments;
use super::Trainer;
use crate::error::{check_shape, Result, Shape, SvgpError};
use crate::kernel::KernelSpec;
use crate::likelihood::LikelihoodSpec;
use crate::linalg::symmetrise_in_place;
use crate::model::Svgp;
use crate::variational::VariationalQ;
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// Everything [`Trainer::restore`] needs to continue where [`Trainer::state`] was taken.
/// Matrices are column-major: Z is M×D, L and S⁻¹ are M×M.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainerState {
    /// Iterations completed.
    pub iteration: u64,
    /// The kernels (one shared by every latent, or one per latent), with their unconstrained
    /// parameters.
    pub kernels: Vec<KernelSpec>,
    /// The likelihood, with its unconstrained parameters.
    pub likelihood: LikelihoodSpec,
    /// The jitter on Kuu's diagonal.
    pub jitter: f64,
    /// M.
    pub num_inducing: usize,
    /// Z, M×D column-major.
    pub z: Vec<f64>,
    /// Each latent's q, in latent order.
    pub latents: Vec<LatentState>,
    /// Adam on the hyperparameters and Z (`None` when they are frozen).
    pub hyper_adam: Option<AdamMoments>,
    /// Adam on q (the Adam-only mode).
    pub q_adam: Option<AdamMoments>,
}

/// One latent's q(v) as plain numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatentState {
    /// The mean m (M).
    pub m: Vec<f64>,
    /// The factor L, M×M column-major.
    pub l: Vec<f64>,
    /// S⁻¹ when known (after a natural step in θ), M×M column-major.
    pub s_inv: Option<Vec<f64>>,
}

impl LatentState {
    fn of(q: &VariationalQ) -> Self {
        LatentState {
            m: q.m().as_slice().to_vec(),
            l: q.l().as_slice().to_vec(),
            s_inv: q.known_s_inv().map(|s| s.as_slice().to_vec()),
        }
    }

    /// The q with M = `m` inducing points this holds.
    fn q(&self, m: usize) -> Result<VariationalQ> {
        check_shape("saved m", Shape::new(m, 1), Shape::new(self.m.len(), 1))?;
        // saturating: a corrupt M then fails the comparison instead of overflowing
        let mm = m.saturating_mul(m);
        check_shape("saved L", Shape::new(mm, 1), Shape::new(self.l.len(), 1))?;
        let mut q = VariationalQ::new(
            DVector::from_column_slice(&self.m),
            DMatrix::from_column_slice(m, m, &self.l),
        )?;
        if let Some(s_inv) = &self.s_inv {
            check_shape("saved S⁻¹", Shape::new(mm, 1), Shape::new(s_inv.len(), 1))?;
            if let Some(v) = s_inv.iter().find(|v| !v.is_finite()) {
                return Err(SvgpError::InvalidParameter {
                    name: "saved S⁻¹".into(),
                    value: *v,
                    reason: "entries must be finite",
                });
            }
            let mut s_inv = DMatrix::from_column_slice(m, m, s_inv);
            symmetrise_in_place(&mut s_inv); // as saved, unless the file was edited
            q = q.with_s_inv(s_inv);
        }
        Ok(q)
    }
}

impl TrainerState {
    /// The model this state holds.
    ///
    /// # Errors
    /// `ShapeMismatch` or `InvalidParameter` for inconsistent shapes or values (naming them).
    pub fn model(&self) -> Result<Svgp> {
        let m = self.num_inducing;
        let d = self.z.len().checked_div(m).unwrap_or(0);
        check_shape(
            "saved Z entries",
            Shape::new(m.saturating_mul(d), 1),
            Shape::new(self.z.len(), 1),
        )?;
        let z = DMatrix::from_column_slice(m, d, &self.z);
        let qs = self
            .latents
            .iter()
            .map(|latent| latent.q(m))
            .collect::<Result<Vec<_>>>()?;
        let kernels = self
            .kernels
            .iter()
            .map(KernelSpec::build)
            .collect::<Result<Vec<_>>>()?;
        Svgp::with_qs(kernels, self.likelihood.build()?, z, qs, self.jitter)
    }
}

impl Trainer {
    /// The trainer's whole state (see [`TrainerState`]).
    pub fn state(&self) -> TrainerState {
        let model = &self.model;
        TrainerState {
            iteration: self.iteration,
            kernels: model.kernels().iter().map(|k| k.spec()).collect(),
            likelihood: model.likelihood().spec(),
            jitter: model.jitter(),
            num_inducing: model.num_inducing(),
            z: model.z().as_slice().to_vec(),
            latents: model.qs().iter().map(LatentState::of).collect(),
            hyper_adam: self.hyper.as_ref().map(|a| a.moments()),
            q_adam: self.q_adam().map(|a| a.moments()),
        }
    }

    /// Continues from `state`: the model, the Adam moments and the iteration are replaced; the
    /// step rule, schedule, Adam constants, priors, fixed hyperparameters and ascent check stay
    /// this trainer's (a tabular checkpoint stores them in its settings). On error the trainer
    /// is unchanged.
    ///
    /// # Errors
    /// As [`TrainerState::model`]; as [`Trainer::with_hyper_settings`] for the restored model;
    /// `InvalidParameter { name: "saved trainer" }` when the state
    /// has Adam moments this trainer has no optimiser for, or lacks ones it has; as
    /// [`super::Adam::restore`].
    pub fn restore(&mut self, state: &TrainerState) -> Result<()> {
        let model = state.model()?;
        let mismatch = |reason| SvgpError::InvalidParameter {
            name: "saved trainer".into(),
            value: state.iteration as f64,
            reason,
        };
        let mut hyper = self.hyper.clone();
        match (&mut hyper, &state.hyper_adam) {
            (Some(adam), Some(saved)) => adam.restore(saved)?,
            (None, None) => {}
            _ => {
                return Err(mismatch(
                    "hyperparameter training differs from the saved one",
                ))
            }
        }
        let mut q_adam = self.q_adam().cloned();
        match (&mut q_adam, &state.q_adam) {
            (Some(adam), Some(saved)) => adam.restore(saved)?,
            (None, None) => {}
            _ => return Err(mismatch("q training (natural steps or Adam) differs")),
        }
        if let Some(adam) = &hyper {
            check_shape(
                "saved hyperparameters",
                Shape::new(adam.moments().m.len(), 1),
                Shape::new(model.hyper_params().len(), 1),
            )?;
        }
        // The settings are this trainer's, resolved again against the restored model.
        let settings = self.hyper_settings().clone();
        let resolved = super::hyper::resolve(&settings, &model)?;
        self.model = model;
        self.hyper = hyper;
        self.set_resolved(resolved);
        self.set_q_adam(q_adam);
        self.iteration = state.iteration;
        Ok(())
    }
}
