//! [`LeafKind`]: every leaf covariance function by name, with its constrained parameter names
//! and defaults, a builder from named constrained values, and [`LeafDescription`], the reverse
//! (kind, columns and named constrained values of a built leaf).

use super::categorical::CategoricalForm;
use super::constant::{ConstantForm, WhiteForm};
use super::dot::PolynomialForm;
use super::pairwise::{constrain, Form, Leaf};
use super::periodic::{CosineForm, PeriodicForm};
use super::rq::RqForm;
use super::{Active, Kernel, KernelFamily, KernelSpec, Stationary};
use crate::error::{Result, SvgpError};
use crate::transform::Positive;

/// A leaf covariance function. Constrained parameter names are shared across kinds: `variance`,
/// `lengthscale` (`lengthscale[d]` when there is one per column), `period` (`period[d]`),
/// `alpha`, `offset`, `rho`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeafKind {
    /// Squared exponential, ARD: variance, `lengthscale[d]`.
    Se,
    /// Matérn ½, ARD: variance, `lengthscale[d]`.
    Matern12,
    /// Matérn ³⁄₂, ARD: variance, `lengthscale[d]`.
    Matern32,
    /// Matérn ⁵⁄₂, ARD: variance, `lengthscale[d]`.
    Matern52,
    /// Periodic (exp-sine-squared, GPflow's convention): variance, period, lengthscale.
    Periodic,
    /// Rational quadratic, ARD: variance, `lengthscale[d]`, alpha.
    Rq,
    /// Linear σ² xᵀx′ + c: variance, offset.
    Linear,
    /// Polynomial (σ² xᵀx′ + c)^n of a fixed degree n ≥ 1: variance, offset.
    Polynomial,
    /// Constant c: variance.
    Constant,
    /// White noise σ² δ, on the diagonal of K_ff only: variance.
    White,
    /// Cosine σ² cos(2π Σ_d δ_d/p_d): variance, `period[d]`.
    Cosine,
    /// Categorical (exchangeable) over code columns: variance, rho.
    Categorical,
}

impl LeafKind {
    /// Every kind, in a fixed order.
    pub const ALL: [LeafKind; 12] = [
        LeafKind::Se,
        LeafKind::Matern12,
        LeafKind::Matern32,
        LeafKind::Matern52,
        LeafKind::Periodic,
        LeafKind::Rq,
        LeafKind::Linear,
        LeafKind::Polynomial,
        LeafKind::Constant,
        LeafKind::White,
        LeafKind::Cosine,
        LeafKind::Categorical,
    ];

