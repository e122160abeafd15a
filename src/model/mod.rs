//! Models: the SVGP (its marginals, and the minibatch ELBO with its exact gradients evaluated in a
//! reusable [`Workspace`]), the collapsed SGPR bound used as its reference, predictions, metrics
//! and the choice of inducing inputs.

mod batch;
mod chunks;
mod conditional;
mod grad;
mod gram;
pub mod inducing;
mod joint;
mod metrics;
mod predict;
mod predictor;
mod sgpr;
mod svgp;
mod workspace;

pub use chunks::{chunk_rows, ElboSum, CHUNK_BYTES};
pub use conditional::{BatchMarginals, Conditional};
pub use grad::{total_kl, DataTerms, ElboGrad, GradScope};
pub use joint::{JointOf, MAX_JOINT_ROWS, SAMPLE_JITTER};
pub use metrics::{Metrics, OutputMetrics};
pub use sgpr::{sgpr_bound, SgprFit};
pub use svgp::{Svgp, DEFAULT_JITTER};
pub use workspace::{Candidates, Marginals, Workspace};
