//! The categorical (exchangeable) kernel over columns of category codes.

use super::leaf::LeafKind;
use super::pairwise::{Form, Grads};

/// Categorical (exchangeable): k(x, x′) = σ² (ρ + (1 − ρ)·[x = x′]), where [x = x′] is 1 when
/// every one of the D code columns holds the same value in both points (one equality of the
/// whole vector: D columns together name one category) and 0 otherwise. Only equality of the
/// code values counts, so any affine rescaling of a code column (as standardisation does)
/// leaves k unchanged. For a product over columns, multiply one-column categorical kernels on
/// active columns. With ρ ∈ (0, 1) the Gram matrix is σ²ρ 11ᵀ plus σ²(1 − ρ) times a block
/// matrix of ones: positive semi-definite. Parameter order: `variance` σ² (floor + softplus),
/// `rho` ρ (sigmoid). Its derivative with respect to the points is zero, so an optimiser leaves
/// the code columns of Z where they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CategoricalForm;

/// [x = y]: 1 when every coordinate is equal, else 0.
#[inline(always)]
fn same(x: &[f64], y: &[f64]) -> f64 {
    if x.iter().zip(y).all(|(a, b)| a == b) {
        1.0
    } else {
        0.0
    }
}

impl Form for CategoricalForm {
    fn kind(&self) -> LeafKind {
        LeafKind::Categorical
    }

    fn value(&self, vals: &[f64], x: &[f64], y: &[f64]) -> f64 {
        let (var, rho) = (vals[0], vals[1]);
        var * (rho + (1.0 - rho) * same(x, y))
    }

    /// ∂k/∂σ² = ρ + (1 − ρ)e, ∂k/∂ρ = σ²(1 − e), with e = [x = y].
    fn grad(&self, vals: &[f64], x: &[f64], y: &[f64], k_bar: f64, g: Grads) {
        let (var, rho, e) = (vals[0], vals[1], same(x, y));
        g.vals[0] += k_bar * (rho + (1.0 - rho) * e);
        g.vals[1] += k_bar * var * (1.0 - e);
    }
}
