//! [`Leaf`]: the kernels given by a closed-form k(x, x′) per pair of points (periodic, rational
//! quadratic, polynomial, constant, white, cosine, categorical), computed over whole matrices.
//!
//! A [`Form`] supplies k(x, x′) and its derivatives from the constrained parameter values; the
//! loops here are generic over it, so each kernel is monomorphised and no call is virtual per
//! entry. Matrices are filled by column chunks ([`bulk::fill_chunks`]) and VJPs summed by chunks
//! in chunk order ([`bulk::map_chunks`]), so results are the same bits under every policy.

use super::leaf::LeafKind;
use super::{bulk, Kernel, KernelSpec};
use crate::error::{check_shape, Result, Shape, SvgpError};
use crate::parallel::Parallelism;
use crate::transform::{check_finite, sigmoid, Positive};
use nalgebra::{DMatrix, DVector};
use std::fmt::Debug;

/// A covariance function given per pair of points.
///
/// `vals` are the constrained parameter values in `LeafKind::param_names` order; `x` and `y`
/// are one point each (D values). Derivatives are with respect to the constrained values and to
/// the first point only.
pub(crate) trait Form: Debug + Clone + Send + Sync + 'static {
    /// The kind, which fixes the parameter names and maps.
    fn kind(&self) -> LeafKind;
    /// The fixed polynomial degree, for the polynomial form only.
    fn degree(&self) -> Option<u32> {
        None
    }
    /// k(x, y).
    fn value(&self, vals: &[f64], x: &[f64], y: &[f64]) -> f64;
    /// Adds k̄ ∂k/∂vals into `vals_bar` and k̄ ∂k(x, y)/∂x into `x_bar` (D).
    fn grad(&self, vals: &[f64], x: &[f64], y: &[f64], k_bar: f64, g: Grads);
    /// k(x, x) on the diagonal of K_ff (default: `value(x, x)`).
    fn diag_value(&self, vals: &[f64], x: &[f64]) -> f64 {
        self.value(vals, x, x)
    }
    /// Adds d̄ ∂k(x, x)/∂vals into `g.vals` (default: `grad(x, x)`, x̄ discarded).
    fn diag_grad(&self, vals: &[f64], x: &[f64], d_bar: f64, g: Grads) {
        self.grad(vals, x, x, d_bar, g);
    }
}

/// Where [`Form::grad`] adds its derivatives: `vals` (one per parameter) and `x` (D).
pub(crate) struct Grads<'a> {
    /// Σ k̄ ∂k/∂(constrained value), one per parameter.
    pub vals: &'a mut [f64],
    /// Σ k̄ ∂k/∂x_d for the first point, D.
    pub x: &'a mut [f64],
}

/// A leaf kernel over D input columns: a [`Form`] with its unconstrained parameters.
///
/// Positive parameters are `floor + softplus(p)` ([`Positive`]); `rho` is `sigmoid(p)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Leaf<F: Form> {
    form: F,
    dim: usize,
    /// Unconstrained values, in `names` order.
    params: Vec<f64>,
    names: Vec<String>,
    transform: Positive,
}

impl<F: Form> Leaf<F> {
    /// A leaf over `dim` ≥ 1 columns from unconstrained `params` (the kind's count for `dim`).
    ///
    /// # Errors
    /// `InvalidParameter` naming `dim` for 0 or `floor` for a bad floor; `ShapeMismatch` for a
    /// wrong parameter count; `InvalidParameter` naming a non-finite parameter.
    pub(crate) fn new(form: F, dim: usize, params: &[f64], transform: Positive) -> Result<Self> {
        if dim == 0 {
            return Err(SvgpError::InvalidParameter {
                name: "dim".into(),
                value: 0.0,
                reason: "a kernel reads at least one input column",
            });
        }
        if !(transform.floor.is_finite() && transform.floor >= 0.0) {
            return Err(SvgpError::InvalidParameter {
                name: "floor".into(),
                value: transform.floor,
                reason: "transform floor must be finite and non-negative",
            });
        }
        let (n, what) = (
            form.kind().num_params(dim),
            "kernel parameters for its kind and dim",
        );
        check_shape(what, Shape::new(n, 1), Shape::new(params.len(), 1))?;
        let names = form.kind().param_names(dim);
        check_finite(&names, params)?;
        Ok(Leaf {
            form,
            dim,
            params: params.to_vec(),
            names,
            transform,
        })
    }

