//! [`Active`]: a kernel that reads only some columns of its inputs.

use super::{Kernel, KernelSpec};
use crate::error::{check_shape, Result, Shape, SvgpError};
use crate::parallel::Parallelism;
use nalgebra::{DMatrix, DVector};
use std::borrow::Cow;

/// k(x, x′) = inner(x\[columns\], x′\[columns\]) on N×D inputs: the inner kernel sees only the
/// listed columns, in the listed order. Its input dimension is the full D, so it enters [`Sum`]
/// and [`Product`] with kernels of other columns; X̄₁ (N1×D) holds the inner kernel's
/// derivative in the listed columns and zeros elsewhere. Parameters and their names are the
/// inner kernel's. When the columns are 0..D in order the inputs are passed on without a copy.
///
/// [`Sum`]: super::Sum
/// [`Product`]: super::Product
#[derive(Debug, Clone)]
pub struct Active {
    /// Distinct, each < `input_dim`, as many as the inner kernel's input dimension.
    columns: Vec<usize>,
    input_dim: usize,
    inner: Box<dyn Kernel>,
    /// `columns` is 0..input_dim in order.
    identity: bool,
}

impl Active {
    /// `inner` applied to `columns` of N×`input_dim` inputs.
    ///
    /// # Errors
    /// `InvalidParameter` naming `columns` if the list is empty, repeats a column or names one
    /// ≥ `input_dim` (the value is the offending column); `ShapeMismatch` if the inner kernel's
    /// input dimension is not `columns.len()`.
    pub fn new(columns: Vec<usize>, input_dim: usize, inner: Box<dyn Kernel>) -> Result<Self> {
        let refuse = |value: f64, reason| SvgpError::InvalidParameter {
            name: "columns".into(),
            value,
            reason,
        };
        if columns.is_empty() {
            return Err(refuse(0.0, "at least one active column is needed"));
        }
        for (k, &c) in columns.iter().enumerate() {
            if c >= input_dim {
                return Err(refuse(c as f64, "an active column must be below input_dim"));
            }
            if columns[..k].contains(&c) {
                return Err(refuse(c as f64, "active columns must be distinct"));
            }
        }
        check_shape(
            "Active inner kernel input columns",
            Shape::new(1, columns.len()),
            Shape::new(1, inner.input_dim()),
        )?;
        let identity =
            columns.len() == input_dim && columns.iter().enumerate().all(|(k, &c)| k == c);
        Ok(Active {
            columns,
            input_dim,
            inner,
            identity,
        })
    }

    /// The columns read, in order.
    pub fn columns(&self) -> &[usize] {
        &self.columns
    }

    /// The kernel applied to those columns.
    pub fn inner(&self) -> &dyn Kernel {
        self.inner.as_ref()
    }

    /// x[:, columns] (N×|columns|), borrowed when the columns are all of 0..D in order.
    fn select<'a>(&self, x: &'a DMatrix<f64>) -> Cow<'a, DMatrix<f64>> {
        if self.identity {
            Cow::Borrowed(x)
        } else {
            Cow::Owned(x.select_columns(self.columns.iter()))
        }
    }

    /// `f` on the selected x1 and x2; when x1 and x2 are one matrix, so are the selections
    /// (kernels form k(X, X) from one triangle when they see the same matrix twice).
    fn on_selected<R>(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        f: impl FnOnce(&DMatrix<f64>, &DMatrix<f64>) -> R,
    ) -> R {
        let a = self.select(x1);
        if std::ptr::eq(x1, x2) {
            f(&a, &a)
        } else {
            f(&a, &self.select(x2))
        }
    }

    /// The inner X̄ (N×|columns|) spread into the listed columns of an N×D matrix.
    fn scatter(&self, bar: DMatrix<f64>) -> DMatrix<f64> {
        if self.identity {
            return bar;
        }
        let mut full = DMatrix::zeros(bar.nrows(), self.input_dim);
        for (k, &c) in self.columns.iter().enumerate() {
            full.column_mut(c).copy_from(&bar.column(k));
        }
        full
    }
}

impl Kernel for Active {
    fn input_dim(&self) -> usize {
        self.input_dim
    }
    fn num_params(&self) -> usize {
        self.inner.num_params()
    }
    fn param_names(&self) -> Vec<String> {
        self.inner.param_names()
    }
    fn params(&self) -> Vec<f64> {
        self.inner.params()
    }
    fn set_params(&mut self, params: &[f64]) -> Result<()> {
        self.inner.set_params(params)
    }

    fn matrix(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>) -> DMatrix<f64> {
        self.on_selected(x1, x2, |a, b| self.inner.matrix(a, b))
    }

    fn matrix_into(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        out: &mut DMatrix<f64>,
        par: Parallelism,
    ) {
        self.on_selected(x1, x2, |a, b| self.inner.matrix_into(a, b, out, par))
    }

    fn diag(&self, x: &DMatrix<f64>) -> DVector<f64> {
        self.inner.diag(&self.select(x))
    }

    fn vjp_params(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k_bar: &DMatrix<f64>,
    ) -> DVector<f64> {
        self.on_selected(x1, x2, |a, b| self.inner.vjp_params(a, b, k_bar))
    }

    fn vjp_diag_params(&self, x: &DMatrix<f64>, diag_bar: &DVector<f64>) -> DVector<f64> {
        self.inner.vjp_diag_params(&self.select(x), diag_bar)
    }

    fn vjp_x1(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>, k_bar: &DMatrix<f64>) -> DMatrix<f64> {
        self.scatter(self.on_selected(x1, x2, |a, b| self.inner.vjp_x1(a, b, k_bar)))
    }

    fn vjp(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k_bar: &DMatrix<f64>,
    ) -> (DVector<f64>, DMatrix<f64>) {
        let (g, bar) = self.on_selected(x1, x2, |a, b| self.inner.vjp(a, b, k_bar));
        (g, self.scatter(bar))
    }

    /// `k` is the inner kernel's matrix too, so it is passed on.
    fn vjp_given_matrix(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k: &DMatrix<f64>,
        k_bar: &DMatrix<f64>,
        par: Parallelism,
    ) -> (DVector<f64>, DMatrix<f64>) {
        let (g, bar) = self.on_selected(x1, x2, |a, b| {
            self.inner.vjp_given_matrix(a, b, k, k_bar, par)
        });
        (g, self.scatter(bar))
    }

    fn box_clone(&self) -> Box<dyn Kernel> {
        Box::new(self.clone())
    }

    fn spec(&self) -> KernelSpec {
        KernelSpec::Active {
            columns: self.columns.clone(),
            input_dim: self.input_dim,
            inner: Box::new(self.inner.spec()),
        }
    }
}
