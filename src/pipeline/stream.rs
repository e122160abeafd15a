//! [`fit_binary`]: the `fit` of the parent module for a `.svgpb` table that need not fit in
//! memory. Minibatches come from a [`BatchStream`] (block-shuffled positional reads) and drive
//! [`crate::optim::Trainer::step`] with scale N/B; inputs and targets are standardised on the fly
//! with the header's column moments; Z is k-means++ on a seeded sample of rows; the final ELBO and
//! the test metrics are accumulated over sequential chunks. The result is the same [`FitReport`]
//! and saved model as for a CSV file.

use super::{build_trainer, check_options, evaluate, option_error, FitOptions, FitReport};
use crate::data::{
    sample_rows, scan_rows, Batch, BatchStream, BinaryFile, Holdout, RowSet, Standardiser,
    StreamConfig,
};
use crate::error::{Result, SvgpError};
use crate::likelihood::Likelihood;
use crate::model::file::SavedModel;
use crate::model::inducing::InducingInit;
use crate::model::Metrics;
use crate::optim::{Observer, StopReason};
use nalgebra::{DMatrix, DVector};
use std::time::Instant;

/// How a binary table is streamed. `Default` gives the command line's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamOptions {
    /// Train for this many epochs, i.e. epochs·⌈N/B⌉ iterations, instead of
    /// [`FitOptions::iterations`] (default `None`).
    pub epochs: Option<u64>,
    /// Block sizes of the batch stream (default 65 536-row blocks, 4 shuffled together).
    pub config: StreamConfig,
    /// Rows sampled (seeded) for k-means++ of the inducing inputs (default 20 000; all the
    /// training rows when there are fewer).
    pub inducing_sample: usize,
    /// Rows per chunk of the final ELBO and the test metrics (default 8192).
    pub chunk_rows: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            epochs: None,
            config: StreamConfig::default(),
            inducing_sample: 20_000,
            chunk_rows: 8192,
        }
    }
}

/// The training and test rows of `file` for a test fraction and seed.
fn row_sets(options: &FitOptions) -> (RowSet, Option<RowSet>) {
    let holdout = Holdout {
        fraction: options.test_fraction,
        seed: options.seed,
    };
    if options.test_fraction > 0.0 {
        (RowSet::Train(holdout), Some(RowSet::Test(holdout)))
    } else {
        (RowSet::All, None)
    }
}

/// The number of iterations [`fit_binary`] will run: epochs·⌈N/B⌉ when `stream.epochs` is set
/// (N the training rows), else `options.iterations`.
pub fn planned_iterations(file: &BinaryFile, options: &FitOptions, stream: &StreamOptions) -> u64 {
    match stream.epochs {
        Some(e) => {
            let n = row_sets(options).0.count(file.header().num_rows);
            e * n.div_ceil(options.batch_size.max(1) as u64)
        }
        None => options.iterations,
    }
}

/// Standardised (x: B×D, y: B) of a batch, after checking its targets against the likelihood.
struct Prepare<'a> {
    path: &'a str,
    inputs: &'a Standardiser,
    targets: Option<&'a Standardiser>,
}

impl Prepare<'_> {
    /// A target outside the likelihood's domain as an error naming the file and the file row.
    fn locate(&self, batch: &Batch, e: SvgpError) -> SvgpError {
        match e {
            SvgpError::InvalidTarget { row, value, reason } if row < batch.rows.len() => {
                SvgpError::InvalidBinaryFile {
                    path: self.path.to_string(),
                    reason: format!("row {}: target {value}: {reason}", batch.rows[row]),
                }
            }
            other => other,
        }
    }

    fn apply(
        &self,
        likelihood: &dyn Likelihood,
        batch: &Batch,
    ) -> Result<(DMatrix<f64>, DVector<f64>)> {
        likelihood
            .check_targets(&batch.y)
            .map_err(|e| self.locate(batch, e))?;
        let y = self
            .targets
            .map_or(batch.y.clone(), |s| s.transform_vector(&batch.y));
        Ok((self.inputs.transform(&batch.x), y))
    }
}