    /// The constrained values, in `param_names` order.
    fn vals(&self) -> Vec<f64> {
        self.names
            .iter()
            .zip(&self.params)
            .map(|(n, &p)| constrain(n, p, self.transform))
            .collect()
    }

    /// d(constrained value)/dp for each unconstrained p.
    fn chain(&self) -> Vec<f64> {
        let rho = |n: &str, p: f64| (n == "rho").then(|| sigmoid(p) * sigmoid(-p));
        self.names
            .iter()
            .zip(&self.params)
            .map(|(n, &p)| rho(n, p).unwrap_or_else(|| self.transform.derivative(p)))
            .collect()
    }

    /// Σ k̄ ∂K/∂p (unconstrained) and X̄₁ (N1×D) in one pass over the N1×N2 pairs.
    fn vjp_both(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k_bar: &DMatrix<f64>,
        par: Parallelism,
    ) -> (DVector<f64>, DMatrix<f64>) {
        debug_assert_eq!(k_bar.shape(), (x1.nrows(), x2.nrows()), "k_bar is N1×N2");
        let (n1, n2, d, np) = (x1.nrows(), x2.nrows(), self.dim, self.params.len());
        let vals = self.vals();
        let (a, b) = (row_major(x1), row_major(x2));
        let partials = bulk::map_chunks(n1, n2, par, |j0, cols| {
            let mut acc = vec![0.0; np + n1 * d]; // [vals_bar, X̄₁ row-major]
            let (vals_bar, x_bar) = acc.split_at_mut(np);
            for j in j0..j0 + cols {
                let y = &b[j * d..(j + 1) * d];
                for (i, xb) in x_bar.chunks_exact_mut(d).enumerate() {
                    let g = Grads {
                        vals: &mut *vals_bar,
                        x: xb,
                    };
                    self.form
                        .grad(&vals, &a[i * d..(i + 1) * d], y, k_bar[(i, j)], g);
                }
            }
            acc
        });
        let mut total = vec![0.0; np + n1 * d];
        for p in &partials {
            total.iter_mut().zip(p).for_each(|(t, v)| *t += v);
        }
        let chain = self.chain();
        let grad = DVector::from_fn(np, |k, _| total[k] * chain[k]);
        (grad, DMatrix::from_row_slice(n1, d, &total[np..]))
    }
}

/// The constrained value of the parameter `name` stored as `p`: sigmoid for `rho`, else the
/// positive transform.
pub(crate) fn constrain(name: &str, p: f64, transform: Positive) -> f64 {
    if name == "rho" {
        sigmoid(p)
    } else {
        transform.forward(p)
    }
}

/// The rows of `x` (N×D) one after another: N·D values, point i at i·D..(i + 1)·D.
fn row_major(x: &DMatrix<f64>) -> Vec<f64> {
    x.transpose().as_slice().to_vec()
}

impl<F: Form> Kernel for Leaf<F> {
    fn input_dim(&self) -> usize {
        self.dim
    }
    fn num_params(&self) -> usize {
        self.params.len()
    }
    fn param_names(&self) -> Vec<String> {
        self.names.clone()
    }
    fn params(&self) -> Vec<f64> {
        self.params.clone()
    }

    fn set_params(&mut self, params: &[f64]) -> Result<()> {
        let (n, found) = (self.params.len(), params.len());
        check_shape(
            "Leaf::set_params params",
            Shape::new(n, 1),
            Shape::new(found, 1),
        )?;
        check_finite(&self.names, params)?;
        self.params.copy_from_slice(params);
        Ok(())
    }

