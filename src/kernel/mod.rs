//! Covariance functions k(x, x′) and their vector-Jacobian products (MATH.md §4).
//!
//! Inputs are matrices with one point per row (N×D). Every kernel computes whole matrices in
//! bulk; no virtual call is made per entry. Parameters are unconstrained (see [`Positive`]) and
//! kept in a fixed order that `param_names`, `params`, `set_params` and every `vjp_*` share.
//!
//! Leaves: the stationary kernels ([`Stationary`]: squared exponential, Matérn ½ ³⁄₂ ⁵⁄₂, ARD),
//! and, built by [`LeafKind::build`], periodic, rational quadratic, linear, polynomial, constant,
//! white, cosine and categorical (each documented with its formula and parameter order in its
//! module). [`Active`] restricts any kernel to some input columns; [`Sum`] and [`Product`]
//! combine kernels of one input width.

mod active;
mod bulk;
mod categorical;
mod combine;
mod constant;
mod dot;
pub mod language;
mod leaf;
mod ops;
mod pairwise;
mod periodic;
mod rq;
mod spec;
mod stationary;

pub use active::Active;
pub use combine::{Product, Sum};
pub use leaf::{LeafDescription, LeafKind};
pub use ops::KernelExpr;
pub use spec::KernelSpec;
pub use stationary::{
    Matern12, Matern12Profile, Matern32, Matern32Profile, Matern52, Matern52Profile, Profile,
    SeProfile, SquaredExponential, Stationary,
};

use crate::error::Result;
use crate::parallel::Parallelism;
use crate::transform::Positive;
use nalgebra::{DMatrix, DVector};

/// A covariance function with trainable parameters and reverse-mode derivatives.
///
/// Shapes: `x1` is N1×D, `x2` is N2×D, `k_bar` (the adjoint of k(x1, x2)) is N1×N2.
/// Gradients are with respect to the unconstrained parameters, in `param_names` order.
pub trait Kernel: std::fmt::Debug + Send + Sync {
    /// Input dimension D.
    fn input_dim(&self) -> usize;
    /// Number of unconstrained parameters.
    fn num_params(&self) -> usize;
    /// Parameter names, in the order of `params` (e.g. `variance`, `lengthscale[0]`, …).
    fn param_names(&self) -> Vec<String>;
    /// Unconstrained parameters.
    fn params(&self) -> Vec<f64>;
    /// Sets the unconstrained parameters (length `num_params`).
    ///
    /// # Errors
    /// `ShapeMismatch` for a wrong length, `InvalidParameter` for a non-finite value; on error the
    /// kernel is unchanged.
    fn set_params(&mut self, params: &[f64]) -> Result<()>;
    /// K = k(x1, x2), N1×N2, under the default [`Parallelism`].
    fn matrix(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>) -> DMatrix<f64>;
    /// K = k(x1, x2) into `out`, reshaped to N1×N2 if needed, else its buffer is reused (no
    /// allocation), its work spread over threads as `par` says (the same bits under every
    /// policy). Default: [`Kernel::matrix`], then moved into `out`.
    fn matrix_into(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        out: &mut DMatrix<f64>,
        par: Parallelism,
    ) {
        let _ = par;
        *out = self.matrix(x1, x2);
    }
    /// diag k(x, x), length N.
    fn diag(&self, x: &DMatrix<f64>) -> DVector<f64>;
    /// Σᵢⱼ k̄ᵢⱼ ∂Kᵢⱼ/∂pₖ for each unconstrained parameter pₖ.
    fn vjp_params(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k_bar: &DMatrix<f64>,
    ) -> DVector<f64>;
    /// Σᵢ d̄ᵢ ∂k(xᵢ, xᵢ)/∂pₖ for each unconstrained parameter pₖ (`diag_bar` has length N).
    fn vjp_diag_params(&self, x: &DMatrix<f64>, diag_bar: &DVector<f64>) -> DVector<f64>;
    /// X̄₁ with (X̄₁)ᵢd = Σⱼ k̄ᵢⱼ ∂k(x1ᵢ, x2ⱼ)/∂x1ᵢd, N1×D: the derivative through the first
    /// argument only. For a symmetric K = k(Z, Z) with symmetric adjoint, the total is twice this.
    fn vjp_x1(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>, k_bar: &DMatrix<f64>) -> DMatrix<f64>;
    /// (`vjp_params`, `vjp_x1`) of the same k̄ (N1×N2): lengths num_params and N1×D. Default:
    /// the two calls; a kernel overrides it to share its distances and profile values.
    fn vjp(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k_bar: &DMatrix<f64>,
    ) -> (DVector<f64>, DMatrix<f64>) {
        (self.vjp_params(x1, x2, k_bar), self.vjp_x1(x1, x2, k_bar))
    }
    /// As [`Kernel::vjp`], given `k` = k(x1, x2) (N1×N2) as `matrix` computed it at the current
    /// parameters: a kernel whose derivatives follow from K skips recomputing distances and
    /// exponentials. Its work is spread over threads as `par` says (the same bits under every
    /// policy). Default: ignores `k` and `par`.
    fn vjp_given_matrix(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k: &DMatrix<f64>,
        k_bar: &DMatrix<f64>,
        par: Parallelism,
    ) -> (DVector<f64>, DMatrix<f64>) {
        let _ = (k, par);
        self.vjp(x1, x2, k_bar)
    }
    /// A boxed copy, so kernels can be cloned behind `Box<dyn Kernel>`.
    fn box_clone(&self) -> Box<dyn Kernel>;
    /// A serialisable description from which [`KernelSpec::build`] rebuilds this kernel exactly.
    fn spec(&self) -> KernelSpec;
}

/// A stationary kernel family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelFamily {
    /// Squared exponential (RBF).
    SquaredExponential,
    /// Matérn ½ (exponential).
    Matern12,
    /// Matérn ³⁄₂.
    Matern32,
    /// Matérn ⁵⁄₂.
    Matern52,
}

impl Clone for Box<dyn Kernel> {
    fn clone(&self) -> Self {
        self.box_clone()
    }
}

/// Default transform for kernel parameters (variance, lengthscales): softplus, floor 1e-6.
pub fn default_transform() -> Positive {
    Positive::default()
}
