//! [`fit_binary`]: the fit of a `.svgpb` table that need not fit in memory, through the same path
//! as a table in memory. Minibatches come from a [`StreamSource`] (block-shuffled positional
//! reads, standardised on the fly with the header's column moments); Z is k-means++ on a seeded
//! sample of rows; the final ELBO and the test metrics are accumulated over sequential chunks.

use super::fit::{
    fit_data, local_classes, local_elbo, local_steps, ChunkFn, LocalRows, TrainingData,
};
use super::{evaluate, FitOptions, FitReport, SavedModel, Scalings};
use crate::data::{
    sample_rows, scan_rows, Batch, BatchStream, BinaryFile, Holdout, RowSet, Standardiser,
    StreamConfig,
};
use crate::error::{Result, SvgpError};
use crate::model::{Metrics, Svgp};
use crate::optim::{BatchSource, Observer, Steps};
use nalgebra::DMatrix;

/// How a binary table is streamed. `Default` gives the command line's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamOptions {
    /// Train for this many epochs, i.e. epochs·⌈N/B⌉ iterations, instead of
    /// [`FitOptions::iterations`] (default `None`).
    pub epochs: Option<u64>,
    /// Block sizes of the batch stream (default 65 536-row blocks, 4 shuffled together).
    pub config: StreamConfig,
    /// Rows sampled (seeded) for k-means++ of the inducing inputs (default
    /// [`super::INDUCING_SAMPLE`]; all the training rows when there are fewer).
    pub inducing_sample: usize,
    /// Rows per chunk of the final ELBO and the test metrics (default 8192).
    pub chunk_rows: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            epochs: None,
            config: StreamConfig::default(),
            inducing_sample: super::INDUCING_SAMPLE,
            chunk_rows: 8192,
        }
    }
}

/// The training and test rows of a file for a test fraction and seed.
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

/// Fits an SVGP to the binary table `file`, streaming it: memory is bounded by the stream's
/// blocks, the inducing sample and the model, not by N. Rows are held out for testing row by
/// row with a seeded hash ([`Holdout`]: about, not exactly, `test_fraction`·N rows), and inputs
/// (and regression targets) are standardised with the header's moments over all rows — the two
/// differences from [`super::fit`], which splits exactly and standardises on the training rows.
///
/// # Errors
/// As [`super::fit`]; `InvalidBinaryFile` naming the file and row of a bad value or a target
/// outside the likelihood's domain; `SingleClass`; read errors.
pub fn fit_binary(
    file: &BinaryFile,
    options: &FitOptions,
    stream: &StreamOptions,
    observers: &mut [&mut dyn Observer],
) -> Result<FitReport> {
    let h = file.header();
    let d = h.num_features();
    let (train, test) = row_sets(options);
    let data = StreamData {
        file,
        train,
        test,
        num_train: train.count(h.num_rows),
        stream: *stream,
        scalings: Scalings {
            inputs: Standardiser::from_moments(&h.mean[..d], &h.sd[..d]),
            targets: options
                .likelihood
                .standardises_targets()
                .then(|| Standardiser::from_moments(&h.mean[d..], &h.sd[d..])),
        },
    };
    let iterations = planned_iterations(file, options, stream);
    fit_data(&data, options, iterations, observers)
}

/// A binary table, its hold-out and its scalings.
struct StreamData<'a> {
    file: &'a BinaryFile,
    train: RowSet,
    test: Option<RowSet>,
    num_train: u64,
    stream: StreamOptions,
    scalings: Scalings,
}

impl TrainingData for StreamData<'_> {
    fn path(&self) -> &str {
        self.file.path()
    }
    fn columns(&self) -> (Vec<String>, String) {
        let h = self.file.header();
        (h.feature_names.clone(), h.target_name.clone())
    }
    fn target_column(&self) -> String {
        self.file.header().target_name.clone()
    }
    fn single_class(&self) -> bool {
        let h = self.file.header();
        h.sd[h.num_features()] == 0.0
    }
    fn num_train(&self) -> u64 {
        self.num_train
    }
    fn scalings(&self) -> &Scalings {
        &self.scalings
    }
    fn inducing_candidates(&self, count: usize, seed: u64) -> Result<DMatrix<f64>> {
        let size = self.stream.inducing_sample.max(count);
        let sample = sample_rows(self.file, self.train, size, seed)?;
        Ok(self.scalings.inputs.transform(&sample.x))
    }
    fn steps(
        &self,
        _model: &Svgp,
        batch_size: usize,
        seed: u64,
        done: u64,
    ) -> Result<Box<dyn Steps + '_>> {
        local_steps(self, batch_size, seed, done)
    }
    fn elbo(&self, model: &Svgp) -> Result<f64> {
        local_elbo(self, model)
    }
    fn num_classes(&self) -> Result<Option<usize>> {
        local_classes(self)
    }
    fn test_metrics(&self, saved: &SavedModel) -> Result<Option<Metrics>> {
        let Some(test) = self.test else {
            return Ok(None);
        };
        let mut parts = Vec::new();
        scan_rows(self.file, test, self.stream.chunk_rows, |batch| {
            let metrics = evaluate(saved, &batch.x, &batch.y)
                .map_err(|e| locate_row(self.file, &batch, e))?;
            parts.push(metrics);
            Ok(())
        })?;
        Ok(Metrics::pool(&parts))
    }
}

