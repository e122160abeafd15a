//! Dense linear algebra for `svgp`: Cholesky with typed errors, triangular solves, SPD inverses,
//! Φ(·), log-determinants, symmetrisation (MATH.md §1–4).
//!
//! Every routine is generic over [`Scalar`]: `f64` and forward-mode dual numbers (`Dual64`), so a
//! map such as θ ↦ (m, L) is written once and differentiated by running it on duals (MATH.md §3).
//! The primitives (Cholesky, triangular solves) dispatch per scalar: for `f64` they run through
//! faer on zero-copy views of nalgebra's column-major storage (measured 4–6× faster than
//! nalgebra's own, `benches/linalg.rs`); for duals through a plain generic implementation.
//! Products use nalgebra, which is as fast as faer here for f64.
//!
//! Every routine that reaches a primitive takes a [`Parallelism`] as its last argument: the f64
//! primitives run on faer's parallel kernels where it decides so ([`crate::parallel`]), duals
//! always on the calling thread. The results are bitwise the same under every policy.

mod dual;
mod faer_f64;
mod reduce;
pub(crate) use faer_f64::{lower_gram_in_column_halves, solve_lower_in_column_halves};
pub(crate) use reduce::{all_finite, all_zero, dot};

use crate::error::{Result, SvgpError};
use crate::parallel::Parallelism;
use nalgebra::{DMatrix, RealField};

/// A real scalar the crate's generic maps run on: `f64`, or `num_dual::Dual64` for forward mode.
///
/// Implementors supply the two primitives whose fast versions differ by scalar type.
pub trait Scalar: RealField + Copy {
    /// Overwrites the lower triangle of `a` (N×N, symmetric; only the lower triangle is read) with
    /// its Cholesky factor L and zeroes the strict upper triangle.
    ///
    /// # Errors
    /// `Err(pivot)`: the 0-based index of the first pivot that is not positive (or not finite).
    fn cholesky_in_place(a: &mut DMatrix<Self>, par: Parallelism)
        -> std::result::Result<(), usize>;

    /// Solves op(L) X = B in place (L X = B or Lᵀ X = B); `l` is N×N lower triangular with
    /// non-zero diagonal, `b` is N×K and is overwritten by X.
    fn solve_lower_in_place(l: &DMatrix<Self>, b: &mut DMatrix<Self>, op: Op, par: Parallelism);

    /// Solves X L = B in place: `l` is N×N lower triangular with non-zero diagonal, `b` is K×N
    /// and is overwritten by X = B L⁻¹. Default: Lᵀ Xᵀ = Bᵀ between two transpositions.
    fn solve_right_lower_in_place(l: &DMatrix<Self>, b: &mut DMatrix<Self>, par: Parallelism) {
        let mut bt = b.transpose();
        Self::solve_lower_in_place(l, &mut bt, Op::Transposed, par);
        *b = bt.transpose();
    }

    /// op(A) op(B); shapes must agree.
    fn matmul(
        a: &DMatrix<Self>,
        op_a: Op,
        b: &DMatrix<Self>,
        op_b: Op,
        par: Parallelism,
    ) -> DMatrix<Self>;

    /// op(A) op(B) into `out`, using the structure the factors vouch for (a factor stored
    /// [`Stored::Lower`] is square lower triangular: its strict upper triangle is zero and may
    /// be skipped); [`Part::Lower`] asks for the lower triangle of the square result only, its
    /// strict upper triangle set to zero. `out` is reshaped to the product's shape if it has
    /// another (its buffer is reused when the shape is right). Default: the plain product.
    fn matmul_structured_into(
        a: Factor<'_, Self>,
        b: Factor<'_, Self>,
        part: Part,
        out: &mut DMatrix<Self>,
        par: Parallelism,
    ) {
        *out = Self::matmul(a.matrix, a.op, b.matrix, b.op, par);
        if part == Part::Lower {
            zero_upper_in_place(out);
        }
    }

    /// `out` += A B (A: R×K, B: K×C, `out`: R×C). Default: the plain product, added.
    fn matmul_add_into(
        a: &DMatrix<Self>,
        b: &DMatrix<Self>,
        out: &mut DMatrix<Self>,
        par: Parallelism,
    ) {
        *out += Self::matmul(a, Op::AsIs, b, Op::AsIs, par);
    }

