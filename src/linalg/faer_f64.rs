//! The `f64` primitives of [`Scalar`](super::Scalar) through faer, on zero-copy views of
//! nalgebra's column-major storage.

use super::Scalar;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch, LltError};
use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::DMatrix;

/// A zero-copy faer view of a nalgebra matrix.
pub(crate) fn view(a: &DMatrix<f64>) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(a.as_slice(), a.nrows(), a.ncols())
}

/// A zero-copy mutable faer view of a nalgebra matrix.
pub(crate) fn view_mut(a: &mut DMatrix<f64>) -> MatMut<'_, f64> {
    let (r, c) = (a.nrows(), a.ncols());
    MatMut::from_column_major_slice_mut(a.as_mut_slice(), r, c)
}

impl Scalar for f64 {
    fn cholesky_in_place(a: &mut DMatrix<f64>) -> Result<(), usize> {
        let n = a.nrows();
        // faer tests pivots for positivity; a NaN or ±inf below the diagonal would pass through
        // into a non-finite factor, so refuse it first, naming its column.
        if let Some(col) = (0..n).find(|&j| (j..n).any(|i| !a[(i, j)].is_finite())) {
            return Err(col);
        }
        let req = cholesky_in_place_scratch::<f64>(n, Par::Seq, Default::default());
        let mut mem = MemBuffer::new(req);
        let stack = MemStack::new(&mut mem);
        cholesky_in_place(
            view_mut(a),
            Default::default(),
            Par::Seq,
            stack,
            Default::default(),
        )
        .map_err(|LltError::NonPositivePivot { index }| index)?;
        super::zero_upper_in_place(a);
        Ok(())
    }

    fn solve_lower_in_place(l: &DMatrix<f64>, b: &mut DMatrix<f64>, trans: bool) {
        debug_assert_eq!(l.ncols(), b.nrows());
        if trans {
            solve_upper_triangular_in_place(view(l).transpose(), view_mut(b), Par::Seq);
        } else {
            solve_lower_triangular_in_place(view(l), view_mut(b), Par::Seq);
        }
    }

    fn matmul(a: &DMatrix<f64>, ta: bool, b: &DMatrix<f64>, tb: bool) -> DMatrix<f64> {
        let (lhs, rhs) = (view(a), view(b));
        let lhs = if ta { lhs.transpose() } else { lhs };
        let rhs = if tb { rhs.transpose() } else { rhs };
        debug_assert_eq!(lhs.ncols(), rhs.nrows());
        let mut out = DMatrix::zeros(lhs.nrows(), rhs.ncols());
        faer::linalg::matmul::matmul(view_mut(&mut out), Accum::Replace, lhs, rhs, 1.0, Par::Seq);
        out
    }
}
