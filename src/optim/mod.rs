//! Training: the checked natural-gradient step on q(v), Adam for the hyperparameters (with
//! priors and fixed hyperparameters), step-size schedules, batch sources (in memory or
//! streamed) and the alternating trainer with its observers.

mod adam;
mod batch;
mod constraints;
mod evaluator;
mod hyper;
mod natgrad;
mod observer;
mod report;
mod run;
mod schedule;
mod source;
mod state;
mod trainer;

pub use adam::{Adam, AdamConfig, AdamMoments, AdamState};
pub use batch::{BatchPlan, Batches};
pub use constraints::hyper_constraints;
pub use evaluator::{CandidateTerm, Evaluator, Shards};
pub use hyper::{fixed_positions, HyperSettings, LogPrior};
pub use natgrad::{InvalidStepPolicy, LatentSteps, NatGrad, NatGradStep};
pub use observer::{first_reaching, ElboCheckpoints, Every, Observer, Trace};
pub use report::{IterReport, QUpdate, RunSummary, StopReason, StopRules};
pub use run::{BatchSteps, Steps};
pub use schedule::{Schedule, DEFAULT_RAMP_STEPS};
pub use source::{BatchSource, InMemory};
pub use state::{LatentState, TrainerState};
pub use trainer::{AscentCheck, HyperTraining, QStep, QTraining, Trainer, Xi, ASCENT_SLACK};
