//! The `f64` primitives of [`Scalar`](super::Scalar) through faer, on zero-copy views of
//! nalgebra's column-major storage. Every faer call is followed by
//! [`crate::simd::clear_upper_state`]: faer's AVX-512 kernels leave the vector registers' upper
//! halves dirty, which slows every later SSE instruction. Each primitive runs on faer's parallel
//! kernels as the [`Parallelism`] it is given decides ([`crate::parallel`]).

use super::{Factor, Op, Part, Scalar, Stored};
use crate::parallel::{FaerOp, Parallelism};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch, LltError};
use faer::linalg::matmul::triangular::BlockStructure;
use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::DMatrix;

/// A zero-copy faer view of a nalgebra matrix.
pub(crate) fn view(a: &DMatrix<f64>) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(a.as_slice(), a.nrows(), a.ncols())
}

/// op(A) as a faer view: A or Aᵀ, no copy.
fn op_view(a: &DMatrix<f64>, op: Op) -> MatRef<'_, f64> {
    match op {
        Op::AsIs => view(a),
        Op::Transposed => view(a).transpose(),
    }
}

/// A zero-copy mutable faer view of a nalgebra matrix.
pub(crate) fn view_mut(a: &mut DMatrix<f64>) -> MatMut<'_, f64> {
    let (r, c) = (a.nrows(), a.ncols());
    MatMut::from_column_major_slice_mut(a.as_mut_slice(), r, c)
}

impl Scalar for f64 {
    fn cholesky_in_place(a: &mut DMatrix<f64>, par: Parallelism) -> Result<(), usize> {
        let n = a.nrows();
        // faer tests pivots for positivity; a NaN or ±inf below the diagonal would pass through
        // into a non-finite factor, so refuse it first, naming its column.
        let columns = a.as_slice().chunks_exact(n.max(1)).enumerate();
        if let Some((col, _)) = columns
            .into_iter()
            .find(|(j, col)| !super::all_finite(&col[*j..]))
        {
            return Err(col);
        }
        let par = par.faer(FaerOp::Cholesky, n * n * n / 3);
        let req = cholesky_in_place_scratch::<f64>(n, par, Default::default());
        let mut mem = MemBuffer::new(req);
        let stack = MemStack::new(&mut mem);
        let factored = cholesky_in_place(
            view_mut(a),
            Default::default(),
            par,
            stack,
            Default::default(),
        );
        crate::simd::clear_upper_state();
        factored.map_err(|LltError::NonPositivePivot { index }| index)?;
        super::zero_upper_in_place(a);
        Ok(())
    }

    fn solve_lower_in_place(l: &DMatrix<f64>, b: &mut DMatrix<f64>, op: Op, par: Parallelism) {
        debug_assert_eq!(l.ncols(), b.nrows());
        let par = par.faer(FaerOp::Product, l.nrows() * l.nrows() * b.ncols()); // N²K flops
        match op {
            Op::Transposed => {
                solve_upper_triangular_in_place(view(l).transpose(), view_mut(b), par)
            }
            Op::AsIs => solve_lower_triangular_in_place(view(l), view_mut(b), par),
        }
        crate::simd::clear_upper_state();
    }

    fn solve_right_lower_in_place(l: &DMatrix<f64>, b: &mut DMatrix<f64>, par: Parallelism) {
        debug_assert_eq!(l.nrows(), b.ncols());
        // X L = B is Lᵀ Xᵀ = Bᵀ, solved on the transposed view of B's buffer: no transposition
        let par = par.faer(FaerOp::Product, l.nrows() * l.nrows() * b.nrows()); // N²K flops
        solve_upper_triangular_in_place(view(l).transpose(), view_mut(b).transpose_mut(), par);
        crate::simd::clear_upper_state();
    }

    fn matmul(
        a: &DMatrix<f64>,
        op_a: Op,
        b: &DMatrix<f64>,
        op_b: Op,
        par: Parallelism,
    ) -> DMatrix<f64> {
        let (lhs, rhs) = (op_view(a, op_a), op_view(b, op_b));
        debug_assert_eq!(lhs.ncols(), rhs.nrows());
        let mut out = DMatrix::zeros(lhs.nrows(), rhs.ncols());
        let par = par.faer(FaerOp::Product, 2 * lhs.nrows() * lhs.ncols() * rhs.ncols());
        faer::linalg::matmul::matmul(view_mut(&mut out), Accum::Replace, lhs, rhs, 1.0, par);
        crate::simd::clear_upper_state();
        out
    }

    fn matmul_add_into(
        a: &DMatrix<f64>,
        b: &DMatrix<f64>,
        out: &mut DMatrix<f64>,
        par: Parallelism,
    ) {
        debug_assert_eq!(
            (a.ncols(), a.nrows(), b.ncols()),
            (b.nrows(), out.nrows(), out.ncols())
        );
        let par = par.faer(FaerOp::Product, 2 * a.nrows() * a.ncols() * b.ncols());
        faer::linalg::matmul::matmul(view_mut(out), Accum::Add, view(a), view(b), 1.0, par);
        crate::simd::clear_upper_state();
    }

