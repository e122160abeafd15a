//! Keeping a second rayon thread awake through an iteration and between iterations, so that the
//! work an iteration hands out (the other half of each `rayon::join`, faer's parallel kernels)
//! is taken at once instead of after a wake-up.
//!
//! An idle rayon thread goes to sleep after some microseconds, and on a 2-vCPU guest its vCPU
//! then halts. Waking it between two joins cost much of what a join at M = 200 saves, and
//! waking it at the start of each iteration made a joined iteration at M = 100 take about
//! 0.40 ms instead of 0.35 when 50 µs passed between iterations (BENCHMARKS.md). Like OpenMP's
//! spin-wait before sleeping, the thread spins instead: through an iteration ([`StayAwake`])
//! and for [`LINGER`] after it ([`Linger`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a rayon thread keeps spinning after an iteration with parallel parts: longer than
/// the gap to the next iteration in a training loop (a batch gathered, observers called: tens
/// of microseconds), short beside any pause.
pub(super) const LINGER: Duration = Duration::from_micros(500);

/// Keeps one of rayon's threads busy for the length of an iteration, taking the work the
/// iteration hands out as soon as it is there. The thread spins only while the iteration runs.
#[derive(Default)]
pub(super) struct StayAwake {
    done: AtomicBool,
}

impl StayAwake {
    /// Runs rayon's pending work, or spins, until released.
    pub(super) fn run(&self) {
        while !self.done.load(Ordering::Acquire) {
            take_work_or_spin();
        }
    }

    /// A guard that releases [`StayAwake::run`] when dropped, on return or unwinding alike (the
    /// scope waits for it).
    pub(super) fn release_on_drop(&self) -> impl Drop + '_ {
        struct Release<'a>(&'a AtomicBool);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Release);
            }
        }
        Release(&self.done)
    }
}

/// At most one task on rayon's pool that spins (taking rayon's pending work, such as the next
/// iteration) until a deadline each [`Linger::extend`] moves to [`LINGER`] from then.
#[derive(Debug)]
pub(super) struct Linger {
    /// The clock's origin.
    base: Instant,
    /// The deadline, in nanoseconds from `base`.
    until: AtomicU64,
    /// Whether a spinning task exists.
    running: AtomicBool,
}

impl Default for Linger {
    fn default() -> Self {
        Linger {
            base: Instant::now(),
            until: AtomicU64::new(0),
            running: AtomicBool::new(false),
        }
    }
}

impl Linger {
    /// Moves the deadline to [`LINGER`] from now, and starts the spinning task on the current
    /// rayon pool unless it runs.
    pub(super) fn extend(self: &Arc<Self>) {
        let until = self.now() + LINGER.as_nanos() as u64;
        self.until.store(until, Ordering::Release);
        if !self.running.swap(true, Ordering::AcqRel) {
            let linger = Arc::clone(self);
            rayon::spawn(move || linger.spin());
        }
    }

    /// Spins until the deadline; then ends, unless an extension came while it was ending (one
    /// that saw it running and started none).
    fn spin(&self) {
        loop {
            while self.now() < self.until.load(Ordering::Acquire) {
                take_work_or_spin();
            }
            self.running.store(false, Ordering::Release);
            let extended = self.now() < self.until.load(Ordering::Acquire);
            if !extended || self.running.swap(true, Ordering::AcqRel) {
                return;
            }
        }
    }

    /// Nanoseconds since `base`.
    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
}

/// Runs one unit of rayon's pending work if there is one, else one spin-loop hint.
fn take_work_or_spin() {
    if rayon::yield_now() != Some(rayon::Yield::Executed) {
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The task spins after an extension, a second extension starts no second task while it
    /// runs, and it ends by itself after the deadline.
    #[test]
    fn lingers_then_ends() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let linger = Arc::new(Linger::default());
        pool.install(|| {
            linger.extend();
            assert!(linger.running.load(Ordering::Acquire));
            linger.extend();
        });
        // The pool's work goes on beside it: the spinning task takes it.
        assert_eq!(pool.install(|| rayon::join(|| 1, || 2)), (1, 2));
        // The task holds the other reference until it has ended.
        let start = Instant::now();
        while Arc::strong_count(&linger) > 1 && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(Arc::strong_count(&linger), 1, "still spinning after 5 s");
        assert!(!linger.running.load(Ordering::Acquire));
    }
}
