//! The whitened variational distribution q(v) = N(m, S), S = L Lᵀ, its parametrisations ξ, and
//! natural gradients as one forward-mode Jacobian-vector product (MATH.md §2–3).
//!
//! q is stored as (m, L), the form the model reads. A parametrisation ξ is a type implementing
//! [`Parametrisation`]: its maps θ ↦ ξ and ξ ↦ (m, L), written once and generic over the scalar.
//! Its natural gradient is J v, J = ∂ξ/∂θ, v = ∇_η L: by default one pass of θ ↦ ξ on dual
//! numbers ([`natural_gradient_dual`]); the three built-ins — [`Natural`] θ, [`Expectation`] η
//! and [`MeanCholesky`] (m, L) — override it with matrix-level tangent rules.

mod expectation;
mod kl;
mod mean_chol;
mod natural;
mod spare;

pub use expectation::Expectation;
pub use kl::{prior_kl, prior_kl_grad, prior_kl_grad_l, sub_prior_kl_grad_s, KlGrad};
pub use mean_chol::MeanCholesky;
pub use natural::Natural;
pub use spare::Spare;

use crate::error::{check_shape, Result, Shape, SvgpError};
use crate::linalg::{all_finite, all_zero, Scalar};
use nalgebra::{DMatrix, DVector};
use num_dual::Dual64;

/// The parallelism of the maps on q (θ ↦ (m, L), S, S⁻¹, the natural step's solves): they
/// are reached through [`Parametrisation`] and [`VariationalQ`], whose methods take no policy,
/// so they follow the default one (the same bits under every policy).
pub(crate) const Q_MAPS: crate::parallel::Parallelism = crate::parallel::Parallelism::Threads;

/// Two-part coordinates of q(v): a vector part (length M) and a square matrix part (M×M).
///
/// θ = (θ₁, θ₂), η = (η₁, η₂), (m, L), their tangents, ∇_η L = (∂L/∂η₁, ∂L/∂η₂) and any
/// user-defined ξ all have this shape. Symmetric parts (θ₂, η₂, v₂) are stored in full.
#[derive(Debug, Clone, PartialEq)]
pub struct Coords<T: Scalar = f64> {
    /// The vector part, length M.
    pub vector: DVector<T>,
    /// The matrix part, M×M.
    pub matrix: DMatrix<T>,
}

impl<T: Scalar> Coords<T> {
    /// Pairs a vector (length M) and a matrix (M×M).
    ///
    /// # Errors
    /// `ShapeMismatch` if the matrix is not M×M.
    pub fn new(vector: DVector<T>, matrix: DMatrix<T>) -> Result<Self> {
        let m = vector.len();
        check_shape(
            "coordinates' matrix part",
            Shape::new(m, m),
            Shape::new(matrix.nrows(), matrix.ncols()),
        )?;
        Ok(Coords { vector, matrix })
    }

    /// M, the number of inducing points.
    pub fn num_inducing(&self) -> usize {
        self.vector.len()
    }

    /// self + γ·tangent (same shapes).
    pub fn add_scaled(&self, gamma: T, tangent: &Coords<T>) -> Coords<T> {
        let step = |x: T, t: T| x + t * gamma; // one pass, one new buffer per part
        Coords {
            vector: self.vector.zip_map(&tangent.vector, step),
            matrix: self.matrix.zip_map(&tangent.matrix, step),
        }
    }

    /// True when every entry is finite.
    pub fn is_finite(&self) -> bool {
        T::all_finite(self.vector.as_slice()) && T::all_finite(self.matrix.as_slice())
    }
}

/// The whitened variational distribution q(v) = N(m, L Lᵀ) in its canonical form (m, L).
///
/// Invariants: `l` is M×M lower triangular with a positive diagonal; `m` has length M; all entries
/// finite. Construct with [`VariationalQ::new`], which checks them. S and S⁻¹ are computed at
/// most once per q, on first use, since an iteration needs each several times.
#[derive(Debug, Clone)]
pub struct VariationalQ {
    m: DVector<f64>,
    l: DMatrix<f64>,
    s: std::sync::OnceLock<DMatrix<f64>>,
    s_inv: std::sync::OnceLock<DMatrix<f64>>,
    /// A spare buffer S is formed in on first use, so that forming it allocates nothing.
    s_buffer: SBuffer,
}

