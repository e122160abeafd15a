//! Clean interruption of `svgp fit`: SIGINT and SIGTERM set a flag the trainer checks at every
//! iteration boundary; the fit then writes its checkpoint (and the model, with `--output`),
//! prints what it saved and exits with 130 (SIGINT) or 143 (SIGTERM), as shells expect.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use svgp::optim::StopReason;

/// The flags the handlers set: any stop signal, and SIGTERM in particular.
pub struct StopFlags {
    /// Set by SIGINT or SIGTERM; the trainer stops at the next iteration boundary.
    pub stop: &'static AtomicBool,
    term: &'static Arc<AtomicBool>,
}

/// Installs the handlers (once per process).
///
/// # Errors
/// When the operating system refuses to install a handler.
pub fn install() -> std::io::Result<StopFlags> {
    let stop: &'static Arc<AtomicBool> = Box::leak(Box::new(Arc::new(AtomicBool::new(false))));
    let term: &'static Arc<AtomicBool> = Box::leak(Box::new(Arc::new(AtomicBool::new(false))));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(stop))?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(term))?;
    Ok(StopFlags { stop, term })
}

impl StopFlags {
    /// The exit code for a fit the signals stopped: 143 after SIGTERM, else 130 (SIGINT).
    fn exit_code(&self) -> u8 {
        if self.term.load(Ordering::SeqCst) {
            143
        } else {
            130
        }
    }

    /// `Ok` for a fit that stopped for `reason` other than a signal, else the exit code of the
    /// signal's stop (the fit's files are written and its summary printed by then).
    ///
    /// # Errors
    /// [`Interrupted`] for [`StopReason::Interrupted`].
    pub fn outcome(&self, reason: StopReason) -> Result<(), Interrupted> {
        match reason {
            StopReason::Interrupted => Err(Interrupted {
                code: self.exit_code(),
            }),
            _ => Ok(()),
        }
    }
}

/// The outcome of a fit that a signal stopped, after its files were written: `main` exits with
/// `code` and prints no error.
#[derive(Debug)]
pub struct Interrupted {
    /// 130 or 143.
    pub code: u8,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted (exit code {})", self.code)
    }
}

impl std::error::Error for Interrupted {}
