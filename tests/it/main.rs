//! The library's integration tests, one module per area, linked into one test binary (a test
//! binary links the whole library, so each one more costs a link). Run one area with
//! `cargo test --test it AREA::` (e.g. `cargo test --test it checkpoint::`). The allocation count
//! of tests/steady_state.rs stays a binary of its own: its counting global allocator must serve
//! a single test.

// Seeded matrices, q's and the Fisher-solve oracle, shared with benches/natgrad.rs and
// benches/linalg.rs (hence beside this folder, not in it).
#[path = "../common/mod.rs"]
mod common;

mod bad_targets;
mod checkpoint;
mod chunks;
mod class_labels;
mod csv;
mod estimator;
mod golden;
mod kernel_language;
mod kernel_zoo;
mod kernels;
mod layers;
mod likelihoods;
mod log_cholesky;
mod model;
mod model_file;
mod multi_latent;
mod multi_likelihood;
mod multi_output;
mod natgrad_oracle;
mod non_conjugate;
mod parallel_policy;
mod peers_gpflow;
mod predictive;
mod priors;
mod scan;
mod shards;
mod snelson;
mod stream;
mod trainer;
mod variational;
