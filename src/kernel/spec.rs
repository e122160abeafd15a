//! [`KernelSpec`]: a kernel as data, what model files store, and [`KernelSpec::build`], which
//! rebuilds the kernel exactly from it.

use super::leaf::{self, LeafKind};
use super::{Active, Kernel, KernelFamily, Matern12, Matern32, Matern52, Product};
use super::{SquaredExponential, Sum};
use crate::error::Result;
use crate::transform::Positive;

/// A kernel as data: what model files store.
///
/// Leaf variants carry their unconstrained parameters in the kernel's `param_names` order and
/// the floor of their softplus transform; `dim` is the number of input columns the leaf reads.
/// Variants are only ever added, so every file written before still loads.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelSpec {
    /// A stationary kernel with its unconstrained parameters (variance, then D lengthscales) and
    /// the floor of its softplus transform.
    Stationary {
        /// The family.
        family: KernelFamily,
        /// Unconstrained parameters, 1 + D.
        params: Vec<f64>,
        /// The positive floor.
        floor: f64,
    },
    /// A sum of kernels.
    Sum(Vec<KernelSpec>),
    /// An elementwise product of kernels.
    Product(Vec<KernelSpec>),
    /// Periodic (exp-sine-squared): parameters variance, period, lengthscale.
    Periodic {
        /// Input columns D.
        dim: usize,
        /// Unconstrained parameters, 3.
        params: Vec<f64>,
        /// The positive floor.
        floor: f64,
    },
    /// Rational quadratic: parameters variance, lengthscale[0..D], alpha.
    RationalQuadratic {
        /// Input columns D.
        dim: usize,
        /// Unconstrained parameters, D + 2.
        params: Vec<f64>,
        /// The positive floor.
        floor: f64,
    },
    /// Polynomial (σ² xᵀx′ + c)^degree, the linear kernel when degree = 1: parameters
    /// variance, offset.
    Polynomial {
        /// Input columns D.
        dim: usize,
        /// The fixed degree, ≥ 1.
        degree: u32,
        /// Unconstrained parameters, 2.
        params: Vec<f64>,
        /// The positive floor.
        floor: f64,
    },
    /// Constant: parameter variance (the constant c).
    Constant {
        /// Input columns D.
        dim: usize,
        /// Unconstrained parameters, 1.
        params: Vec<f64>,
        /// The positive floor.
        floor: f64,
    },
    /// White noise, on the diagonal of K_ff only: parameter variance.
    White {
        /// Input columns D.
        dim: usize,
        /// Unconstrained parameters, 1.
        params: Vec<f64>,
        /// The positive floor.
        floor: f64,
    },
    /// Cosine: parameters variance, period[0..D].
    Cosine {
        /// Input columns D.
        dim: usize,
        /// Unconstrained parameters, D + 1.
        params: Vec<f64>,
        /// The positive floor.
        floor: f64,
    },
    /// Categorical (exchangeable): parameters variance, rho (ρ by a sigmoid, no floor).
    Categorical {
        /// Input columns D.
        dim: usize,
        /// Unconstrained parameters, 2.
        params: Vec<f64>,
        /// The positive floor of the variance.
        floor: f64,
    },
    /// A kernel reading only the listed columns of its N×`input_dim` inputs.
    Active {
        /// Columns read, in order (distinct, each < `input_dim`).
        columns: Vec<usize>,
        /// The full input width D.
        input_dim: usize,
        /// The kernel applied to those columns (its input dimension is `columns.len()`).
        inner: Box<KernelSpec>,
    },
}

impl KernelSpec {
    /// The kernel described.
    ///
    /// # Errors
    /// `InvalidParameter` for fewer than 2 stationary parameters, a bad floor, non-finite
    /// values, a polynomial degree of 0 or a zero `dim`; `ShapeMismatch` for parts of different
    /// input dimensions, an empty combination or a parameter count that does not fit `dim`;
    /// `InvalidParameter` naming `columns` for a bad active column list.
    pub fn build(&self) -> Result<Box<dyn Kernel>> {
        let stored = |kind, dim: &usize, params: &Vec<f64>, floor: &f64, degree| {
            leaf::from_unconstrained(kind, *dim, degree, params, Positive::with_floor(*floor))
        };
        match self {
            KernelSpec::Stationary {
                family,
                params,
                floor,
            } => build_stationary(*family, params, *floor),
            KernelSpec::Sum(parts) => Ok(Box::new(Sum::new(
                parts.iter().map(KernelSpec::build).collect::<Result<_>>()?,
            )?)),
            KernelSpec::Product(parts) => Ok(Box::new(Product::new(
                parts.iter().map(KernelSpec::build).collect::<Result<_>>()?,
            )?)),
            KernelSpec::Periodic { dim, params, floor } => {
                stored(LeafKind::Periodic, dim, params, floor, None)
            }
            KernelSpec::RationalQuadratic { dim, params, floor } => {
                stored(LeafKind::Rq, dim, params, floor, None)
            }
            KernelSpec::Polynomial {
                dim,
                degree,
                params,
                floor,
            } => stored(LeafKind::Polynomial, dim, params, floor, Some(*degree)),
            KernelSpec::Constant { dim, params, floor } => {
                stored(LeafKind::Constant, dim, params, floor, None)
            }
            KernelSpec::White { dim, params, floor } => {
                stored(LeafKind::White, dim, params, floor, None)
            }
            KernelSpec::Cosine { dim, params, floor } => {
                stored(LeafKind::Cosine, dim, params, floor, None)
            }
            KernelSpec::Categorical { dim, params, floor } => {
                stored(LeafKind::Categorical, dim, params, floor, None)
            }
            KernelSpec::Active {
                columns,
                input_dim,
                inner,
            } => Ok(Box::new(Active::new(
                columns.clone(),
                *input_dim,
                inner.build()?,
            )?)),
        }
    }
}

/// A stationary kernel of `family` from its stored unconstrained parameters (1 + D).
fn build_stationary(family: KernelFamily, params: &[f64], floor: f64) -> Result<Box<dyn Kernel>> {
    if params.len() < 2 {
        return Err(crate::SvgpError::InvalidParameter {
            name: "kernel params".into(),
            value: params.len() as f64,
            reason: "a stationary kernel needs a variance and at least one lengthscale",
        });
    }
    let d = params.len() - 1;
    let transform = Positive::with_floor(floor);
    // Build with placeholder constrained values, then set the stored unconstrained ones.
    let (one, ones) = (1.0 + floor.abs(), vec![1.0 + floor.abs(); d]);
    let mut k: Box<dyn Kernel> = match family {
        KernelFamily::SquaredExponential => {
            Box::new(SquaredExponential::with_transform(one, ones, transform)?)
        }
        KernelFamily::Matern12 => Box::new(Matern12::with_transform(one, ones, transform)?),
        KernelFamily::Matern32 => Box::new(Matern32::with_transform(one, ones, transform)?),
        KernelFamily::Matern52 => Box::new(Matern52::with_transform(one, ones, transform)?),
    };
    k.set_params(params)?;
    Ok(k)
}
