//! The [`Scalar`](super::Scalar) primitives for forward-mode dual numbers (`num_dual::Dual64`):
//! a plain left-looking Cholesky that reports its failing pivot, and nalgebra's generic
//! triangular solves. Correct for any `RealField`; used only where derivatives are needed, and
//! always on the calling thread (the [`Parallelism`] given is not needed).

use super::{Op, Scalar};
use crate::parallel::Parallelism;
use nalgebra::{DMatrix, RealField};
use num_dual::Dual64;

impl Scalar for Dual64 {
    fn cholesky_in_place(a: &mut DMatrix<Dual64>, _: Parallelism) -> Result<(), usize> {
        cholesky_generic_in_place(a)
    }

    fn solve_lower_in_place(l: &DMatrix<Dual64>, b: &mut DMatrix<Dual64>, op: Op, _: Parallelism) {
        match op {
            Op::AsIs => l.solve_lower_triangular_mut(b),
            Op::Transposed => l.tr_solve_lower_triangular_mut(b),
        };
    }

    fn matmul(
        a: &DMatrix<Dual64>,
        op_a: Op,
        b: &DMatrix<Dual64>,
        op_b: Op,
        _: Parallelism,
    ) -> DMatrix<Dual64> {
        match (op_a, op_b) {
            (Op::AsIs, Op::AsIs) => a * b,
            (Op::Transposed, Op::AsIs) => a.tr_mul(b),
            (Op::AsIs, Op::Transposed) => a * b.transpose(),
            (Op::Transposed, Op::Transposed) => a.transpose() * b.transpose(),
        }
    }
}

/// Left-looking Cholesky for any real field: L Lᵀ = a, lower triangle overwritten, strict upper
/// triangle zeroed. `Err(j)` when pivot j is not positive (a NaN pivot also fails).
fn cholesky_generic_in_place<T: RealField + Copy>(a: &mut DMatrix<T>) -> Result<(), usize> {
    let n = a.nrows();
    for j in 0..n {
        let mut d = a[(j, j)];
        for k in 0..j {
            d -= a[(j, k)] * a[(j, k)];
        }
        if !super::is_positive(d) {
            return Err(j);
        }
        let djj = d.sqrt();
        a[(j, j)] = djj;
        for i in (j + 1)..n {
            let mut s = a[(i, j)];
            for k in 0..j {
                s -= a[(i, k)] * a[(j, k)];
            }
            a[(i, j)] = s / djj;
        }
        for i in 0..j {
            a[(i, j)] = T::zero();
        }
    }
    Ok(())
}
