//! `svgp`: sparse variational Gaussian processes trained by natural gradients computed as one
//! forward-mode Jacobian-vector product (Salimbeni, Eleftheriadis & Hensman, 2018).
//!
//! Layers, each using only those before it: the mathematics ([`linalg`], [`kernel`],
//! [`likelihood`], [`variational`], [`prior`]), the model ([`model`]), training ([`optim`]),
//! data readers ([`data`]) and the tabular layer ([`tabular`]: raw tables in, fitted models
//! with their scalings out). [`prelude`] gathers what a user fitting a model needs. How work is spread
//! over threads is one value, [`Parallelism`] ([`parallel`]), given to the model or the
//! trainer and passed down; results are bitwise the same under every policy.
#![warn(missing_docs)]

pub mod data;
pub mod error;
pub mod kernel;
pub mod likelihood;
pub mod linalg;
pub mod model;
pub mod optim;
pub mod parallel;
#[cfg(feature = "plot")]
pub mod plot;
pub mod prelude;
pub mod prior;
mod simd;
pub mod tabular;
pub mod transform;
pub mod variational;

pub use error::{Result, SvgpError};
pub use parallel::Parallelism;

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