    /// L⁻¹ for a lower-triangular `l` (N×N, non-zero diagonal) into `out` (reshaped to N×N if
    /// needed, else its buffer is reused); lower triangular, strict upper triangle zero.
    /// Default: N triangular solves against the identity.
    fn invert_lower_into(l: &DMatrix<Self>, out: &mut DMatrix<Self>, par: Parallelism) {
        *out = DMatrix::identity(l.nrows(), l.ncols());
        Self::solve_lower_in_place(l, out, Op::AsIs, par);
        zero_upper_in_place(out);
    }

    /// True when no entry of `xs` is NaN or infinite. Default: entry by entry.
    fn all_finite(xs: &[Self]) -> bool {
        xs.iter().all(|x| x.is_finite())
    }
}

/// How a matrix enters a product or a solve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// As stored.
    AsIs,
    /// Transposed.
    Transposed,
}

/// How a factor of a structured product is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Any matrix.
    Dense,
    /// Square lower triangular: its strict upper triangle is zero.
    Lower,
}

/// Which part of a (square) product is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// All of it.
    Full,
    /// The lower triangle, diagonal included; the strict upper triangle is set to zero.
    Lower,
}

/// One factor of [`Scalar::matmul_structured_into`]: a matrix, how it enters the product and how
/// it is stored.
#[derive(Debug, Clone, Copy)]
pub struct Factor<'a, T: Scalar> {
    /// The stored matrix.
    pub matrix: &'a DMatrix<T>,
    /// As stored or transposed.
    pub op: Op,
    /// Dense or lower triangular.
    pub stored: Stored,
}

impl<'a, T: Scalar> Factor<'a, T> {
    /// A dense factor used as stored.
    pub fn dense(matrix: &'a DMatrix<T>) -> Self {
        Factor {
            matrix,
            op: Op::AsIs,
            stored: Stored::Dense,
        }
    }

    /// A lower-triangular factor used as stored.
    pub fn lower(matrix: &'a DMatrix<T>) -> Self {
        Factor {
            matrix,
            op: Op::AsIs,
            stored: Stored::Lower,
        }
    }

    /// The same factor, transposed.
    pub fn t(self) -> Self {
        Factor {
            op: match self.op {
                Op::AsIs => Op::Transposed,
                Op::Transposed => Op::AsIs,
            },
            ..self
        }
    }
}

/// A B (A: R×K, B: K×C).
pub fn matmul<T: Scalar>(a: &DMatrix<T>, b: &DMatrix<T>, par: Parallelism) -> DMatrix<T> {
    T::matmul(a, Op::AsIs, b, Op::AsIs, par)
}

/// Aᵀ B (A: K×R, B: K×C).
pub fn matmul_tn<T: Scalar>(a: &DMatrix<T>, b: &DMatrix<T>, par: Parallelism) -> DMatrix<T> {
    T::matmul(a, Op::Transposed, b, Op::AsIs, par)
}

/// A Bᵀ (A: R×K, B: C×K).
pub fn matmul_nt<T: Scalar>(a: &DMatrix<T>, b: &DMatrix<T>, par: Parallelism) -> DMatrix<T> {
    T::matmul(a, Op::AsIs, b, Op::Transposed, par)
}

/// Lower Cholesky factor L of `a` (N×N, symmetric; only its lower triangle is read), L Lᵀ = a.
///
/// The strict upper triangle of the result is zero and its diagonal is positive.
///
/// # Errors
/// `NotPositiveDefinite { matrix, pivot, jitter: 0 }` at the first non-positive pivot.
pub fn cholesky<T: Scalar>(
    a: &DMatrix<T>,
    matrix: &'static str,
    par: Parallelism,
) -> Result<DMatrix<T>> {
    cholesky_with_jitter(a, 0.0, matrix, par)
}

/// Lower Cholesky factor of `a + jitter·I` (N×N). The jitter (≥ 0) is the caller's explicit
/// choice, never added silently, and it is reported in the error if the factorisation still fails.
///
/// # Errors
/// `NotPositiveDefinite { matrix, pivot, jitter }` at the first non-positive or non-finite pivot.
pub fn cholesky_with_jitter<T: Scalar>(
    a: &DMatrix<T>,
    jitter: f64,
    matrix: &'static str,
    par: Parallelism,
) -> Result<DMatrix<T>> {
    let mut l = DMatrix::zeros(0, 0);
    cholesky_with_jitter_into(a, jitter, matrix, &mut l, par)?;
    Ok(l)
}

