//! One kernel language for every front door: the CLI's `--kernel`, Python's kernel objects and
//! the model file all read and write expressions such as
//! `linear(year) + se(year) * periodic(year, period=fixed(1))`.
//!
//! [`parse`] turns text into an [`Expr`]; printing an [`Expr`] gives canonical text that parses
//! back to the same tree. [`resolve`] builds the kernel an [`Expr`] denotes over named columns,
//! with its fixed parameters and priors; [`describe`] writes a kernel back as an [`Expr`] with
//! its current values.

mod describe;
mod lex;
mod parse;
mod resolve;
mod syntax;

pub use describe::describe;
pub use parse::parse;
pub use resolve::{resolve, Resolved};
pub use syntax::{Arg, Call, Column, Expr, PriorCall};

use std::fmt;

/// Where and why a kernel expression does not parse (or names something unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// 1-based character column in the expression.
    pub column: usize,
    /// What was expected there.
    pub expected: String,
    /// What was found.
    pub found: String,
}

impl ExprError {
    /// An error at `column`: `expected` there, `found` instead.
    pub fn new(column: usize, expected: &str, found: String) -> Self {
        ExprError {
            column,
            expected: expected.to_string(),
            found,
        }
    }

    /// The crate's error for this one in `expression`.
    pub fn in_expression(self, expression: &str) -> crate::SvgpError {
        crate::SvgpError::KernelExpression {
            expression: expression.to_string(),
            column: self.column,
            expected: self.expected,
            found: self.found,
        }
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "column {}: expected {}, found {}",
            self.column, self.expected, self.found
        )
    }
}

#[cfg(test)]
mod tests;
