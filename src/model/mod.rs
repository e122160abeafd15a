//! Models: the SVGP (marginals, minibatch ELBO and its exact gradients), the collapsed SGPR bound
//! used as its reference, and the choice of inducing inputs.

mod conditional;
pub mod file;
pub mod inducing;
mod metrics;
mod predict;
mod sgpr;
mod svgp;

pub use conditional::{BatchMarginals, Conditional};
pub use metrics::Metrics;
pub use predict::PREDICT_CHUNK;
pub use sgpr::{sgpr_bound, SgprFit};
pub use svgp::{ElboGrad, GradBuffers, GradScope, Svgp, DEFAULT_JITTER};
