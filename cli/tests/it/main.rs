//! The command line's integration tests, one module per area, linked into one test binary. Run
//! one area with `cargo test -p svgp-cli --test it AREA::` (e.g. `cargo test -p svgp-cli --test it
//! interrupt::`).

mod cli;
mod interrupt;
mod multiclass;
mod multilatent_plots;
mod reproduce;
mod samples;
mod stream_cli;
