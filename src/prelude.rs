//! What a user fitting a model needs, in one import: `use svgp::prelude::*;`.
//!
//! The front door is [`Estimator`] (raw data in, a [`Fitted`] model out); the low-level pieces
//! ([`Svgp`], [`Trainer`], kernels, likelihoods, schedules) are here too for full control.

pub use crate::data::{read_csv, Table};
pub use crate::error::{Result, SvgpError};
pub use crate::kernel::{
    Kernel, KernelExpr, KernelFamily, Matern12, Matern32, Matern52, Product, SquaredExponential,
    Sum,
};
pub use crate::likelihood::{
    Bernoulli, BinaryLink, Gaussian, Likelihood, Poisson, PoissonLink, StudentT,
};
pub use crate::model::inducing::InducingInit;
pub use crate::model::{ElboGrad, GradScope, JointOf, Marginals, Metrics, Svgp, Workspace};
pub use crate::optim::{
    AdamConfig, AscentCheck, BatchPlan, BatchSource, HyperTraining, InMemory, IterReport, Observer,
    QTraining, QUpdate, Schedule, StopReason, StopRules, Trace, Trainer, Xi,
};
pub use crate::parallel::Parallelism;
pub use crate::tabular::{Estimator, FitOptions, Fitted, LikelihoodChoice, SavedModel};
