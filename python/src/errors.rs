//! Library errors as Python exceptions: bad data and settings are `ValueError` (the message
//! names the row and column, or the setting), numerical failures `svgp.NumericalError`, model
//! files `svgp.ModelFileError` (a `ValueError`), files `OSError`.

use pyo3::create_exception;
use pyo3::exceptions::{PyArithmeticError, PyOSError, PyValueError};
use pyo3::PyErr;
use svgp::SvgpError;

create_exception!(
    svgp,
    NumericalError,
    PyArithmeticError,
    "A numerical failure: a matrix that is not positive definite, a non-finite ELBO or \
     gradient, or a natural step refused at every step size."
);
create_exception!(
    svgp,
    ModelFileError,
    PyValueError,
    "A model file (or pickled model) that is not a valid svgp model of this format version."
);

/// The Python exception for a library error; a target outside the likelihood's domain is
/// named as the argument `y` holds it ("y row 3 is 2.5: …").
pub fn to_py(e: SvgpError) -> PyErr {
    let message = match &e {
        SvgpError::InvalidTarget { row, value, reason } => {
            format!("y row {row} is {value}: {reason}")
        }
        _ => e.to_string(),
    };
    match e {
        SvgpError::NotPositiveDefinite { .. }
        | SvgpError::NonFiniteValue { .. }
        | SvgpError::NonFiniteTraining { .. }
        | SvgpError::StepRejected { .. } => NumericalError::new_err(message),
        SvgpError::InvalidModelFile { .. } | SvgpError::InvalidBinaryFile { .. } => {
            ModelFileError::new_err(message)
        }
        SvgpError::Io { .. } | SvgpError::Plot { .. } => PyOSError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

/// `ValueError` with this message.
pub fn value_error(message: String) -> PyErr {
    PyValueError::new_err(message)
}
