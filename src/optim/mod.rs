//! Optimisers: the checked natural-gradient step on q(v), Adam for the hyperparameters, step-size
//! schedules, minibatch streams and the alternating trainer with its observers.

mod adam;
mod batch;
mod natgrad;
mod observer;
mod schedule;
mod trainer;

pub use adam::{Adam, AdamConfig, AdamState};
pub use batch::{BatchPlan, Batches};
pub use natgrad::{InvalidStepPolicy, NatGrad, NatGradStep};
pub use observer::{first_reaching, ElboCheckpoints, Every, Observer, Trace};
pub use schedule::{Schedule, DEFAULT_RAMP_STEPS};
pub use trainer::{IterReport, QStep, QTraining, RunSummary, StopReason, StopRules, Trainer};