/// As [`cholesky_with_jitter`], into `out` (reshaped to N×N if needed, else its buffer is
/// reused); on error `out` holds no factor.
///
/// # Errors
/// As [`cholesky_with_jitter`].
pub fn cholesky_with_jitter_into<T: Scalar>(
    a: &DMatrix<T>,
    jitter: f64,
    matrix: &'static str,
    out: &mut DMatrix<T>,
    par: Parallelism,
) -> Result<()> {
    debug_assert!(a.is_square());
    reshape_buffer(out, a.nrows(), a.ncols());
    out.copy_from(a);
    for i in 0..out.nrows() {
        out[(i, i)] += nalgebra::convert::<f64, T>(jitter);
    }
    T::cholesky_in_place(out, par).map_err(|pivot| SvgpError::NotPositiveDefinite {
        matrix,
        pivot,
        jitter,
    })
}

/// Solves L X = B in place (`l`: N×N lower triangular, `b`: N×K, overwritten by X).
pub fn solve_lower_in_place<T: Scalar>(l: &DMatrix<T>, b: &mut DMatrix<T>, par: Parallelism) {
    T::solve_lower_in_place(l, b, Op::AsIs, par);
}

/// Solves Lᵀ X = B in place (`l`: N×N lower triangular, `b`: N×K, overwritten by X).
pub fn solve_lower_transpose_in_place<T: Scalar>(
    l: &DMatrix<T>,
    b: &mut DMatrix<T>,
    par: Parallelism,
) {
    T::solve_lower_in_place(l, b, Op::Transposed, par);
}

/// Solves X L = B in place (`l`: N×N lower triangular, `b`: K×N, overwritten by X = B L⁻¹).
pub fn solve_right_lower_in_place<T: Scalar>(l: &DMatrix<T>, b: &mut DMatrix<T>, par: Parallelism) {
    T::solve_right_lower_in_place(l, b, par);
}

/// X ← ½ (Y + Yᵀ) with Y = L⁻ᵀ X L⁻¹ (`l`: N×N lower triangular with non-zero diagonal, `x`:
/// N×N): two triangular solves, the second on the transposed view of the first's result, then
/// the exact symmetrisation.
pub fn inverse_congruence_in_place<T: Scalar>(
    l: &DMatrix<T>,
    x: &mut DMatrix<T>,
    par: Parallelism,
) {
    solve_lower_transpose_in_place(l, x, par); // L⁻ᵀ X
    solve_right_lower_in_place(l, x, par); // (L⁻ᵀ X) L⁻¹
    symmetrise_in_place(x);
}

/// L⁻¹ for a lower-triangular `l` (N×N) with non-zero diagonal; the result is lower triangular.
pub fn lower_inverse<T: Scalar>(l: &DMatrix<T>, par: Parallelism) -> DMatrix<T> {
    let mut out = DMatrix::zeros(0, 0);
    T::invert_lower_into(l, &mut out, par);
    out
}

/// (L Lᵀ)⁻¹ = L⁻ᵀ L⁻¹ from a lower Cholesky factor `l` (N×N); the result is exactly symmetric.
/// One triangular inverse and one triangular product of which only the lower half is formed.
pub fn spd_inverse_from_factor<T: Scalar>(l: &DMatrix<T>, par: Parallelism) -> DMatrix<T> {
    let linv = lower_inverse(l, par);
    let mut out = DMatrix::zeros(0, 0);
    let linv_f = Factor::lower(&linv);
    T::matmul_structured_into(linv_f.t(), linv_f, Part::Lower, &mut out, par);
    mirror_lower_in_place(&mut out);
    out
}

/// S = L Lᵀ for a lower-triangular `l` (N×N); the result is exactly symmetric (lower half
/// formed, then mirrored).
pub fn outer_factor<T: Scalar>(l: &DMatrix<T>, par: Parallelism) -> DMatrix<T> {
    let mut s = DMatrix::zeros(0, 0);
    outer_factor_into(l, &mut s, par);
    s
}

/// As [`outer_factor`], into `out` (reshaped to N×N if needed, else its buffer is reused).
pub fn outer_factor_into<T: Scalar>(l: &DMatrix<T>, out: &mut DMatrix<T>, par: Parallelism) {
    lower_of_outer_factor_into(l, out, par);
    mirror_lower_in_place(out);
}

/// The lower triangle of S = L Lᵀ for a lower-triangular `l` (N×N) into `out` (strict upper
/// triangle zero; reshaped to N×N if needed): a third of the flops of a dense product.
pub fn lower_of_outer_factor_into<T: Scalar>(
    l: &DMatrix<T>,
    out: &mut DMatrix<T>,
    par: Parallelism,
) {
    T::matmul_structured_into(
        Factor::lower(l),
        Factor::lower(l).t(),
        Part::Lower,
        out,
        par,
    );
}

