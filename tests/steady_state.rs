//! Issue 7's "no allocation in the steady-state loop", checked by counting: a global allocator
//! records every allocation of at least the size of the smaller of an M×M and an M×B matrix of
//! f64, and after warm-up a training iteration with natural steps in θ (with and without the
//! ascent check, with the hyperparameters trained or frozen) must make none. Small vectors
//! (length B or M, the hyperparameters) are not counted. This file is its own test binary with a
//! single test, so the counting allocator and its global switch serve only it.

use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use svgp::kernel::SquaredExponential;
use svgp::likelihood::Gaussian;
use svgp::model::Svgp;
use svgp::optim::{AdamConfig, AscentCheck, HyperTraining, NatGrad, QTraining, Schedule, Trainer};
use svgp::variational::Natural;

/// The system allocator, counting allocations of at least `LARGE` bytes while `COUNTING` is set.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LARGE: AtomicUsize = AtomicUsize::new(usize::MAX);
static LARGE_ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) && layout.size() >= LARGE.load(Ordering::Relaxed) {
            LARGE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) && new_size >= LARGE.load(Ordering::Relaxed) {
            LARGE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Large allocations made by `f`.
fn large_allocations(f: impl FnOnce()) -> usize {
    LARGE_ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    f();
    COUNTING.store(false, Ordering::SeqCst);
    LARGE_ALLOCATIONS.load(Ordering::SeqCst)
}

#[test]
fn a_steady_state_iteration_allocates_no_matrix() {
    // M = 40, B = 64, D = 2: an M×M matrix is 12 800 bytes, an M×B one 20 480; the largest small
    // vector (the 1 + 2 + 1 + 80 hyperparameters, B targets) is under 1 000 bytes.
    let (m, b, d) = (40, 64, 2);
    LARGE.store(m * m.min(b) * 8, Ordering::SeqCst);
    // the counter itself sees an M×M matrix (so a zero below is not a counter that counts nothing)
    let seen = large_allocations(|| {
        std::hint::black_box(DMatrix::<f64>::zeros(m, m));
    });
    assert_eq!(seen, 1, "the counter missed an M×M matrix");
    let mut rng = StdRng::seed_from_u64(7);
    let x: DMatrix<f64> = DMatrix::from_fn(4 * b, d, |_, _| rng.random_range(-2.0..2.0));
    let y = DVector::from_fn(4 * b, |i, _| x[(i, 0)].sin() + x[(i, 1)].cos());
    let adam = HyperTraining::Adam(AdamConfig::default());
    let modes = [
        (AscentCheck::Off, adam),
        (AscentCheck::On, adam),
        (AscentCheck::On, HyperTraining::Frozen),
    ];
    for (ascent_check, hyper) in modes {
        let kernel = SquaredExponential::new(1.0, vec![1.0; d]).unwrap();
        let z = x.rows(0, m).into_owned();
        let model = Svgp::new(Box::new(kernel), Box::new(Gaussian::new(0.1).unwrap()), z).unwrap();
        let q_training = QTraining::NatGrad {
            step: Box::new(NatGrad::<Natural>::default()),
            schedule: Schedule::Constant(0.1),
        };
        let mut trainer = Trainer::new(model, q_training, hyper).with_ascent_check(ascent_check);
        let batches: Vec<(DMatrix<f64>, DVector<f64>)> = (0..4)
            .map(|k| (x.rows(k * b, b).into_owned(), y.rows(k * b, b).into_owned()))
            .collect();
        // warm-up: the first iterations size the buffers and fill the spare pool
        for (xb, yb) in &batches {
            trainer.step(xb, yb, 4.0).unwrap();
        }
        let count = large_allocations(|| {
            for (xb, yb) in batches.iter().cycle().take(12) {
                trainer.step(xb, yb, 4.0).unwrap();
            }
        });
        assert_eq!(
            count,
            0,
            "ascent check {ascent_check:?}, hyperparameters {hyper:?}: {count} allocations of ≥ {} bytes in 12 iterations",
            LARGE.load(Ordering::SeqCst)
        );
    }
}