/// A buffer waiting to hold S (taken once, when S is formed). A clone of q starts without one.
#[derive(Debug, Default)]
struct SBuffer(std::sync::Mutex<Option<DMatrix<f64>>>);

impl Clone for SBuffer {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl SBuffer {
    /// The buffer, or an empty matrix when there is none.
    fn take(&self) -> DMatrix<f64> {
        let taken = self.0.lock().ok().and_then(|mut b| b.take());
        taken.unwrap_or_else(|| DMatrix::zeros(0, 0))
    }

    /// The buffer if it was never used.
    fn into_inner(self) -> Option<DMatrix<f64>> {
        self.0.into_inner().ok().flatten()
    }
}

impl PartialEq for VariationalQ {
    /// Equal when (m, L) are equal; the cached S and S⁻¹ follow from them.
    fn eq(&self, other: &Self) -> bool {
        self.m == other.m && self.l == other.l
    }
}

impl VariationalQ {
    /// q(v) = N(m, L Lᵀ); `m` length M, `l` M×M lower triangular (its strict upper triangle must
    /// be zero) with positive diagonal.
    ///
    /// # Errors
    /// `ShapeMismatch`; `NotPositiveDefinite { matrix: "L", pivot }` for the first non-positive
    /// diagonal entry; `InvalidParameter` for a non-finite entry or a non-zero upper entry.
    pub fn new(m: DVector<f64>, l: DMatrix<f64>) -> Result<Self> {
        let c = Coords::new(m, l)?;
        let bad = |name: &str, value, reason| SvgpError::InvalidParameter {
            name: name.to_string(),
            value,
            reason,
        };
        // Vectorised checks first; the offending entry is looked for only when one fails.
        let first = |xs: &[f64], wrong: fn(f64) -> bool| xs.iter().copied().find(|&v| wrong(v));
        let not_finite = |v: f64| !v.is_finite();
        if !all_finite(c.vector.as_slice()) {
            let v = first(c.vector.as_slice(), not_finite).unwrap_or(f64::NAN);
            return Err(bad("m", v, "entries of m must be finite"));
        }
        if !all_finite(c.matrix.as_slice()) {
            let v = first(c.matrix.as_slice(), not_finite).unwrap_or(f64::NAN);
            return Err(bad("L", v, "entries of L must be finite"));
        }
        let n = c.num_inducing();
        let mut columns = c.matrix.as_slice().chunks_exact(n.max(1)).enumerate();
        if let Some((j, col)) = columns.find(|(j, col)| !all_zero(&col[..*j])) {
            let v = first(&col[..j], |v| v != 0.0).unwrap_or(f64::NAN);
            return Err(bad("L", v, "L must be lower triangular"));
        }
        if let Some(pivot) = (0..n).find(|&i| c.matrix[(i, i)] <= 0.0) {
            return Err(SvgpError::NotPositiveDefinite {
                matrix: "L",
                pivot,
                jitter: 0.0,
            });
        }
        Ok(VariationalQ {
            m: c.vector,
            l: c.matrix,
            s: Default::default(),
            s_inv: Default::default(),
            s_buffer: Default::default(),
        })
    }

    /// The same q with S⁻¹ (M×M) already known, e.g. −2θ₂ from which L was factored. The caller
    /// vouches that `s_inv` is exactly symmetric and (L Lᵀ)⁻¹ up to rounding.
    pub(crate) fn with_s_inv(self, s_inv: DMatrix<f64>) -> Self {
        let n = s_inv.nrows();
        debug_assert!(
            (0..n).all(|j| (j + 1..n).all(|i| s_inv[(i, j)] == s_inv[(j, i)])),
            "S⁻¹ must be exactly symmetric"
        );
        let s_inv_cell = std::sync::OnceLock::new();
        s_inv_cell.get_or_init(|| s_inv);
        VariationalQ {
            s_inv: s_inv_cell,
            ..self
        }
    }