/// A B into `out` (A: R×K, B: K×C; `out` reshaped to R×C if needed, else its buffer reused).
pub fn matmul_into<T: Scalar>(
    a: &DMatrix<T>,
    b: &DMatrix<T>,
    out: &mut DMatrix<T>,
    par: Parallelism,
) {
    T::matmul_structured_into(Factor::dense(a), Factor::dense(b), Part::Full, out, par);
}

/// `out` += A B (A: R×K, B: K×C, `out`: R×C): the product accumulated in `out`'s buffer, no
/// temporary.
pub fn matmul_add_into<T: Scalar>(
    a: &DMatrix<T>,
    b: &DMatrix<T>,
    out: &mut DMatrix<T>,
    par: Parallelism,
) {
    T::matmul_add_into(a, b, out, par);
}

/// Lᵀ B for a lower-triangular `l` (N×N) and any `b` (N×K): a triangular product, half the
/// flops of a dense one.
pub fn lower_tr_mul<T: Scalar>(l: &DMatrix<T>, b: &DMatrix<T>, par: Parallelism) -> DMatrix<T> {
    let mut out = DMatrix::zeros(0, 0);
    lower_tr_mul_into(l, b, &mut out, par);
    out
}

/// As [`lower_tr_mul`], into `out` (reshaped to N×K if needed, else its buffer is reused).
pub fn lower_tr_mul_into<T: Scalar>(
    l: &DMatrix<T>,
    b: &DMatrix<T>,
    out: &mut DMatrix<T>,
    par: Parallelism,
) {
    T::matmul_structured_into(Factor::lower(l).t(), Factor::dense(b), Part::Full, out, par);
}

/// L B for a lower-triangular `l` (N×N) and any `b` (N×K), into `out` (reshaped to N×K if
/// needed, else its buffer is reused).
pub fn lower_mul_into<T: Scalar>(
    l: &DMatrix<T>,
    b: &DMatrix<T>,
    out: &mut DMatrix<T>,
    par: Parallelism,
) {
    T::matmul_structured_into(Factor::lower(l), Factor::dense(b), Part::Full, out, par);
}

/// tril(A Bᵀ) for A, B both N×K: only the lower triangle (diagonal included) of the N×N product
/// is computed, the strict upper triangle is zero. With B = A diag(w) and then
/// [`mirror_lower_in_place`] it is the symmetric rank-K update A diag(w) Aᵀ at half the flops.
pub fn lower_of_matmul_nt<T: Scalar>(
    a: &DMatrix<T>,
    b: &DMatrix<T>,
    par: Parallelism,
) -> DMatrix<T> {
    let mut out = DMatrix::zeros(0, 0);
    lower_of_matmul_nt_into(a, b, &mut out, par);
    out
}

/// As [`lower_of_matmul_nt`], into `out` (reshaped to N×N if needed, else its buffer is reused).
pub fn lower_of_matmul_nt_into<T: Scalar>(
    a: &DMatrix<T>,
    b: &DMatrix<T>,
    out: &mut DMatrix<T>,
    par: Parallelism,
) {
    T::matmul_structured_into(
        Factor::dense(a),
        Factor::dense(b).t(),
        Part::Lower,
        out,
        par,
    );
}

/// Gives `buf` the shape R×C: kept as it is (contents unspecified) when it already has it, else
/// replaced by zeros. Reused buffers allocate only when the shape changes.
pub fn reshape_buffer<T: Scalar>(buf: &mut DMatrix<T>, r: usize, c: usize) {
    if buf.shape() != (r, c) {
        *buf = DMatrix::zeros(r, c);
    }
}

/// Copies the strict lower triangle of a square matrix onto its upper triangle (exactly
/// symmetric result).
pub fn mirror_lower_in_place<T: Scalar>(a: &mut DMatrix<T>) {
    a.fill_upper_triangle_with_lower_triangle();
}

/// A ← Aᵀ for a square A, in cache-friendly tiles.
pub fn transpose_in_place<T: Scalar>(a: &mut DMatrix<T>) {
    for_mirror_pairs(a, |s, lower, upper| s.swap(lower, upper));
}

/// Calls `f(buffer, lower, upper)` for every pair of mirror entries (i, j) and (j, i), i > j, of a
/// square column-major matrix, with their buffer positions. Visits them in 32×32 tiles, so that
/// the strided upper-triangle accesses of a tile stay in cache.
fn for_mirror_pairs<T: Scalar>(a: &mut DMatrix<T>, mut f: impl FnMut(&mut [T], usize, usize)) {
    const TILE: usize = 32;
    let n = a.nrows();
    debug_assert_eq!(n, a.ncols(), "a square matrix is needed");
    let s = a.as_mut_slice(); // (i, j) at j·n + i
    for jb in (0..n).step_by(TILE) {
        for ib in (jb..n).step_by(TILE) {
            for j in jb..(jb + TILE).min(n) {
                for i in ib.max(j + 1)..(ib + TILE).min(n) {
                    f(s, j * n + i, i * n + j);
                }
            }
        }
    }
}

