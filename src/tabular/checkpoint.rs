//! Checkpoints of a tabular fit: everything needed to continue it exactly — the trainer's state
//! ([`TrainerState`]: model, q with S⁻¹, Adam moments, iteration and so the step-size schedule's
//! position), the ELBO trace so far, and what the fit was (its options, the data's columns and
//! training rows) so that a resume with other settings or data is refused. The batch stream's
//! position is the iteration count: a fresh stream with the same seed is advanced by that many
//! batches. Versioned JSON, written atomically.

use super::settings::{Checkpointing, FitOptions};
use crate::data::write_atomically;
use crate::error::{Result, SvgpError};
use crate::model::Svgp;
use crate::optim::IterReport;
use crate::optim::{Observer, Trainer, TrainerState};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The `format` field of every checkpoint file.
pub const CHECKPOINT_FORMAT: &str = "svgp-checkpoint";
/// The current checkpoint version; loading refuses any other.
pub const CHECKPOINT_VERSION: u32 = 3;

/// A fit's state at an iteration boundary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    format: String,
    format_version: u32,
    /// The fit's settings, as text (everything but the iteration budget and file locations).
    pub settings: String,
    /// Feature names and target name of the data.
    pub columns: (Vec<String>, String),
    /// N, the training rows.
    pub num_train: u64,
    /// The trainer's state.
    pub trainer: TrainerState,
    /// The minibatch ELBO of every iteration so far.
    pub elbo_trace: Vec<f64>,
}

/// The settings a resumed fit must share with the checkpointed one, as text: the options'
/// JSON (every setting, named settings by name) without the iteration budget, which a resume
/// may raise.
pub fn settings_of(o: &FitOptions) -> String {
    let shared = FitOptions {
        iterations: 0,
        ..o.clone()
    };
    // Serialising plain numbers, booleans and strings cannot fail.
    serde_json::to_string(&shared).unwrap_or_default()
}

impl Checkpoint {
    /// The checkpoint of a fit with `settings` (as [`settings_of`] writes them, plus anything
    /// else a resumed fit must share) on data with `columns` and `num_train` rows, at `trainer`'s
    /// state, after the minibatch ELBOs `elbo_trace`.
    pub fn new(
        settings: String,
        columns: (Vec<String>, String),
        num_train: u64,
        trainer: TrainerState,
        elbo_trace: Vec<f64>,
    ) -> Self {
        Checkpoint {
            format: CHECKPOINT_FORMAT.into(),
            format_version: CHECKPOINT_VERSION,
            settings,
            columns,
            num_train,
            trainer,
            elbo_trace,
        }
    }

    /// Reads and checks a checkpoint file (format, version, and that its trainer state builds a
    /// valid model).
    ///
    /// # Errors
    /// `Io` if the file cannot be read; `InvalidModelFile { path, reason }` for anything else.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let invalid = |reason: String| SvgpError::InvalidModelFile {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| SvgpError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let cp: Checkpoint = serde_json::from_str(&text)
            .map_err(|e| invalid(format!("not an svgp checkpoint: {e}")))?;
        if cp.format != CHECKPOINT_FORMAT || cp.format_version != CHECKPOINT_VERSION {
            return Err(invalid(format!(
                "{} version {}; this svgp reads {CHECKPOINT_FORMAT} version {CHECKPOINT_VERSION}",
                cp.format, cp.format_version
            )));
        }
        cp.trainer
            .model()
            .map_err(|e| invalid(format!("trainer state: {e}")))?;
        Ok(cp)
    }

    /// Writes the checkpoint atomically (a crash or kill leaves the previous file whole).
    ///
    /// # Errors
    /// `Io { path }` for a failed write or rename.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec(self).map_err(|e| SvgpError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        write_atomically(path, |w| w.write_all(&json))
    }

    /// `InvalidParameter { name: "resume" }` unless this checkpoint was written by a fit with
    /// `settings` on data with `columns` and `num_train` training rows.
    ///
    /// # Errors
    /// As above.
    pub fn check_matches(
        &self,
        settings: &str,
        columns: &(Vec<String>, String),
        num_train: u64,
    ) -> Result<()> {
        let refuse = |reason| {
            Err(SvgpError::InvalidParameter {
                name: "resume".into(),
                value: self.trainer.iteration as f64,
                reason,
            })
        };
        if self.settings != settings {
            return refuse("the checkpoint was written with other fit settings");
        }
        if &self.columns != columns || self.num_train != num_train {
            return refuse("the checkpoint was written for other data (columns or rows differ)");
        }
        Ok(())
    }
}

/// The observer that writes a fit's checkpoint every `every` iterations and keeps the trace.
pub(super) struct CheckpointWriter {
    pub checkpointing: Option<Checkpointing>,
    pub settings: String,
    pub columns: (Vec<String>, String),
    pub num_train: u64,
    pub elbo_trace: Vec<f64>,
}

impl CheckpointWriter {
    /// Writes the checkpoint of `trainer` now, if checkpointing is on; returns where.
    pub fn write(&self, trainer: &Trainer) -> Result<Option<PathBuf>> {
        let Some(c) = &self.checkpointing else {
            return Ok(None);
        };
        let checkpoint = Checkpoint::new(
            self.settings.clone(),
            self.columns.clone(),
            self.num_train,
            trainer.state(),
            self.elbo_trace.clone(),
        );
        checkpoint.save(&c.path)?;
        Ok(Some(c.path.clone()))
    }
}

impl Observer for CheckpointWriter {
    fn on_iter(&mut self, _model: &Svgp, report: &IterReport) -> Result<()> {
        self.elbo_trace.push(report.elbo);
        Ok(())
    }

    fn on_trainer(&mut self, trainer: &Trainer) -> Result<()> {
        match &self.checkpointing {
            Some(c) if trainer.iteration().is_multiple_of(c.every.max(1)) => {
                self.write(trainer).map(|_| ())
            }
            _ => Ok(()),
        }
    }
}