    /// The kind's name: "se", "matern12", "matern32", "matern52", "periodic", "rq", "linear",
    /// "polynomial", "constant", "white", "cosine" or "categorical".
    pub fn name(self) -> &'static str {
        match self {
            LeafKind::Se => "se",
            LeafKind::Matern12 => "matern12",
            LeafKind::Matern32 => "matern32",
            LeafKind::Matern52 => "matern52",
            LeafKind::Periodic => "periodic",
            LeafKind::Rq => "rq",
            LeafKind::Linear => "linear",
            LeafKind::Polynomial => "polynomial",
            LeafKind::Constant => "constant",
            LeafKind::White => "white",
            LeafKind::Cosine => "cosine",
            LeafKind::Categorical => "categorical",
        }
    }

    /// The kind called `name` (as [`LeafKind::name`] gives it), if any.
    pub fn from_name(name: &str) -> Option<LeafKind> {
        LeafKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The number of parameters of a leaf reading `columns` input columns.
    pub fn num_params(self, columns: usize) -> usize {
        match self {
            LeafKind::Se | LeafKind::Matern12 | LeafKind::Matern32 | LeafKind::Matern52 => {
                1 + columns
            }
            LeafKind::Cosine => 1 + columns,
            LeafKind::Rq => 2 + columns,
            LeafKind::Periodic => 3,
            LeafKind::Linear | LeafKind::Polynomial | LeafKind::Categorical => 2,
            LeafKind::Constant | LeafKind::White => 1,
        }
    }

    /// The constrained parameter names for a leaf reading `columns` input columns, in the
    /// order of the built kernel's `param_names` and `params`.
    pub fn param_names(self, columns: usize) -> Vec<String> {
        let per_column = |name: &'static str| (0..columns).map(move |d| format!("{name}[{d}]"));
        let names: Vec<String> = match self {
            LeafKind::Se | LeafKind::Matern12 | LeafKind::Matern32 | LeafKind::Matern52 => {
                per_column("lengthscale").collect()
            }
            LeafKind::Periodic => vec!["period".into(), "lengthscale".into()],
            LeafKind::Rq => per_column("lengthscale").chain(["alpha".into()]).collect(),
            LeafKind::Linear | LeafKind::Polynomial => vec!["offset".into()],
            LeafKind::Constant | LeafKind::White => vec![],
            LeafKind::Cosine => per_column("period").collect(),
            LeafKind::Categorical => vec!["rho".into()],
        };
        std::iter::once("variance".to_string())
            .chain(names)
            .collect()
    }

    /// The default constrained initial values, in [`LeafKind::param_names`] order: 1 for every
    /// variance, lengthscale, period, alpha and offset, ½ for rho.
    pub fn defaults(self, columns: usize) -> Vec<f64> {
        self.param_names(columns)
            .iter()
            .map(|n| if n == "rho" { 0.5 } else { 1.0 })
            .collect()
    }

    /// A leaf reading `columns` ≥ 1 input columns, from named constrained values (a name left
    /// out takes its default), with the default transforms (floor + softplus with floor 1e-6;
    /// sigmoid for rho). `degree` is the polynomial's fixed degree (default 2) and must be
    /// `None` for every other kind.
    ///
    /// # Errors
    /// `InvalidParameter` naming an unknown or repeated parameter, a value outside its domain
    /// (finite and above the floor; rho in (0, 1)), `degree` given to another kind or equal to
    /// 0, or `columns` = 0.
    pub fn build(
        self,
        columns: usize,
        values: &[(&str, f64)],
        degree: Option<u32>,
    ) -> Result<Box<dyn Kernel>> {
        check_degree(self, degree)?;
        let names = self.param_names(columns);
        let mut constrained = self.defaults(columns);
        for (k, &(name, value)) in values.iter().enumerate() {
            let at = names.iter().position(|n| n == name);
            let repeated = values[..k].iter().any(|(n, _)| *n == name);
            match at {
                Some(i) if !repeated => constrained[i] = value,
                _ => {
                    return Err(SvgpError::InvalidParameter {
                        name: name.to_string(),
                        value,
                        reason: "not a parameter of this kernel kind, or given twice",
                    })
                }
            }
        }
        let transform = super::default_transform();
        let params = names
            .iter()
            .zip(&constrained)
            .map(|(n, &v)| unconstrain(n, v, transform))
            .collect::<Result<Vec<_>>>()?;
        match stationary_family(self) {
            Some(family) => build_stationary(family, &constrained, transform),
            None => from_unconstrained(self, columns, degree, &params, transform),
        }
    }

    /// As [`LeafKind::build`], reading the listed `columns` of N×`input_dim` inputs: the leaf
    /// itself when the columns are 0..`input_dim` in order, else wrapped in [`Active`].
    ///
    /// # Errors
    /// As [`LeafKind::build`] and [`Active::new`].
    pub fn build_on(
        self,
        columns: &[usize],
        input_dim: usize,
        values: &[(&str, f64)],
        degree: Option<u32>,
    ) -> Result<Box<dyn Kernel>> {
        let leaf = self.build(columns.len(), values, degree)?;
        if columns.len() == input_dim && columns.iter().enumerate().all(|(k, &c)| k == c) {
            return Ok(leaf);
        }
        Ok(Box::new(Active::new(columns.to_vec(), input_dim, leaf)?))
    }
}