    /// The same q with `buffer` (any shape, contents ignored) to form S in when it is first
    /// needed, e.g. a spare matrix of a natural step.
    pub(crate) fn with_s_buffer(self, buffer: DMatrix<f64>) -> Self {
        VariationalQ {
            s_buffer: SBuffer(std::sync::Mutex::new(Some(buffer))),
            ..self
        }
    }

    /// S⁻¹ if it is already known (formed, or given when q was built from its precision): a saved
    /// q that keeps it continues bit for bit as the original would.
    pub fn known_s_inv(&self) -> Option<&DMatrix<f64>> {
        self.s_inv.get()
    }

    /// The prior N(0, I) with M inducing points: m = 0, L = I.
    pub fn standard(num_inducing: usize) -> Self {
        VariationalQ {
            m: DVector::zeros(num_inducing),
            l: DMatrix::identity(num_inducing, num_inducing),
            s: Default::default(),
            s_inv: Default::default(),
            s_buffer: Default::default(),
        }
    }

    /// q as (m, L) coordinates.
    pub fn from_mean_chol(c: Coords) -> Result<Self> {
        Self::new(c.vector, c.matrix)
    }

    /// The mean m, length M.
    pub fn m(&self) -> &DVector<f64> {
        &self.m
    }

    /// The lower Cholesky factor L of S, M×M.
    pub fn l(&self) -> &DMatrix<f64> {
        &self.l
    }

    /// S = L Lᵀ, M×M, exactly symmetric.
    pub fn s(&self) -> &DMatrix<f64> {
        self.s.get_or_init(|| {
            let mut s = self.s_buffer.take();
            crate::linalg::outer_factor_into(&self.l, &mut s, Q_MAPS);
            s
        })
    }

    /// S⁻¹ = L⁻ᵀ L⁻¹, M×M, exactly symmetric.
    pub fn s_inv(&self) -> &DMatrix<f64> {
        self.s_inv
            .get_or_init(|| crate::linalg::spd_inverse_from_factor(&self.l, Q_MAPS))
    }

    /// M, the number of inducing points.
    pub fn num_inducing(&self) -> usize {
        self.m.len()
    }

    /// The buffers, for reuse ([`Spare::keep_q`]): m, and L with S and S⁻¹ if they were formed
    /// (or S's unused buffer).
    fn into_buffers(self) -> (DVector<f64>, Vec<DMatrix<f64>>) {
        let matrices = std::iter::once(self.l)
            .chain(self.s.into_inner())
            .chain(self.s_inv.into_inner())
            .chain(self.s_buffer.into_inner());
        (self.m, matrices.collect())
    }

    /// (m, L) as coordinates.
    pub fn mean_chol(&self) -> Coords {
        Coords {
            vector: self.m.clone(),
            matrix: self.l.clone(),
        }
    }
}

/// ∇_η L from ∂L/∂m (length M) and the symmetric ∂L/∂S (M×M, taken as the matrix part), at
/// mean `m` (MATH.md §2): ∂L/∂η₁ = ∂L/∂m − 2 (∂L/∂S) m, ∂L/∂η₂ = ∂L/∂S.
pub fn eta_gradient(dl_dm: &DVector<f64>, dl_ds: DMatrix<f64>, m: &DVector<f64>) -> Coords {
    Coords {
        vector: dl_dm - &dl_ds * m * 2.0,
        matrix: dl_ds,
    }
}

/// A parametrisation ξ of q(v), defined by two maps written once, generic over the scalar.
///
/// Implement `from_theta` and `to_mean_chol`; the natural gradient comes for free as one
/// forward-mode pass of `from_theta` on dual numbers (MATH.md §3). Override `natural_gradient`
/// only with hand-derived tangent rules, and test them against the default.
pub trait Parametrisation {
    /// A short name for reports ("natural", "expectation", …).
    const NAME: &'static str;

    /// The map θ ↦ ξ; θ = (θ₁, θ₂) with θ₂ symmetric negative definite.
    ///
    /// # Errors
    /// `NotPositiveDefinite` if −θ₂ is not positive definite.
    fn from_theta<T: Scalar>(theta: &Coords<T>) -> Result<Coords<T>>;

