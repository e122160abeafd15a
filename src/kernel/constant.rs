//! The constant and white-noise kernels, which ignore where the points are.

use super::leaf::LeafKind;
use super::pairwise::{Form, Grads};

/// Constant: k(x, x′) = c for every pair. Parameter: `variance` c (floor + softplus). Its
/// derivative with respect to the points is zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConstantForm;

impl Form for ConstantForm {
    fn kind(&self) -> LeafKind {
        LeafKind::Constant
    }

    fn value(&self, vals: &[f64], _x: &[f64], _y: &[f64]) -> f64 {
        vals[0]
    }

    fn grad(&self, _vals: &[f64], _x: &[f64], _y: &[f64], k_bar: f64, g: Grads) {
        g.vals[0] += k_bar;
    }
}

/// White noise σ² δ, a term of the diagonal of K_ff only: `diag(x)` is σ² per row, while
/// `matrix(x1, x2)` is all zeros for every pair of inputs, also x1 = x2 (so it never enters K_uu
/// or K_uf, and K_ff built by `matrix` lacks it: a full predictive covariance must add `diag(x)`
/// on its diagonal). Its derivative with respect to the points is zero and σ² learns only
/// through `vjp_diag_params`. Parameter: `variance` σ² (floor + softplus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WhiteForm;

impl Form for WhiteForm {
    fn kind(&self) -> LeafKind {
        LeafKind::White
    }

    fn value(&self, _vals: &[f64], _x: &[f64], _y: &[f64]) -> f64 {
        0.0
    }

    fn grad(&self, _vals: &[f64], _x: &[f64], _y: &[f64], _k_bar: f64, _g: Grads) {}

    fn diag_value(&self, vals: &[f64], _x: &[f64]) -> f64 {
        vals[0]
    }

    fn diag_grad(&self, _vals: &[f64], _x: &[f64], d_bar: f64, g: Grads) {
        g.vals[0] += d_bar;
    }
}
