//! The parallelism policy: one plain value, chosen by the caller and passed down to the model,
//! kernel and linear-algebra code, which own no threshold and make no decision of their own
//! (faer's `Par` is the model).
//!
//! Every decision to run work on more than one thread is taken here, from sizes only: no clock,
//! no environment variable, no thread kept spinning between calls. The decisions change where
//! work runs, never its results: the column split of a product ([`splits_columns`]) and the
//! kernels' chunks ([`CHUNK_COLS`]) depend on the sizes alone, partial results are combined in a
//! fixed order, and faer's parallel products, solves and factorisations equal its sequential
//! ones bit for bit. Results are therefore bitwise the same under every policy and thread count.
//!
//! The thresholds are fixed, measured on 2-vCPU guests (an Intel Xeon and an AMD EPYC:
//! BENCHMARKS.md, Thresholds): below each, handing the work to a second thread cost more than
//! it saved. None depends on timing the running process: an idle thread
//! of the pool sleeps, and waking it costs a few microseconds, which is why small work stays
//! on the calling thread.

use faer::Par;

/// How the library may spread one call's work over threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parallelism {
    /// Everything on the calling thread: for callers that run svgp beside their own parallel
    /// work.
    Sequential,
    /// The threads of the rayon pool the call runs in (the global pool, or the one a
    /// `ThreadPool::install` chose), for work above the fixed thresholds of this module; with a
    /// pool of one thread, as [`Parallelism::Sequential`].
    #[default]
    Threads,
}

/// Columns of a kernel matrix (points of x2) per chunk of the kernels' bulk loops.
pub const CHUNK_COLS: usize = 32;

/// Kernel matrices and VJPs of at least this many entries N1·N2 (2¹⁸) run their chunks on the
/// pool; from 2¹³ instead, M = 50 to 200 ran 2–12 % slower (M = 500 the same).
pub const CHUNK_MIN_ENTRIES: usize = 1 << 18;

/// From this many Kuf entries M·B (2¹⁵), an evaluation's two independent branches — Kuu's
/// factorisation beside Kuf, the K̄uf VJP beside the K̄uu one — run side by side on two threads
/// (`rayon::join`). Below it (M = 100, B = 256 has 2¹⁴·1.56) the hand-off to an idle thread
/// cost about what the second branch saved.
pub const BRANCH_JOIN_MIN_ENTRIES: usize = 1 << 15;

/// From this many Kuf entries M·B (2¹⁴), A = Lz⁻¹ Kuf and W = A Aᵀ are formed in two halves of
/// A's columns (see [`splits_columns`]).
pub const COLUMN_SPLIT_MIN_ENTRIES: usize = 1 << 14;

/// Products and triangular solves of at least this many flops use faer's parallel kernels;
/// smaller ones are faster on the calling thread.
pub const PRODUCT_MIN_FLOPS: usize = 50_000_000;

/// Cholesky factorisations of at least this many flops (N³/3: N ≥ 966) use faer's parallel
/// kernel, which gains only from N ≈ 1000 on two cores.
pub const CHOLESKY_MIN_FLOPS: usize = 300_000_000;

/// Triangular inverses of at least this many flops (N³/3: N ≥ 449) use faer's parallel kernel,
/// which gains about 2 % at N = 450–500 and loses 2–6 % at N ≤ 400.
pub const INVERSE_MIN_FLOPS: usize = 30_000_000;

/// The kind of a faer operation, each with its own crossover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaerOp {
    /// Products and triangular solves ([`PRODUCT_MIN_FLOPS`]).
    Product,
    /// Cholesky factorisations ([`CHOLESKY_MIN_FLOPS`]).
    Cholesky,
    /// Triangular inverses ([`INVERSE_MIN_FLOPS`]).
    Inverse,
}

impl Parallelism {
    /// Whether this policy may use more than one thread here: `Threads` in a pool of several.
    fn threads(self) -> bool {
        self == Parallelism::Threads && rayon::current_num_threads() > 1
    }

    /// Whether a batch of B rows with M inducing points runs its two independent branches (see
    /// [`BRANCH_JOIN_MIN_ENTRIES`]) side by side on two threads.
    pub fn joins_branches(self, m: usize, b: usize) -> bool {
        self.threads() && m * b >= BRANCH_JOIN_MIN_ENTRIES
    }

