//! The crate's one error type, `SvgpError`, and `Result<T>`.
//!
//! Every variant names where the failure happened (a matrix and its pivot, a parameter and its
//! value, a step size), so a caller can report it without guessing.

use std::fmt;

/// Convenience alias used throughout the crate.
pub type Result<T> = std::result::Result<T, SvgpError>;

/// Everything that can go wrong in `svgp`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SvgpError {
    /// A Cholesky factorisation met a non-positive pivot.
    ///
    /// `pivot` is the 0-based index of the first diagonal entry that failed; `jitter` is the
    /// diagonal jitter that had been added when it failed (0 if none was asked for).
    #[error("{matrix} is not positive definite: Cholesky pivot {pivot} is not positive (jitter {jitter:e})")]
    NotPositiveDefinite {
        /// Which matrix (for example "Kuu" or "S").
        matrix: &'static str,
        /// 0-based index of the failing pivot.
        pivot: usize,
        /// Jitter added to the diagonal when the failure happened.
        jitter: f64,
    },
    /// Two objects that must agree in shape do not.
    #[error("shape mismatch in {what}: expected {expected}, found {found}")]
    ShapeMismatch {
        /// What was being checked.
        what: &'static str,
        /// The shape that was required.
        expected: Shape,
        /// The shape that was given.
        found: Shape,
    },
    /// A parameter value is outside its domain (non-finite, below a floor, …).
    #[error("invalid value {value} for parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter's name, as in `param_names()` or the builder method.
        name: String,
        /// The offending value.
        value: f64,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A computed quantity (a gradient, a step direction, an objective) is NaN or infinite.
    #[error("{quantity} is not finite")]
    NonFiniteValue {
        /// Which quantity, e.g. "∇_η L".
        quantity: &'static str,
    },
    /// Training produced a non-finite value; the model keeps its last finite state.
    #[error("training stopped at iteration {iteration}: {quantity} is not finite")]
    NonFiniteTraining {
        /// 1-based iteration at which it happened.
        iteration: u64,
        /// Which quantity ("ELBO", "hyperparameter gradient", …).
        quantity: &'static str,
    },
    /// A target value is outside the likelihood's domain.
    #[error("target in row {row} is {value}: {reason}")]
    InvalidTarget {
        /// 0-based row of the first bad target.
        row: usize,
        /// Its value.
        value: f64,
        /// What the likelihood requires.
        reason: &'static str,
    },
    /// A file could not be read.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error, as text (so the error stays `Clone` and comparable).
        reason: String,
    },
    /// A CSV file is malformed: a bad header, a ragged row, a missing or non-numeric cell.
    #[error("{path}, line {line}, column {column}: {reason}")]
    Csv {
        /// The file.
        path: String,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// 1-based column number (0 when the whole line is at fault).
        column: usize,
        /// What is wrong.
        reason: String,
    },
    /// A model file is not a valid svgp model (wrong format or version, shapes, values).
    #[error("{path}: invalid model file: {reason}")]
    InvalidModelFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A binary table (`.svgpb`) is not valid: wrong magic bytes or version, a corrupt header,
    /// a length that does not match the header, a non-finite value, or a target outside the
    /// likelihood's domain (rows are 0-based in the reason).
    #[error("{path}: invalid svgp binary table: {reason}")]
    InvalidBinaryFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A plot could not be drawn or written.
    #[error("{path}: plot not written: {reason}")]
    Plot {
        /// The output file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A CSV cell parsed as NaN or ±inf.
    #[error("{path}, line {line}, column {column}: value is not finite")]
    NonFinite {
        /// The file.
        path: String,
        /// 1-based line number.
        line: u64,
        /// 1-based column number.
        column: usize,
    },
    /// A classification target column holds a single class.
    #[error(
        "{path}: target column {column}: classification needs both classes 0 and 1; it has one"
    )]
    SingleClass {
        /// The file.
        path: String,
        /// The target column (its number and name in a CSV file, its name in a binary table).
        column: String,
    },
    /// A file holds fewer rows than a setting needs (M inducing inputs need M training rows).
    #[error("{path}: {name} = {value} exceeds the number of training rows, {rows} (after the test hold-out)")]
    TooFewRows {
        /// The file.
        path: String,
        /// The setting, as the library names it (e.g. `num_inducing`).
        name: String,
        /// Its value.
        value: u64,
        /// The training rows found.
        rows: u64,
    },
    /// A file holds no data rows.
    #[error("{path}: no data rows")]
    EmptyFile {
        /// The file.
        path: String,
    },
    /// A column named on the command line or in a call is not in the file's header.
    #[error("{path}: no column named {column:?} in the header (columns: {available})")]
    MissingColumn {
        /// The file.
        path: String,
        /// The requested column.
        column: String,
        /// The header's columns, comma-separated.
        available: String,
    },
    /// A shard of a batch evaluated elsewhere (a worker process) failed; `reason` says how.
    #[error("a shard of the batch failed: {reason}")]
    Shard {
        /// What the shard's evaluation reported.
        reason: String,
    },
    /// A setting (a prior, a fixed parameter) names a hyperparameter the model does not have.
    #[error("{setting}: the model has no hyperparameter {name:?}{}; it has {accepted}", match closest.is_empty() { true => String::new(), false => format!(" (closest: {})", closest.join(", ")) })]
    UnknownHyperparameter {
        /// The setting ("priors", "fixed").
        setting: &'static str,
        /// The name given.
        name: String,
        /// The model's names nearest to it (at most three, nearest first; may be empty).
        closest: Vec<String>,
        /// The names the model accepts, Z's as a pattern (`z[i,d] for i < M, d < D`).
        accepted: String,
    },
    /// A kernel expression does not parse, or names a kernel, parameter, column or prior that
    /// does not exist; `column` is the 1-based character column in `expression`.
    #[error(
        "kernel expression {expression:?}, column {column}: expected {expected}, found {found}"
    )]
    KernelExpression {
        /// The expression as given.
        expression: String,
        /// 1-based character column of the problem.
        column: usize,
        /// What was expected there.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A natural-gradient step was refused at every step size allowed.
    ///
    /// `gamma` is the last step size tried; `attempts` how many were tried in all; `pivot` the
    /// failing Cholesky pivot of the last attempt, or `None` when that attempt was a valid
    /// Gaussian refused by the caller's test (it lowered the minibatch ELBO).
    #[error("natural-gradient step refused after {attempts} attempt(s), last γ = {gamma:e}: {}", match pivot { Some(p) => format!("S not positive definite at pivot {p}"), None => "the step lowered the minibatch ELBO".to_string() })]
    StepRejected {
        /// The last step size tried.
        gamma: f64,
        /// Number of step sizes tried (1 when retries are disabled).
        attempts: usize,
        /// The failing Cholesky pivot of the last attempt, if that was the reason.
        pivot: Option<usize>,
    },
}

/// A matrix or vector shape, for error messages: `rows × cols` (a vector has `cols == 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
}

impl Shape {
    /// A `rows × cols` shape.
    pub fn new(rows: usize, cols: usize) -> Self {
        Shape { rows, cols }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}×{}", self.rows, self.cols)
    }
}

/// Returns `ShapeMismatch` unless `len` targets are B×P (B = `rows`, P = `outputs`), stored
/// column-major in a vector of length B·P; the found shape is shown as (len/P)×P when P divides it.
pub(crate) fn check_targets_shape(
    what: &'static str,
    rows: usize,
    outputs: usize,
    len: usize,
) -> Result<()> {
    let found = if outputs > 0 && len.is_multiple_of(outputs) {
        Shape::new(len / outputs, outputs)
    } else {
        Shape::new(len, 1)
    };
    check_shape(what, Shape::new(rows, outputs), found)
}

/// Returns `ShapeMismatch` unless `found == expected`.
pub(crate) fn check_shape(what: &'static str, expected: Shape, found: Shape) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(SvgpError::ShapeMismatch {
            what,
            expected,
            found,
        })
    }
}
