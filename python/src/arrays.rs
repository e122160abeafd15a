//! numpy arrays in and out: float64 or float32, C- or Fortran-ordered, copied once into the
//! column-major matrices of the library (a straight copy for Fortran-ordered float64).

use crate::errors::value_error;
use nalgebra::{DMatrix, DVector};
use numpy::ndarray::{Array2, Array3};
use numpy::{
    Element, IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray1, PyReadonlyArray2,
};
use pyo3::prelude::*;
use svgp::model::JointOf;

/// A 2-D float array from Python.
#[derive(FromPyObject)]
pub enum Matrix<'py> {
    /// float64.
    F64(PyReadonlyArray2<'py, f64>),
    /// float32.
    F32(PyReadonlyArray2<'py, f32>),
}

/// A 1-D float array from Python.
#[derive(FromPyObject)]
pub enum Vector<'py> {
    /// float64.
    F64(PyReadonlyArray1<'py, f64>),
    /// float32.
    F32(PyReadonlyArray1<'py, f32>),
}

/// An N×D array as an nalgebra matrix.
fn matrix_of<T: Element + Copy + Into<f64>>(a: &PyReadonlyArray2<'_, T>) -> DMatrix<f64> {
    let view = a.as_array();
    let (n, d) = view.dim();
    // The transpose of a Fortran-ordered array is in standard (C) layout: one pass, in order.
    if let Some(columns) = view.t().to_slice() {
        return DMatrix::from_iterator(n, d, columns.iter().map(|&v| v.into()));
    }
    DMatrix::from_fn(n, d, |i, j| view[[i, j]].into())
}

impl Matrix<'_> {
    /// The array as a column-major f64 matrix.
    pub fn to_dmatrix(&self) -> DMatrix<f64> {
        match self {
            Matrix::F64(a) => matrix_of(a),
            Matrix::F32(a) => matrix_of(a),
        }
    }
}

impl Vector<'_> {
    /// The array as an f64 vector.
    pub fn to_dvector(&self) -> DVector<f64> {
        match self {
            Vector::F64(a) => {
                DVector::from_iterator(a.as_array().len(), a.as_array().iter().copied())
            }
            Vector::F32(a) => DVector::from_iterator(
                a.as_array().len(),
                a.as_array().iter().map(|&v| f64::from(v)),
            ),
        }
    }
}

/// A vector as a new numpy array.
pub fn to_numpy<'py>(py: Python<'py>, v: &DVector<f64>) -> Bound<'py, PyArray1<f64>> {
    PyArray1::from_slice(py, v.as_slice())
}

/// A matrix as a new (C-ordered) numpy array of the same shape.
pub fn matrix_to_numpy<'py>(py: Python<'py>, m: &DMatrix<f64>) -> Bound<'py, PyArray2<f64>> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)]).into_pyarray(py)
}

/// K matrices of one shape R×C as a new K×R×C numpy array (covariances: L×N×N).
pub fn stack_to_numpy<'py>(py: Python<'py>, ms: &[DMatrix<f64>]) -> Bound<'py, PyArray3<f64>> {
    let (r, c) = ms.first().map_or((0, 0), |m| m.shape());
    Array3::from_shape_fn((ms.len(), r, c), |(k, i, j)| ms[k][(i, j)]).into_pyarray(py)
}

/// L sample matrices N×S (one per latent, a draw a column) as a new S×N×L numpy array, the
/// layout of GPflow's `predict_f_samples`.
pub fn samples_to_numpy<'py>(py: Python<'py>, ms: &[DMatrix<f64>]) -> Bound<'py, PyArray3<f64>> {
    let (n, s) = ms.first().map_or((0, 0), |m| m.shape());
    Array3::from_shape_fn((s, n, ms.len()), |(k, i, l)| ms[l][(i, k)]).into_pyarray(py)
}

/// What a joint prediction is of: "f" (the latent GPs) or "y" (Gaussian outputs); else a
/// `ValueError` naming `of`.
pub fn joint_of(name: &str) -> PyResult<JointOf> {
    match name {
        "f" => Ok(JointOf::F),
        "y" => Ok(JointOf::Y),
        _ => Err(value_error(format!(
            "of = {name:?}: expected \"f\" or \"y\""
        ))),
    }
}

/// `ValueError` naming the row and column (0-based) of the first non-finite entry of `x`.
pub fn check_finite(name: &str, x: &DMatrix<f64>) -> PyResult<()> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(k) => Err(value_error(format!(
            "{name} row {}, column {} is {}: every entry must be finite (no NaN or inf)",
            k % x.nrows(),
            k / x.nrows(),
            x.as_slice()[k]
        ))),
        None => Ok(()),
    }
}

/// `ValueError` naming the row (0-based) of the first non-finite entry of `y`.
pub fn check_finite_vector(name: &str, y: &DVector<f64>) -> PyResult<()> {
    match y.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(value_error(format!(
            "{name} row {i} is {}: every entry must be finite (no NaN or inf)",
            y[i]
        ))),
        None => Ok(()),
    }
}

/// `ValueError` unless `x` has `d` columns.
pub fn check_columns(name: &str, x: &DMatrix<f64>, d: usize) -> PyResult<()> {
    if x.ncols() != d {
        return Err(value_error(format!(
            "{name} has {} columns; the model was fitted with {d} features",
            x.ncols()
        )));
    }
    Ok(())
}