    /// The map ξ ↦ (m, L), L lower triangular with positive diagonal.
    ///
    /// # Errors
    /// `NotPositiveDefinite` when ξ describes no valid Gaussian (S not positive definite).
    fn to_mean_chol<T: Scalar>(xi: &Coords<T>) -> Result<Coords<T>>;

    /// q at ξ. Default: `to_mean_chol`, then [`VariationalQ::from_mean_chol`]; override where ξ
    /// also gives part of q's cache for free.
    ///
    /// # Errors
    /// As `to_mean_chol` and [`VariationalQ::new`].
    fn to_q(xi: &Coords) -> Result<VariationalQ> {
        VariationalQ::from_mean_chol(Self::to_mean_chol(xi)?)
    }

    /// ξ at q. Default: `from_theta(θ(q))`; override with a direct formula where one exists.
    ///
    /// # Errors
    /// As `from_theta`.
    fn from_q(q: &VariationalQ) -> Result<Coords> {
        Self::from_theta(&Natural::from_q(q)?)
    }

    /// The natural gradient F_ξ⁻¹ ∇_ξ L = J v at q, J = ∂ξ/∂θ, `d_eta` = v = ∇_η L (v₂ symmetric).
    ///
    /// # Errors
    /// As `from_theta`.
    fn natural_gradient(q: &VariationalQ, d_eta: &Coords) -> Result<Coords> {
        natural_gradient_dual::<Self>(q, d_eta)
    }

    /// The two ends of a natural step from q: (ξ(q), natural gradient), in buffers from `spare`
    /// where the parametrisation can use them. Default: `from_q` and `natural_gradient`.
    ///
    /// # Errors
    /// As `from_q` and `natural_gradient`.
    fn step_ends(q: &VariationalQ, d_eta: &Coords, spare: &mut Spare) -> Result<(Coords, Coords)> {
        let _ = spare;
        Ok((Self::from_q(q)?, Self::natural_gradient(q, d_eta)?))
    }

    /// q at ξ + γ·`direction`, built in buffers from `spare` where the parametrisation can.
    /// Default: `to_q` of [`Coords::add_scaled`].
    ///
    /// # Errors
    /// As `to_q`.
    fn to_q_at(
        xi: &Coords,
        gamma: f64,
        direction: &Coords,
        spare: &mut Spare,
    ) -> Result<VariationalQ> {
        let _ = spare;
        Self::to_q(&xi.add_scaled(gamma, direction))
    }
}

/// The natural gradient J v in ξ by one forward-mode pass: θ ↦ ξ evaluated on dual numbers
/// whose tangent part is v = ∇_η L (MATH.md §3). Costs one evaluation of the map on duals; never
/// forms J or a Fisher matrix.
///
/// # Errors
/// As `P::from_theta`.
pub fn natural_gradient_dual<P: Parametrisation + ?Sized>(
    q: &VariationalQ,
    d_eta: &Coords,
) -> Result<Coords> {
    let theta = Natural::from_q(q)?;
    let seeded = Coords {
        vector: theta.vector.zip_map(&d_eta.vector, Dual64::new),
        matrix: theta.matrix.zip_map(&d_eta.matrix, Dual64::new),
    };
    let xi = P::from_theta(&seeded)?;
    Ok(Coords {
        vector: xi.vector.map(|d| d.eps),
        matrix: xi.matrix.map(|d| d.eps),
    })
}

/// S = (−2θ₂)⁻¹ as its lower Cholesky factor L, from θ₂ (M×M symmetric negative definite).
///
/// # Errors
/// `NotPositiveDefinite { matrix: "-2θ₂" }`.
pub fn chol_s_from_theta2<T: Scalar>(theta2: &DMatrix<T>) -> Result<DMatrix<T>> {
    let minus_two: T = nalgebra::convert(-2.0);
    crate::linalg::cholesky_of_inverse(&(theta2 * minus_two), "-2θ₂", Q_MAPS)
}
