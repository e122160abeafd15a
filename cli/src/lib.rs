//! The application layer of `svgp` over the library's public API: `svgp reproduce` (the paper's
//! evidence on the shipped datasets). The `svgp` binary (`src/main.rs`) is the command line.
#![warn(missing_docs)]

pub mod reproduce;