    fn matrix(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>) -> DMatrix<f64> {
        let mut k = DMatrix::zeros(x1.nrows(), x2.nrows()); // N1×N2
        self.matrix_into(x1, x2, &mut k, Parallelism::default());
        k
    }

    fn matrix_into(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k: &mut DMatrix<f64>,
        par: Parallelism,
    ) {
        let (n1, d, vals) = (x1.nrows(), self.dim, self.vals());
        let (a, b) = (row_major(x1), row_major(x2));
        crate::linalg::reshape_buffer(k, n1, x2.nrows()); // N1×N2
        bulk::fill_chunks(k.as_mut_slice(), n1, par, |j0, block| {
            for (c, col) in block.chunks_exact_mut(n1).enumerate() {
                let y = &b[(j0 + c) * d..(j0 + c + 1) * d];
                for (i, v) in col.iter_mut().enumerate() {
                    *v = self.form.value(&vals, &a[i * d..(i + 1) * d], y);
                }
            }
        });
    }

    fn diag(&self, x: &DMatrix<f64>) -> DVector<f64> {
        let (vals, a, d) = (self.vals(), row_major(x), self.dim);
        DVector::from_fn(x.nrows(), |i, _| {
            self.form.diag_value(&vals, &a[i * d..(i + 1) * d])
        })
    }

    fn vjp_params(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k_bar: &DMatrix<f64>,
    ) -> DVector<f64> {
        self.vjp_both(x1, x2, k_bar, Parallelism::default()).0
    }

    fn vjp_diag_params(&self, x: &DMatrix<f64>, diag_bar: &DVector<f64>) -> DVector<f64> {
        debug_assert_eq!(x.nrows(), diag_bar.len(), "diag_bar has length N");
        let (vals, a, d) = (self.vals(), row_major(x), self.dim);
        let mut vals_bar = vec![0.0; self.params.len()];
        let mut scratch = vec![0.0; d];
        for (i, &db) in diag_bar.iter().enumerate() {
            let g = Grads {
                vals: &mut vals_bar,
                x: &mut scratch,
            };
            self.form.diag_grad(&vals, &a[i * d..(i + 1) * d], db, g);
        }
        let chain = self.chain();
        DVector::from_fn(vals_bar.len(), |k, _| vals_bar[k] * chain[k])
    }

    fn vjp_x1(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>, k_bar: &DMatrix<f64>) -> DMatrix<f64> {
        self.vjp_both(x1, x2, k_bar, Parallelism::default()).1
    }

    fn vjp(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k_bar: &DMatrix<f64>,
    ) -> (DVector<f64>, DMatrix<f64>) {
        self.vjp_both(x1, x2, k_bar, Parallelism::default())
    }

    fn vjp_given_matrix(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        _k: &DMatrix<f64>,
        k_bar: &DMatrix<f64>,
        par: Parallelism,
    ) -> (DVector<f64>, DMatrix<f64>) {
        self.vjp_both(x1, x2, k_bar, par)
    }

    fn box_clone(&self) -> Box<dyn Kernel> {
        Box::new(self.clone())
    }

    fn spec(&self) -> KernelSpec {
        let (dim, params, floor) = (self.dim, self.params.clone(), self.transform.floor);
        match (self.form.kind(), self.form.degree()) {
            (LeafKind::Periodic, _) => KernelSpec::Periodic { dim, params, floor },
            (LeafKind::Rq, _) => KernelSpec::RationalQuadratic { dim, params, floor },
            (LeafKind::Constant, _) => KernelSpec::Constant { dim, params, floor },
            (LeafKind::White, _) => KernelSpec::White { dim, params, floor },
            (LeafKind::Cosine, _) => KernelSpec::Cosine { dim, params, floor },
            (LeafKind::Categorical, _) => KernelSpec::Categorical { dim, params, floor },
            (_, degree) => KernelSpec::Polynomial {
                dim,
                degree: degree.unwrap_or(1),
                params,
                floor,
            },
        }
    }
}