impl LocalRows for StreamData<'_> {
    fn batches(&self, batch_size: usize, seed: u64) -> Result<Box<dyn BatchSource + '_>> {
        let stream = BatchStream::new(self.file, self.train, batch_size, self.stream.config, seed)?;
        let Scalings { inputs, targets } = self.scalings.clone();
        Ok(Box::new(StreamSource::new(stream, inputs, targets)))
    }
    fn train_chunks(&self, f: &mut ChunkFn) -> Result<()> {
        scan_rows(self.file, self.train, self.stream.chunk_rows, |batch| {
            let batch = self.scalings.apply(batch);
            f(&batch.x, &batch.y)
        })
    }
}

/// A target error at a row of `batch` (0-based within it) as an error naming the file and row.
fn locate_row(file: &BinaryFile, batch: &Batch, e: SvgpError) -> SvgpError {
    match e {
        SvgpError::InvalidTarget { row, value, reason } if row < batch.rows.len() => {
            locate_file_row(file.path(), batch.rows[row], value, reason)
        }
        other => other,
    }
}

/// `InvalidBinaryFile` for a bad target at 0-based file row `row`.
fn locate_file_row(path: &str, row: u64, value: f64, reason: &str) -> SvgpError {
    SvgpError::InvalidBinaryFile {
        path: path.to_string(),
        reason: format!("row {row}: target {value}: {reason}"),
    }
}

/// Training batches streamed from a binary table ([`BatchStream`]), standardised with the
/// table's scalings; row numbers are 0-based file rows. Endless: one epoch follows another.
#[derive(Debug)]
pub struct StreamSource<'a> {
    stream: BatchStream<'a>,
    scalings: Scalings,
}

impl<'a> StreamSource<'a> {
    /// Batches of `stream`, inputs standardised by `inputs` and targets by `targets` if given.
    pub fn new(
        stream: BatchStream<'a>,
        inputs: Standardiser,
        targets: Option<Standardiser>,
    ) -> Self {
        StreamSource {
            stream,
            scalings: Scalings { inputs, targets },
        }
    }
}

impl BatchSource for StreamSource<'_> {
    fn num_data(&self) -> u64 {
        self.stream.num_rows()
    }

    fn next_batch(&mut self) -> Result<Option<Batch>> {
        let batch = self.stream.next_batch()?;
        Ok(Some(self.scalings.apply(batch)))
    }

    fn skip(&mut self, batches: u64) -> Result<()> {
        self.stream.skip(batches)
    }

    fn locate(&self, error: SvgpError) -> SvgpError {
        match error {
            SvgpError::InvalidTarget { row, value, reason } => {
                locate_file_row(self.stream.file().path(), row as u64, value, reason)
            }
            other => other,
        }
    }
}

/// `InvalidBinaryFile` unless `file`'s feature columns are the model's, in order.
fn check_columns(saved: &SavedModel, file: &BinaryFile) -> Result<()> {
    let names = &file.header().feature_names;
    if names != &saved.feature_names {
        return Err(SvgpError::InvalidBinaryFile {
            path: file.path().to_string(),
            reason: format!(
                "its features {names:?} are not the model's {:?}",
                saved.feature_names
            ),
        });
    }
    Ok(())
}

/// Metrics of `saved` on every row of the binary table `file`, in the data's original units,
/// read `chunk_rows` rows at a time: memory is bounded by a chunk, whatever N is.
///
/// # Errors
/// `InvalidBinaryFile` naming the file for other feature columns or a target outside the
/// likelihood's domain (with its row); `EmptyFile`; read errors.
pub fn evaluate_binary(
    saved: &SavedModel,
    file: &BinaryFile,
    chunk_rows: usize,
) -> Result<Metrics> {
    check_columns(saved, file)?;
    let mut parts = Vec::new();
    scan_rows(file, RowSet::All, chunk_rows, |batch| {
        let metrics =
            evaluate(saved, &batch.x, &batch.y).map_err(|e| locate_row(file, &batch, e))?;
        parts.push(metrics);
        Ok(())
    })?;
    Metrics::pool(&parts).ok_or_else(|| SvgpError::EmptyFile {
        path: file.path().to_string(),
    })
}

/// Predictions of `saved` (as [`super::predict`]: N×P means and variances) for every row of
/// the binary table `file`, in file order, handed to `sink` `chunk_rows` rows at a time.
///
/// # Errors
/// As [`inputs_binary`].
pub fn predict_binary(
    saved: &SavedModel,
    file: &BinaryFile,
    chunk_rows: usize,
    mut sink: impl FnMut(&DMatrix<f64>, &DMatrix<f64>) -> Result<()>,
) -> Result<()> {
    inputs_binary(saved, file, chunk_rows, |x| {
        let (mean, var) = super::predict(saved, x)?;
        sink(&mean, &var)
    })
}

/// The inputs (b×D, raw units) of every row of the binary table `file`, checked to be the
/// model's feature columns, in file order, handed to `sink` `chunk_rows` rows at a time.
///
/// # Errors
/// `InvalidBinaryFile` naming the file for other feature columns; read errors; `sink`'s.
pub fn inputs_binary(
    saved: &SavedModel,
    file: &BinaryFile,
    chunk_rows: usize,
    mut sink: impl FnMut(&DMatrix<f64>) -> Result<()>,
) -> Result<()> {
    check_columns(saved, file)?;
    scan_rows(file, RowSet::All, chunk_rows, |batch| sink(&batch.x))
}
