//! Passes over all rows take memory bounded by a chunk, not by N·M: a global allocator records
//! the peak of the bytes allocated above those live before a full-data ELBO, a prediction and a
//! metrics pass at M = 200, D = 8 (after a warm-up pass), and the peak must stay within CHUNK_BYTES plus the pass's
//! own outputs and M×M matrices, at N = 25 000 and at N = 50 000 alike (one batch of 50 000
//! rows would hold Kuf and A, 2·N·M·8 = 160 MB). This file is its own test binary with a single
//! test, so the tracking allocator and its global switch serve only it.

use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use svgp::kernel::SquaredExponential;
use svgp::likelihood::Gaussian;
use svgp::model::{Svgp, Workspace, CHUNK_BYTES};

/// The system allocator, keeping the bytes live and their peak since the last reset.
struct Tracking;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Adds `bytes` to the live count and raises the peak to it.
fn grow(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::SeqCst) + bytes;
    PEAK.fetch_max(live, Ordering::SeqCst);
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            grow(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::SeqCst);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// The peak bytes allocated by `f` above those live when it started.
fn peak_above_start(f: impl FnOnce()) -> usize {
    let start = LIVE.load(Ordering::SeqCst);
    PEAK.store(start, Ordering::SeqCst);
    f();
    PEAK.load(Ordering::SeqCst) - start
}

/// The peaks of a full-data ELBO, predict_f and evaluate on N seeded rows, M = 200, D = 8.
fn peaks(n: usize) -> [usize; 3] {
    let (m, d) = (200, 8);
    let mut rng = StdRng::seed_from_u64(11);
    let x: DMatrix<f64> = DMatrix::from_fn(n, d, |_, _| rng.random_range(-2.0..2.0));
    let y = DVector::from_fn(n, |i, _| (2.0 * x[(i, 0)]).sin() + x[(i, 1)]);
    let kernel = SquaredExponential::new(1.0, vec![1.5; d]).unwrap();
    let z = x.rows(0, m).into_owned();
    let model = Svgp::new(Box::new(kernel), Box::new(Gaussian::new(0.1).unwrap()), z).unwrap();
    // the computation before chunking, every row one batch, exceeds the bound (so it has teeth)
    let one_batch = peak_above_start(|| {
        let mut ws = Workspace::new();
        ws.set_batch(&model, &x, &y, 1.0).unwrap();
        std::hint::black_box(ws.elbo(&model).unwrap());
    });
    assert!(
        one_batch > 2 * n * m * 8,
        "one batch of {n} rows: peak {one_batch}"
    );
    [
        peak_above_start(|| {
            std::hint::black_box(model.elbo(&x, &y, 1.0).unwrap());
        }),
        peak_above_start(|| {
            std::hint::black_box(model.predict_f(&x).unwrap());
        }),
        peak_above_start(|| {
            std::hint::black_box(model.evaluate(&x, &y).unwrap());
        }),
    ]
}

#[test]
fn full_data_passes_take_a_chunk_of_memory_whatever_n() {
    // the tracker sees a matrix allocated and freed (so a small peak below is not a tracker that
    // tracks nothing)
    let seen = peak_above_start(|| {
        std::hint::black_box(DMatrix::<f64>::zeros(1000, 1000));
    });
    assert!(
        seen >= 8_000_000,
        "the tracker missed an 8 MB matrix: {seen}"
    );
    let names = ["full-data ELBO", "predict_f", "evaluate"];
    // the first passes of a process set up the thread pools and their buffers (once): measured
    // after a warm-up
    peaks(1000);
    let small = peaks(25_000);
    let large = peaks(50_000);
    for (k, name) in names.iter().enumerate() {
        // A chunk's buffers (CHUNK_BYTES), a few M×M matrices (320 KB each) and a copy of
        // the chunk's rows within 8 MB; predict_f's outputs (2·N·8 bytes) on top.
        let outputs = if k == 1 { 2 * 50_000 * 8 } else { 0 };
        let bound = CHUNK_BYTES + 8_000_000 + outputs;
        assert!(
            small[k] <= bound,
            "{name}, N = 25 000: peak {} bytes > {bound}",
            small[k]
        );
        assert!(
            large[k] <= bound,
            "{name}, N = 50 000: peak {} bytes > {bound}",
            large[k]
        );
        // doubling N moves the peak by at most the outputs' growth and 1 MB
        let growth = large[k].saturating_sub(small[k]);
        assert!(
            growth <= outputs / 2 + 1_000_000,
            "{name}: the peak grew by {growth} bytes from N = 25 000 to 50 000"
        );
    }
}