/// The lower Cholesky factor of P⁻¹ for SPD `p` (N×N), without forming P⁻¹.
///
/// With J the exchange matrix, chol(J P J) = L′ gives P = U Uᵀ with U = J L′ J upper triangular, so
/// P⁻¹ = U⁻ᵀ U⁻¹ and U⁻ᵀ is lower triangular with positive diagonal: one Cholesky and one
/// triangular inverse, never a factorisation of the (possibly ill-conditioned) inverse.
///
/// # Errors
/// `NotPositiveDefinite { matrix, pivot }`, with `pivot` an index of `p` itself.
pub fn cholesky_of_inverse<T: Scalar>(
    p: &DMatrix<T>,
    matrix: &'static str,
    par: Parallelism,
) -> Result<DMatrix<T>> {
    let (mut work, mut out) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
    cholesky_of_inverse_into(p, matrix, &mut work, &mut out, par)?;
    Ok(out)
}

/// As [`cholesky_of_inverse`], into `out`, with `work` as scratch (both reshaped to N×N if needed,
/// else their buffers are reused); on error `out` holds no factor.
///
/// # Errors
/// As [`cholesky_of_inverse`].
pub fn cholesky_of_inverse_into<T: Scalar>(
    p: &DMatrix<T>,
    matrix: &'static str,
    work: &mut DMatrix<T>,
    out: &mut DMatrix<T>,
    par: Parallelism,
) -> Result<()> {
    let n = p.nrows();
    // J X J reverses both indices, which reverses a square column-major buffer.
    reshape_buffer(work, n, n);
    let reversed = work
        .as_mut_slice()
        .iter_mut()
        .zip(p.as_slice().iter().rev());
    reversed.for_each(|(w, &v)| *w = v);
    T::cholesky_in_place(work, par).map_err(|pivot| SvgpError::NotPositiveDefinite {
        matrix,
        pivot: n - 1 - pivot,
        jitter: 0.0,
    })?;
    // U⁻ᵀ = (J L′ᵀ J)⁻¹ = J (L′⁻¹)ᵀ J: invert L′, transpose, reverse.
    T::invert_lower_into(work, out, par);
    transpose_in_place(out);
    out.as_mut_slice().reverse();
    Ok(())
}

/// Φ(X): the lower triangle of a square X with its diagonal halved (MATH.md §3; Murray 2016),
/// in X's buffer.
pub fn phi<T: Scalar>(mut x: DMatrix<T>) -> DMatrix<T> {
    let half = nalgebra::convert::<f64, T>(0.5);
    zero_upper_in_place(&mut x);
    for j in 0..x.ncols().min(x.nrows()) {
        x[(j, j)] *= half;
    }
    x
}

/// log|L Lᵀ| = 2 Σⱼ log Lⱼⱼ from a lower Cholesky factor `l` (N×N, positive diagonal).
pub fn log_det_from_factor<T: Scalar>(l: &DMatrix<T>) -> T {
    let sum = l.diagonal().iter().fold(T::zero(), |acc, d| acc + d.ln());
    sum + sum
}

/// A ← ½ (A + Aᵀ) for a square A.
pub fn symmetrise_in_place<T: Scalar>(a: &mut DMatrix<T>) {
    let half = nalgebra::convert::<f64, T>(0.5);
    for_mirror_pairs(a, |s, lower, upper| {
        let v = (s[lower] + s[upper]) * half;
        s[lower] = v;
        s[upper] = v;
    });
}

/// True when x > 0; false for zero, negative values and NaN (for pivot checks).
pub fn is_positive<T: RealField>(x: T) -> bool {
    matches!(x.partial_cmp(&T::zero()), Some(std::cmp::Ordering::Greater))
}

/// Sets the strict upper triangle of a square matrix to zero.
pub fn zero_upper_in_place<T: Scalar>(a: &mut DMatrix<T>) {
    let n = a.nrows();
    for (j, col) in a.as_mut_slice().chunks_exact_mut(n.max(1)).enumerate() {
        col[..j.min(n)].fill(T::zero());
    }
}

#[cfg(test)]
mod tests;
