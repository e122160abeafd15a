//! Bulk loops shared by the kernels: scaled squared distances by blocks of columns, and a fixed
//! split of N1×N2 work into chunks of columns run in parallel (rayon) when large enough.
//!
//! The split depends only on N2, never on the thread count, and partial results come back in
//! chunk order: whatever the number of threads, every sum is formed in the same order and the
//! results are bitwise the same.

use nalgebra::DMatrix;
use rayon::prelude::*;

/// Columns of K (points of x2) per chunk.
pub(crate) const CHUNK_COLS: usize = 32;

/// Below this many entries N1·N2 (2¹⁸) the chunks run one after another on the calling thread:
/// measured on the shared 2-core machine, handing smaller kernel matrices to a second thread was
/// slower (M = 100, B = 256 up to M = 200, B = 1024; BENCHMARKS.md). Whether an iteration runs
/// on rayon's pool is decided by [`joins_halves`] and the products' flop threshold.
pub(crate) const PARALLEL_MIN_ENTRIES: usize = 1 << 18;

/// From this many Kuf entries M·B (2¹⁵), an iteration's two independent halves — Kuu's
/// factorisation beside Kuf, the K̄uf branch of the gradient beside the K̄uu one — run on two of
/// rayon's threads (`rayon::join`), with the trainer keeping the second thread awake through the
/// iteration (`optim::awake`); below it, down to [`JOIN_TUNED_MIN_ENTRIES`], as the trainer's
/// timing decides, and below that one after the other (BENCHMARKS.md).
pub(crate) const JOIN_MIN_ENTRIES: usize = 1 << 15;

/// From this many Kuf entries (2¹⁴) up to [`JOIN_MIN_ENTRIES`], joining the halves took about
/// 0.82 and about 1.08 of the serial time on the same 2-vCPU guest, seconds to minutes apart
/// (BENCHMARKS.md); there the trainer times both ways as it trains and joins them while that is
/// the faster (`optim::join`). Results are bitwise the same either way.
pub(crate) const JOIN_TUNED_MIN_ENTRIES: usize = 1 << 14;

/// Whether a batch of `entries` = M·B Kuf entries (per kernel) has its halves joined: always
/// from [`JOIN_MIN_ENTRIES`], and from [`JOIN_TUNED_MIN_ENTRIES`] when `tuned_join` says so.
pub(crate) fn joins_halves(entries: usize, tuned_join: bool) -> bool {
    entries >= JOIN_MIN_ENTRIES || (tuned_join && entries >= JOIN_TUNED_MIN_ENTRIES)
}

/// Whether a batch of B rows with M inducing points forms A = Lz⁻¹ Kuf and W = A Aᵀ in two
/// halves of A's columns, which a joined batch runs side by side: from
/// [`JOIN_TUNED_MIN_ENTRIES`] M·B, while the M²B flops of each stay below the crossover above
/// which faer's parallel kernels split them. It depends on M and B only, so results never depend
/// on the timing or the threads.
pub(crate) fn splits_in_halves(m: usize, b: usize) -> bool {
    m * b >= JOIN_TUNED_MIN_ENTRIES && m * m * b < crate::linalg::PARALLEL_MIN_FLOPS
}

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

/// Whether N1×N2 work is handed to rayon: only when it is large enough and rayon has more than
/// one thread (a one-thread pool would only add a hand-off to its worker).
fn parallel(n1: usize, n2: usize) -> bool {
    n1 * n2 >= PARALLEL_MIN_ENTRIES && rayon::current_num_threads() > 1
}

/// Calls `f(j0, block)` on every chunk of columns of a column-major N1×N2 buffer `data`, where
/// `block` holds columns j0..j0 + block.len()/N1.
pub(crate) fn fill_chunks<F>(data: &mut [f64], n1: usize, f: F)
where
    F: Fn(usize, &mut [f64]) + Sync,
{
    if n1 == 0 || data.is_empty() {
        return;
    }
    let n2 = data.len() / n1;
    let step = n1 * CHUNK_COLS;
    if parallel(n1, n2) {
        data.par_chunks_mut(step)
            .enumerate()
            .for_each(|(c, block)| f(c * CHUNK_COLS, block));
    } else {
        data.chunks_mut(step)
            .enumerate()
            .for_each(|(c, block)| f(c * CHUNK_COLS, block));
    }
}

/// `f(j0, cols)` for every chunk of the N2 columns (j0..j0 + cols), in chunk order.
pub(crate) fn map_chunks<T, F>(n1: usize, n2: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize, usize) -> T + Sync,
{
    let starts = (0..n2).step_by(CHUNK_COLS);
    let chunk = |j0: usize| f(j0, CHUNK_COLS.min(n2 - j0));
    if parallel(n1, n2) {
        starts
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(chunk)
            .collect()
    } else {
        starts.map(chunk).collect()
    }
}