/// Fits an SVGP to the binary table `file`, streaming it: memory is bounded by the stream's
/// blocks, the inducing sample and the model, not by N. Rows are held out for testing row by
/// row with a seeded hash ([`Holdout`]: about, not exactly, `test_fraction`·N rows), and inputs
/// (and regression targets) are standardised with the header's moments over all rows — the two
/// differences from [`super::fit`], which splits exactly and standardises on the training rows.
///
/// # Errors
/// As [`super::fit`]; `InvalidBinaryFile` naming the file and row of a bad value or a target
/// outside the likelihood's domain, or a single-class target column; read errors.
pub fn fit_binary(
    file: &BinaryFile,
    options: &FitOptions,
    stream: &StreamOptions,
    observers: &mut [&mut dyn Observer],
) -> Result<FitReport> {
    let o = options;
    check_options(o)?;
    let h = file.header();
    let d = h.num_features();
    let likelihood = o.likelihood.build()?;
    if likelihood.is_binary() && h.sd[d] == 0.0 {
        return Err(SvgpError::InvalidBinaryFile {
            path: file.path().to_string(),
            reason: "classification needs both classes 0 and 1 in the target column; it has one"
                .into(),
        });
    }
    let (train_rows, test_rows) = row_sets(o);
    let input_scaling = Standardiser::from_moments(&h.mean[..d], &h.sd[..d]);
    let target_scaling = o
        .likelihood
        .standardises_targets()
        .then(|| Standardiser::from_moments(&h.mean[d..], &h.sd[d..]));
    let prepare = Prepare {
        path: file.path(),
        inputs: &input_scaling,
        targets: target_scaling.as_ref(),
    };
    let mut batches = BatchStream::new(file, train_rows, o.batch_size, stream.config, o.seed)?;
    let n = batches.num_rows();
    if o.num_inducing == 0 || o.num_inducing as u64 > n {
        return Err(option_error(
            "--inducing",
            o.num_inducing as f64,
            "must be between 1 and the number of training rows",
        ));
    }
    let sample = sample_rows(
        file,
        train_rows,
        stream.inducing_sample.max(o.num_inducing),
        o.seed,
    )?;
    let z = InducingInit::default().choose(
        &input_scaling.transform(&sample.x),
        o.num_inducing,
        o.seed,
    )?;
    let mut trainer = build_trainer(o, likelihood, z, o.batch_size as u64 >= n)?;

    let iterations = planned_iterations(file, o, stream);
    for ob in observers.iter_mut() {
        ob.on_start(&trainer.model)?;
    }
    let start = Instant::now();
    let (mut shortened_steps, mut rows_trained) = (0, 0);
    for _ in 0..iterations {
        let batch = batches.next_batch()?;
        let (x, y) = prepare.apply(trainer.model.likelihood(), &batch)?;
        let mut report = trainer.step(&x, &y, n as f64 / y.len() as f64)?;
        report.elapsed = start.elapsed();
        shortened_steps += u64::from(report.halvings > 0);
        rows_trained += y.len() as u64;
        for ob in observers.iter_mut() {
            ob.on_iter(&trainer.model, &report)?;
        }
    }
    for ob in observers.iter_mut() {
        ob.on_finish(&trainer.model, StopReason::Iterations)?;
    }
    let train_seconds = start.elapsed().as_secs_f64();

    // Full ELBO = Σ_chunks (b/N)·ELBO(chunk, scale N/b): each term is its chunk's expected log
    // likelihood minus (b/N)·KL, so the sum is exact.
    let mut elbo = 0.0;
    scan_rows(file, train_rows, stream.chunk_rows, |batch| {
        let (x, y) = prepare.apply(trainer.model.likelihood(), &batch)?;
        let b = y.len() as f64;
        elbo += b / n as f64 * trainer.model.elbo(&x, &y, n as f64 / b)?;
        Ok(())
    })?;
    let log_scale = target_scaling.as_ref().map_or(0.0, |s| s.scale[0].ln());
    elbo -= n as f64 * log_scale;

    let saved = SavedModel {
        model: trainer.model,
        feature_names: h.feature_names.clone(),
        target_name: h.target_name.clone(),
        input_scaling: Some(input_scaling.clone()),
        target_scaling: target_scaling.clone(),
    };
    let mut parts = Vec::new();
    if let Some(test_rows) = test_rows {
        scan_rows(file, test_rows, stream.chunk_rows, |batch| {
            let metrics =
                evaluate(&saved, &batch.x, &batch.y).map_err(|e| prepare.locate(&batch, e))?;
            parts.push(metrics);
            Ok(())
        })?;
    }
    Ok(FitReport {
        iterations,
        stop_reason: StopReason::Iterations,
        elbo,
        train_seconds,
        num_data: n as usize,
        rows_trained,
        shortened_steps,
        test: Metrics::pool(&parts),
        saved,
    })
}
