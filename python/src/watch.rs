//! What watches a fit while the GIL is released: an observer that records every iteration and,
//! between iterations, briefly takes the GIL back to let Python deliver signals (Ctrl-C), call
//! the user's callback and draw the progress line. A signal or a callback's exception sets the
//! trainer's interrupt flag, so training stops at the next iteration boundary with the model
//! at its last accepted state; the exception is raised once the fitted model is kept.

use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use svgp::model::Svgp;
use svgp::optim::{IterReport, Observer, StopReason};

/// How often, at most, the GIL is taken back to check for signals.
const SIGNAL_PERIOD: Duration = Duration::from_millis(50);
/// How often, at most, the progress line is redrawn.
const PROGRESS_PERIOD: Duration = Duration::from_millis(200);

/// Interrupt flags no fit is using. The trainer wants a `&'static AtomicBool`; each flag is
/// allocated once and reused, so the memory held is one byte per fit running at the same time.
static FREE_FLAGS: Mutex<Vec<&'static AtomicBool>> = Mutex::new(Vec::new());

/// An interrupt flag owned by one fit, returned to the pool when dropped.
pub struct Flag(pub &'static AtomicBool);

impl Flag {
    /// A cleared flag.
    pub fn take() -> Flag {
        let reused = FREE_FLAGS.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let flag = reused.unwrap_or_else(|| Box::leak(Box::new(AtomicBool::new(false))));
        flag.store(false, Ordering::SeqCst);
        Flag(flag)
    }
}

impl Drop for Flag {
    fn drop(&mut self) {
        FREE_FLAGS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.0);
    }
}

/// The observer of a fit from Python.
pub struct Watch<'a> {
    flag: &'static AtomicBool,
    callback: Option<&'a Py<PyAny>>,
    verbose: bool,
    total: u64,
    last_signal_check: Instant,
    last_progress: Option<Instant>,
    /// The exception that stopped training (a signal's, or the callback's), to raise after.
    pub error: Option<PyErr>,
    /// Whether the callback asked to stop (returned `False`).
    pub stopped_by_callback: bool,
    /// Every iteration's report.
    pub reports: Vec<IterReport>,
}

impl<'a> Watch<'a> {
    /// A watch of a fit of `total` iterations that can be stopped through `flag`.
    pub fn new(
        flag: &'static AtomicBool,
        callback: Option<&'a Py<PyAny>>,
        verbose: bool,
        total: u64,
    ) -> Self {
        Watch {
            flag,
            callback,
            verbose,
            total,
            last_signal_check: Instant::now(),
            last_progress: None,
            error: None,
            stopped_by_callback: false,
            reports: Vec::with_capacity(total.min(1 << 20) as usize),
        }
    }

    /// Stops training at the next boundary, keeping `error` to raise.
    fn stop(&mut self, error: Option<PyErr>) {
        if self.error.is_none() {
            self.error = error;
        }
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Signals, the callback and the progress line, with the GIL held.
    fn visit(&mut self, py: Python<'_>, report: &IterReport, draw: bool) {
        if let Err(e) = py.check_signals() {
            return self.stop(Some(e));
        }
        if let Some(callback) = self.callback {
            let args = (
                report.iteration,
                report.elbo,
                report.update.gamma(),
                report.update.halvings(),
            );
            match callback.call1(py, args) {
                Err(e) => return self.stop(Some(e)),
                Ok(value) if value.bind(py).extract::<bool>().ok() == Some(false) => {
                    self.stopped_by_callback = true;
                    return self.stop(None);
                }
                Ok(_) => {}
            }
        }
        if draw {
            let gamma = report
                .update
                .gamma()
                .map_or("-".to_string(), |g| format!("{g:.3e}"));
            let line = format!(
                "\rsvgp: iteration {}/{}  ELBO {:.6e}  γ {gamma}  ",
                report.iteration, self.total, report.elbo
            );
            write_stderr(py, &line);
        }
    }
}

/// Writes to Python's `sys.stderr` (so notebooks show it); a failure to write is ignored, as a
/// progress line is not worth stopping a fit for.
fn write_stderr(py: Python<'_>, text: &str) {
    if let Ok(stderr) = py.import("sys").and_then(|sys| sys.getattr("stderr")) {
        let _ = stderr.call_method1("write", (text,));
        let _ = stderr.call_method0("flush");
    }
}

impl Observer for Watch<'_> {
    fn on_iter(&mut self, _model: &Svgp, report: &IterReport) -> svgp::Result<()> {
        self.reports.push(report.clone());
        let now = Instant::now();
        let draw = self.verbose
            && (report.iteration == self.total
                || self
                    .last_progress
                    .is_none_or(|t| now.duration_since(t) >= PROGRESS_PERIOD));
        let signals = now.duration_since(self.last_signal_check) >= SIGNAL_PERIOD;
        if draw || signals || self.callback.is_some() {
            Python::attach(|py| self.visit(py, report, draw));
            self.last_signal_check = now;
            if draw {
                self.last_progress = Some(now);
            }
        }
        Ok(())
    }

    fn on_finish(&mut self, _model: &Svgp, reason: StopReason) -> svgp::Result<()> {
        if self.verbose {
            Python::attach(|py| write_stderr(py, &format!("\nsvgp: stopped ({reason:?})\n")));
        }
        Ok(())
    }
}
