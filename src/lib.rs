//! `svgp`: sparse variational Gaussian processes trained by natural gradients computed as one
//! forward-mode Jacobian-vector product (Salimbeni, Eleftheriadis & Hensman, 2018).
#![warn(missing_docs)]

pub mod error;
pub mod linalg;

pub use error::{Result, SvgpError};
pub mod data;
pub mod kernel;
pub mod likelihood;
pub mod model;
pub mod optim;
pub mod pipeline;
pub mod plot;
pub mod reproduce;
mod simd;
pub mod transform;
pub mod variational;
