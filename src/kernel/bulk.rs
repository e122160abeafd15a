//! Bulk loops shared by the kernels: scaled squared distances by blocks of columns, and a fixed
//! split of N1×N2 work into chunks of [`CHUNK_COLS`] columns, run on rayon's pool when the
//! [`Parallelism`] says so.
//!
//! The split depends only on N2, never on the policy or the thread count, and partial results
//! come back in chunk order: every sum is formed in the same order and the results are bitwise
//! the same.

use crate::parallel::{Parallelism, CHUNK_COLS};
use nalgebra::DMatrix;
use rayon::prelude::*;

/// r²ᵢⱼ = Σ_d (x1ᵢd − x2ⱼd)²/ℓ_d² for the columns j0..j0 + cols and the rows r0..N1, written
/// into those rows of `out` (N1×cols, column-major; rows above r0 are left as they are), by direct
/// differences (no ‖x‖² + ‖z‖² − 2xzᵀ expansion, whose cancellation would
/// spoil Matérn ½ near r = 0). `x1`: N1×D, `x2`: N2×D, `ls`: the D lengthscales. Always inlined,
/// so that inside [`crate::simd::dispatch`] it runs at the dispatched vector width.
#[inline(always)]
pub(crate) fn sq_dist_block(
    x1: &DMatrix<f64>,
    x2: &DMatrix<f64>,
    ls: &[f64],
    j0: usize,
    r0: usize,
    out: &mut [f64],
) {
    let n1 = x1.nrows();
    debug_assert_eq!(x1.ncols(), ls.len(), "x1 must be N1×D");
    debug_assert_eq!(x2.ncols(), ls.len(), "x2 must be N2×D");
    if n1 <= r0 {
        return;
    }
    if ls.is_empty() {
        out.chunks_exact_mut(n1).for_each(|col| col[r0..].fill(0.0));
        return;
    }
    for (d, &l) in ls.iter().enumerate() {
        let inv_l = 1.0 / l;
        let x1d = &x1.as_slice()[d * n1 + r0..(d + 1) * n1];
        for (c, col) in out.chunks_exact_mut(n1).enumerate() {
            let r2j = &mut col[r0..];
            let zjd = x2[(j0 + c, d)];
            // the innermost loop runs down a column: it vectorises. The first dimension writes
            // t² (what t·t + 0 rounds to), the others add theirs with one rounding.
            if d == 0 {
                for (r, &xid) in r2j.iter_mut().zip(x1d) {
                    let t = (xid - zjd) * inv_l;
                    *r = t * t;
                }
            } else {
                for (r, &xid) in r2j.iter_mut().zip(x1d) {
                    let t = (xid - zjd) * inv_l;
                    *r = t.mul_add(t, *r);
                }
            }
        }
    }
}

/// Calls `f(j0, block)` on every chunk of columns of a column-major N1×N2 buffer `data`, where
/// `block` holds columns j0..j0 + block.len()/N1; on the pool when `par` chunks N1×N2 work.
pub(crate) fn fill_chunks<F>(data: &mut [f64], n1: usize, par: Parallelism, f: F)
where
    F: Fn(usize, &mut [f64]) + Sync,
{
    if n1 == 0 || data.is_empty() {
        return;
    }
    let n2 = data.len() / n1;
    let step = n1 * CHUNK_COLS;
    if par.chunks_kernel_work(n1, n2) {
        data.par_chunks_mut(step)
            .enumerate()
            .for_each(|(c, block)| f(c * CHUNK_COLS, block));
    } else {
        data.chunks_mut(step)
            .enumerate()
            .for_each(|(c, block)| f(c * CHUNK_COLS, block));
    }
}

/// `f(j0, cols)` for every chunk of the N2 columns (j0..j0 + cols), in chunk order; on the pool
/// when `par` chunks N1×N2 work.
pub(crate) fn map_chunks<T, F>(n1: usize, n2: usize, par: Parallelism, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize, usize) -> T + Sync,
{
    let starts = (0..n2).step_by(CHUNK_COLS);
    let chunk = |j0: usize| f(j0, CHUNK_COLS.min(n2 - j0));
    if par.chunks_kernel_work(n1, n2) {
        starts
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(chunk)
            .collect()
    } else {
        starts.map(chunk).collect()
    }
}