    fn matmul_structured_into(
        a: Factor<'_, f64>,
        b: Factor<'_, f64>,
        part: Part,
        out: &mut DMatrix<f64>,
        par: Parallelism,
    ) {
        // The structure of op(X): a lower-triangular X is upper triangular once transposed.
        let structure = |f: &Factor<'_, f64>| match (f.stored, f.op) {
            (Stored::Dense, _) => BlockStructure::Rectangular,
            (Stored::Lower, Op::AsIs) => BlockStructure::TriangularLower,
            (Stored::Lower, Op::Transposed) => BlockStructure::TriangularUpper,
        };
        let (lhs, rhs) = (op_view(a.matrix, a.op), op_view(b.matrix, b.op));
        debug_assert_eq!(lhs.ncols(), rhs.nrows());
        super::reshape_buffer(out, lhs.nrows(), rhs.ncols());
        // A triangular operand or result halves the dense 2·R·K·C flops.
        let dense = 2 * lhs.nrows() * lhs.ncols() * rhs.ncols();
        let structured = a.stored == Stored::Lower || b.stored == Stored::Lower;
        let par = par.faer(
            FaerOp::Product,
            if structured || part == Part::Lower {
                dense / 2
            } else {
                dense
            },
        );
        let dst = match part {
            Part::Lower => BlockStructure::TriangularLower,
            Part::Full => BlockStructure::Rectangular,
        };
        faer::linalg::matmul::triangular::matmul(
            view_mut(out),
            dst,
            Accum::Replace,
            lhs,
            structure(&a),
            rhs,
            structure(&b),
            1.0,
            par,
        );
        crate::simd::clear_upper_state();
        if part == Part::Lower {
            // faer writes the lower triangle only; a reused buffer's upper triangle is stale
            super::zero_upper_in_place(out);
        }
    }

    fn invert_lower_into(l: &DMatrix<f64>, out: &mut DMatrix<f64>, par: Parallelism) {
        super::reshape_buffer(out, l.nrows(), l.ncols());
        // Writes the lower triangle only; a reused buffer's upper triangle is cleared after.
        faer::linalg::triangular_inverse::invert_lower_triangular(
            view_mut(out),
            view(l),
            par.faer(FaerOp::Inverse, l.nrows().pow(3) / 3),
        );
        crate::simd::clear_upper_state();
        super::zero_upper_in_place(out);
    }

    fn all_finite(xs: &[f64]) -> bool {
        super::all_finite(xs)
    }
}

/// A ← L⁻¹ A (`l`: M×M lower triangular with non-zero diagonal, `a`: M×B) in two halves of A's
/// columns, each sequential, side by side on two of rayon's threads when `join`: the same
/// results either way.
pub(crate) fn solve_lower_in_column_halves(l: &DMatrix<f64>, a: &mut DMatrix<f64>, join: bool) {
    debug_assert_eq!(l.ncols(), a.nrows());
    let half = a.ncols() / 2;
    let (left, right) = view_mut(a).split_at_col_mut(half);
    let solve = |half: MatMut<'_, f64>| {
        solve_lower_triangular_in_place(view(l), half, Par::Seq);
        crate::simd::clear_upper_state();
    };
    Parallelism::join(join, || solve(left), || solve(right));
}

/// The lower triangle of A Aᵀ (`a`: M×B) into `out` (M×M, reshaped if needed; strict upper
/// triangle zero) as the sum of the products of A's two column halves, each sequential, side by
/// side on two of rayon's threads when `join` (`scratch`: M×M, contents ignored): the same
/// results either way.
pub(crate) fn lower_gram_in_column_halves(
    a: &DMatrix<f64>,
    out: &mut DMatrix<f64>,
    scratch: &mut DMatrix<f64>,
    join: bool,
) {
    let m = a.nrows();
    super::reshape_buffer(out, m, m);
    super::reshape_buffer(scratch, m, m);
    let (left, right) = view(a).split_at_col(a.ncols() / 2);
    let lower_gram = |half: MatRef<'_, f64>, dst: &mut DMatrix<f64>| {
        faer::linalg::matmul::triangular::matmul(
            view_mut(dst),
            BlockStructure::TriangularLower,
            Accum::Replace,
            half,
            BlockStructure::Rectangular,
            half.transpose(),
            BlockStructure::Rectangular,
            1.0,
            Par::Seq,
        );
        crate::simd::clear_upper_state();
    };
    Parallelism::join(
        join,
        || lower_gram(left, out),
        || lower_gram(right, scratch),
    );
    let columns = out.as_mut_slice().chunks_exact_mut(m.max(1));
    for (j, (o, s)) in columns
        .zip(scratch.as_slice().chunks_exact(m.max(1)))
        .enumerate()
    {
        o[..j].fill(0.0); // faer writes the lower triangle only
        o[j..].iter_mut().zip(&s[j..]).for_each(|(o, s)| *o += s);
    }
}