    /// Whether an iteration at M inducing points and B rows hands any work to other threads
    /// (joined branches, or products of M²·max(B, M) flops on faer's parallel kernels): such an
    /// iteration is best started on one of the pool's threads, so that its hand-offs stay
    /// inside the pool.
    pub fn hands_off_work(self, m: usize, b: usize) -> bool {
        self.joins_branches(m, b) || (self.threads() && m * m * b.max(m) >= PRODUCT_MIN_FLOPS)
    }

    /// Whether N1×N2 kernel work runs its chunks of [`CHUNK_COLS`] columns on the pool.
    pub fn chunks_kernel_work(self, n1: usize, n2: usize) -> bool {
        self.threads() && n1 * n2 >= CHUNK_MIN_ENTRIES
    }

    /// faer's parallelism for an operation of kind `op` and `flops`: all of the pool's threads
    /// from its crossover, else sequential.
    pub fn faer(self, op: FaerOp, flops: usize) -> Par {
        let min_flops = match op {
            FaerOp::Product => PRODUCT_MIN_FLOPS,
            FaerOp::Cholesky => CHOLESKY_MIN_FLOPS,
            FaerOp::Inverse => INVERSE_MIN_FLOPS,
        };
        if self.threads() && flops >= min_flops {
            Par::rayon(0)
        } else {
            Par::Seq
        }
    }

    /// `(a(), b())`: side by side on two of the pool's threads (`rayon::join`) when `join`, else
    /// one after the other on the calling thread.
    pub fn join<RA: Send, RB: Send>(
        join: bool,
        a: impl FnOnce() -> RA + Send,
        b: impl FnOnce() -> RB + Send,
    ) -> (RA, RB) {
        if join {
            rayon::join(a, b)
        } else {
            (a(), b())
        }
    }
}

/// Whether a batch of B rows with M inducing points forms A = Lz⁻¹ Kuf and W = A Aᵀ in two
/// halves of A's columns, each on one thread when the branches are joined: from
/// [`COLUMN_SPLIT_MIN_ENTRIES`] M·B, while the M²B flops of each product stay below
/// [`PRODUCT_MIN_FLOPS`], above which faer's parallel kernels split them instead. It depends on
/// M and B only, never on the policy: W's sum over the two halves is the same under all.
pub fn splits_columns(m: usize, b: usize) -> bool {
    m * b >= COLUMN_SPLIT_MIN_ENTRIES && m * m * b < PRODUCT_MIN_FLOPS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sequential never hands work out; Threads does so only from the thresholds, and only in
    /// a pool of more than one thread.
    #[test]
    fn decisions_follow_the_policy_the_sizes_and_the_pool() {
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        two.install(|| {
            let t = Parallelism::Threads;
            assert!(t.joins_branches(200, 256) && !t.joins_branches(100, 256));
            assert!(t.hands_off_work(500, 100) && !t.hands_off_work(100, 256));
            assert!(t.chunks_kernel_work(512, 512) && !t.chunks_kernel_work(100, 256));
            assert_eq!(t.faer(FaerOp::Cholesky, CHOLESKY_MIN_FLOPS), Par::rayon(0));
            assert_eq!(t.faer(FaerOp::Inverse, INVERSE_MIN_FLOPS - 1), Par::Seq);
            let s = Parallelism::Sequential;
            assert!(!s.joins_branches(1000, 1000) && !s.hands_off_work(1000, 1000));
            assert!(!s.chunks_kernel_work(1000, 1000));
            assert_eq!(s.faer(FaerOp::Product, usize::MAX), Par::Seq);
        });
        one.install(|| {
            let t = Parallelism::Threads;
            assert!(!t.joins_branches(1000, 1000) && !t.chunks_kernel_work(1000, 1000));
            assert_eq!(t.faer(FaerOp::Product, usize::MAX), Par::Seq);
        });
    }

    /// The column split depends on the sizes only: from 2¹⁴ entries, below the product
    /// crossover.
    #[test]
    fn the_column_split_depends_on_the_sizes_only() {
        assert!(splits_columns(100, 256) && !splits_columns(100, 100));
        assert!(!splits_columns(500, 1024)); // M²B = 2.56·10⁸: faer splits it instead
    }
}