/// The unconstrained value stored for the constrained `value` of parameter `name`.
fn unconstrain(name: &str, value: f64, transform: Positive) -> Result<f64> {
    if name != "rho" {
        return transform.inverse(name, value);
    }
    if !(value > 0.0 && value < 1.0) {
        return Err(SvgpError::InvalidParameter {
            name: name.into(),
            value,
            reason: "must lie strictly between 0 and 1",
        });
    }
    Ok((value / (1.0 - value)).ln())
}

/// The stationary family of a kind, if it is one.
fn stationary_family(kind: LeafKind) -> Option<KernelFamily> {
    match kind {
        LeafKind::Se => Some(KernelFamily::SquaredExponential),
        LeafKind::Matern12 => Some(KernelFamily::Matern12),
        LeafKind::Matern32 => Some(KernelFamily::Matern32),
        LeafKind::Matern52 => Some(KernelFamily::Matern52),
        _ => None,
    }
}

/// A stationary kernel from constrained [variance, lengthscale[0..D]].
fn build_stationary(
    family: KernelFamily,
    constrained: &[f64],
    transform: Positive,
) -> Result<Box<dyn Kernel>> {
    fn make<P: super::Profile>(c: &[f64], t: Positive) -> Result<Box<dyn Kernel>> {
        Ok(Box::new(Stationary::<P>::with_transform(
            c[0],
            c[1..].to_vec(),
            t,
        )?))
    }
    match family {
        KernelFamily::SquaredExponential => make::<super::SeProfile>(constrained, transform),
        KernelFamily::Matern12 => make::<super::Matern12Profile>(constrained, transform),
        KernelFamily::Matern32 => make::<super::Matern32Profile>(constrained, transform),
        KernelFamily::Matern52 => make::<super::Matern52Profile>(constrained, transform),
    }
}

/// A non-stationary leaf of `kind` over `dim` columns from unconstrained `params`.
///
/// # Errors
/// As [`Leaf::new`]; `InvalidParameter` naming `degree` for a degree of 0, a degree given to a
/// kind without one, or a stationary kind (those are built by [`KernelSpec::Stationary`]).
pub(crate) fn from_unconstrained(
    kind: LeafKind,
    dim: usize,
    degree: Option<u32>,
    params: &[f64],
    transform: Positive,
) -> Result<Box<dyn Kernel>> {
    fn make<F: Form>(f: F, dim: usize, p: &[f64], t: Positive) -> Result<Box<dyn Kernel>> {
        Ok(Box::new(Leaf::new(f, dim, p, t)?))
    }
    check_degree(kind, degree)?;
    match kind {
        LeafKind::Periodic => make(PeriodicForm, dim, params, transform),
        LeafKind::Rq => make(RqForm, dim, params, transform),
        LeafKind::Linear => make(PolynomialForm { degree: 1 }, dim, params, transform),
        LeafKind::Polynomial => {
            let degree = degree.unwrap_or(2);
            make(PolynomialForm { degree }, dim, params, transform)
        }
        LeafKind::Constant => make(ConstantForm, dim, params, transform),
        LeafKind::White => make(WhiteForm, dim, params, transform),
        LeafKind::Cosine => make(CosineForm, dim, params, transform),
        LeafKind::Categorical => make(CategoricalForm, dim, params, transform),
        LeafKind::Se | LeafKind::Matern12 | LeafKind::Matern32 | LeafKind::Matern52 => {
            Err(SvgpError::InvalidParameter {
                name: "kind".into(),
                value: f64::NAN,
                reason: "a stationary kernel is stored as KernelSpec::Stationary",
            })
        }
    }
}

/// Refuses a degree of 0 and a degree given to a kind other than the polynomial.
fn check_degree(kind: LeafKind, degree: Option<u32>) -> Result<()> {
    let refuse = |reason| {
        Err(SvgpError::InvalidParameter {
            name: "degree".into(),
            value: degree.map_or(f64::NAN, f64::from),
            reason,
        })
    };
    match degree {
        Some(_) if kind != LeafKind::Polynomial => {
            refuse("only the polynomial kernel takes a degree")
        }
        Some(0) => refuse("the polynomial degree must be at least 1"),
        _ => Ok(()),
    }
}

/// What a leaf kernel is, as a kernel language reads it back: the kind, the columns of the
/// N×`input_dim` inputs it reads, its named constrained values (in `param_names` order) and
/// the polynomial degree.
#[derive(Debug, Clone, PartialEq)]
pub struct LeafDescription {
    /// The kind (a polynomial of degree 1 reads back as [`LeafKind::Linear`]).
    pub kind: LeafKind,
    /// The columns read, in order.
    pub columns: Vec<usize>,
    /// The full input width D.
    pub input_dim: usize,
    /// (name, constrained value) pairs, in [`LeafKind::param_names`] order.
    pub values: Vec<(String, f64)>,
    /// The fixed degree of a [`LeafKind::Polynomial`], else `None`.
    pub degree: Option<u32>,
}

impl LeafDescription {
    /// The description of `kernel`, or `None` if it is not a leaf (or one leaf under
    /// [`Active`]).
    pub fn of(kernel: &dyn Kernel) -> Option<LeafDescription> {
        LeafDescription::of_spec(&kernel.spec())
    }

    /// As [`LeafDescription::of`], from the kernel's [`KernelSpec`] (`None` also for a leaf
    /// spec whose parameter count does not fit its `dim`).
    pub fn of_spec(spec: &KernelSpec) -> Option<LeafDescription> {
        if let KernelSpec::Active {
            columns,
            input_dim,
            inner,
        } = spec
        {
            let inner = LeafDescription::of_spec(inner)?;
            let columns = inner
                .columns
                .iter()
                .map(|&c| columns.get(c).copied())
                .collect::<Option<_>>()?;
            return Some(LeafDescription {
                columns,
                input_dim: *input_dim,
                ..inner
            });
        }
        let (kind, dim, params, floor, degree) = leaf_parts(spec)?;
        if kind.num_params(dim) != params.len() {
            return None; // not a spec that builds
        }
        let transform = Positive::with_floor(floor);
        let names = kind.param_names(dim);
        let values = names
            .into_iter()
            .zip(params)
            .map(|(n, &p)| {
                let v = constrain(&n, p, transform);
                (n, v)
            })
            .collect();
        Some(LeafDescription {
            kind,
            columns: (0..dim).collect(),
            input_dim: dim,
            values,
            degree,
        })
    }
}

/// (kind, columns, unconstrained params, floor, degree) of a leaf spec.
type LeafParts<'a> = (LeafKind, usize, &'a [f64], f64, Option<u32>);

/// The [`LeafParts`] of a leaf spec; `None` otherwise.
fn leaf_parts(spec: &KernelSpec) -> Option<LeafParts<'_>> {
    use KernelSpec as S;
    Some(match spec {
        S::Stationary {
            family,
            params,
            floor,
        } => {
            let kind = match family {
                KernelFamily::SquaredExponential => LeafKind::Se,
                KernelFamily::Matern12 => LeafKind::Matern12,
                KernelFamily::Matern32 => LeafKind::Matern32,
                KernelFamily::Matern52 => LeafKind::Matern52,
            };
            (kind, params.len().saturating_sub(1), params, *floor, None)
        }
        S::Periodic { dim, params, floor } => (LeafKind::Periodic, *dim, params, *floor, None),
        S::RationalQuadratic { dim, params, floor } => (LeafKind::Rq, *dim, params, *floor, None),
        S::Polynomial {
            dim,
            degree: 1,
            params,
            floor,
        } => (LeafKind::Linear, *dim, params, *floor, None),
        S::Polynomial {
            dim,
            degree,
            params,
            floor,
        } => (LeafKind::Polynomial, *dim, params, *floor, Some(*degree)),
        S::Constant { dim, params, floor } => (LeafKind::Constant, *dim, params, *floor, None),
        S::White { dim, params, floor } => (LeafKind::White, *dim, params, *floor, None),
        S::Cosine { dim, params, floor } => (LeafKind::Cosine, *dim, params, *floor, None),
        S::Categorical { dim, params, floor } => {
            (LeafKind::Categorical, *dim, params, *floor, None)
        }
        S::Sum(_) | S::Product(_) | S::Active { .. } => return None,
    })
}
