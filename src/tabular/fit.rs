//! The one fitting path of the tabular layer, [`fit_data`] over a [`TrainingData`]: a table in
//! memory ([`fit`]), a binary table streamed from disk ([`super::fit_binary`]), or rows held by
//! workers elsewhere (a data-parallel fit, whose iterations sum the workers' terms). Options
//! are checked, the target's classes and the inducing count against the data, the scalings and
//! k-means++ inducing inputs built, one run of the trainer's loop trains (with the checkpoint
//! writer among its observers), and the full-data ELBO and the test metrics are accumulated.

use super::checkpoint::{settings_of, Checkpoint, CheckpointWriter};
use super::{FitOptions, FitReport, SavedModel, Scalings};
use crate::data::{select_target_rows, train_test_split, Standardiser, Table};
use crate::error::{Result, SvgpError};
use crate::model::inducing::InducingInit;
use crate::model::{ElboSum, Metrics, Svgp};
use crate::optim::{
    AdamConfig, BatchPlan, BatchSource, BatchSteps, HyperTraining, InMemory, Observer, QTraining,
    Schedule, Steps, StopReason, StopRules, Trainer,
};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use std::time::Instant;

/// A visitor of chunks of rows: inputs (b×D) and targets (b×P column-major).
pub(super) type ChunkFn<'a> = dyn FnMut(&DMatrix<f64>, &DVector<f64>) -> Result<()> + 'a;

/// The rows a model is fitted to and tested on, wherever they live: read here (a table in
/// memory, a binary table streamed from disk) or held by workers elsewhere (the shards of a
/// data-parallel fit). Inputs and targets are in the model's (standardised) units unless
/// stated.
pub trait TrainingData {
    /// The file, for messages.
    fn path(&self) -> &str;
    /// Feature names (D) and the target's name.
    fn columns(&self) -> (Vec<String>, String);
    /// Names of further target columns (several outputs); none by default.
    fn extra_targets(&self) -> Vec<String> {
        Vec::new()
    }
    /// The target column as messages name it.
    fn target_column(&self) -> String;
    /// Whether the target column holds one value only.
    fn single_class(&self) -> bool;
    /// N, the training rows.
    fn num_train(&self) -> u64;
    /// The scalings the model uses.
    fn scalings(&self) -> &Scalings;
    /// Standardised training inputs (at least `count` rows when there are) to place the
    /// inducing inputs among.
    ///
    /// # Errors
    /// Reading the rows.
    fn inducing_candidates(&self, count: usize, seed: u64) -> Result<DMatrix<f64>>;
    /// The iterations of training `model` (its structure and scalings: the trainer sends its
    /// state each iteration) after the first `done`, on seeded minibatches of `batch_size` rows
    /// (N/B-scaled, or stratified over shards: docs/MATH.md §7).
    ///
    /// # Errors
    /// Reading the rows; an invalid batch size; starting the workers.
    fn steps(
        &self,
        model: &Svgp,
        batch_size: usize,
        seed: u64,
        done: u64,
    ) -> Result<Box<dyn Steps + '_>>;
    /// The ELBO of `model` over every training row (scale 1), in the model's units: Σᵢ veᵢ − KL.
    ///
    /// # Errors
    /// Reading the rows; evaluation errors.
    fn elbo(&self, model: &Svgp) -> Result<f64>;
    /// Metrics of `saved` on the held-out rows (`None` without a hold-out).
    ///
    /// # Errors
    /// Reading the rows; prediction errors.
    fn test_metrics(&self, saved: &SavedModel) -> Result<Option<Metrics>>;
    /// The number of classes C of class-index targets 0..C−1, each present (`None` otherwise, see
    /// [`super::classes_of`]).
    ///
    /// # Errors
    /// Reading the rows; a target that is not a class index (where it is checked).
    fn num_classes(&self) -> Result<Option<usize>>;
    /// The label of each class, in class order, when the targets were read as labels.
    fn class_labels(&self) -> Option<Vec<String>> {
        None
    }
}

/// Training rows read in this process: seeded batches drawn here, and chunks of all the rows.
pub(super) trait LocalRows {
    /// The training batches.
    fn batches(&self, batch_size: usize, seed: u64) -> Result<Box<dyn BatchSource + '_>>;
    /// Calls `f` on the training rows, standardised, a chunk at a time.
    fn train_chunks(&self, f: &mut ChunkFn) -> Result<()>;
}

/// [`TrainingData::steps`] of rows read here: their batches, the first `done` skipped.
pub(super) fn local_steps<'a>(
    rows: &'a dyn LocalRows,
    batch_size: usize,
    seed: u64,
    done: u64,
) -> Result<Box<dyn Steps + 'a>> {
    let mut source = rows.batches(batch_size, seed)?;
    source.skip(done)?;
    Ok(Box::new(BatchSteps(source)))
}

/// [`TrainingData::num_classes`] of rows read here, from one pass over them.
pub(super) fn local_classes(rows: &dyn LocalRows) -> Result<Option<usize>> {
    let (mut seen, mut all_classes) = (std::collections::BTreeSet::new(), true);
    rows.train_chunks(&mut |_, y| {
        all_classes &= super::add_classes(&mut seen, y.iter().copied());
        Ok(())
    })?;
    Ok(all_classes
        .then(|| super::contiguous_count(&seen))
        .flatten())
}

/// [`TrainingData::elbo`] of the rows read here: Σᵢ veᵢ accumulated over the chunks (each
/// split further into the model's chunks, [`ElboSum`]), minus the KL once.
pub(super) fn local_elbo(rows: &dyn LocalRows, model: &Svgp) -> Result<f64> {
    let mut sum = ElboSum::new(model);
    rows.train_chunks(&mut |x, y| sum.add(x, y))?;
    sum.elbo(1.0)
}

/// The number of classes of a table: its labels' when read as labels, else from the targets.
///
/// # Errors
/// `InvalidTarget`, located in the table, for a target that is not a class index.
fn table_classes(table: &Table) -> Result<Option<usize>> {
    match &table.classes {
        Some(labels) => Ok(Some(labels.len())),
        None => super::check_class_indices(&table.y)
            .map(|()| super::classes_of(&table.y))
            .map_err(|e| table.locate(e)),
    }
}

/// Fits an SVGP to `table` with `options`, reporting every iteration to `observers`. Rows are
/// held out exactly (`test_fraction`·N, seeded) and inputs (and regression targets) are
/// standardised on the training rows.
///
/// # Errors
/// `TooFewRows` naming the file and the row count when `num_inducing` exceeds the training
/// rows; `InvalidParameter` naming the option at fault (`num_inducing` of 0, `test_fraction`
/// outside [0, 1), non-positive γ, `batch_size` or `adam_learning_rate`);
/// `Csv` naming the line and column of a label outside the likelihood's domain; `SingleClass`;
/// training errors.
pub fn fit(
    table: &Table,
    options: &FitOptions,
    observers: &mut [&mut dyn Observer],
) -> Result<FitReport> {
    let classes = match options.likelihood.is_multiclass() {
        true => table_classes(table)?,
        false => None,
    };
    let likelihood = options.likelihood.build(classes)?;
    likelihood
        .check_targets(&table.y)
        .map_err(|e| table.locate(e))?;
    fit_memory(table, options, observers)
}

/// [`fit`] for a table whose targets were checked against the likelihood.
pub(super) fn fit_memory(
    table: &Table,
    options: &FitOptions,
    observers: &mut [&mut dyn Observer],
) -> Result<FitReport> {
    let data = MemoryData::new(table, options);
    fit_data(&data, options, options.iterations, observers)
}

/// The one fitting path of [`fit`], [`super::fit_binary`] and data-parallel fits: at most
/// `iterations` training iterations in all on `data` (a resumed fit counts the checkpoint's),
/// then the full-data ELBO and the test metrics. With `o.checkpoint`, the checkpoint is written
/// every `every` iterations, when training stops, and when it fails (the last good state).
///
/// # Errors
/// As [`fit`]; the data's own (reading rows, reaching workers).
pub fn fit_data(
    data: &dyn TrainingData,
    o: &FitOptions,
    iterations: u64,
    observers: &mut [&mut dyn Observer],
) -> Result<FitReport> {
    check_options(o)?;
    let likelihood = likelihood_for(data, o)?;
    let n = data.num_train();
    if o.num_inducing == 0 {
        return Err(option_error("num_inducing", 0.0, "must be at least 1"));
    }
    if o.num_inducing as u64 > n {
        return Err(SvgpError::TooFewRows {
            path: data.path().to_string(),
            name: "num_inducing".into(),
            value: o.num_inducing as u64,
            rows: n,
        });
    }
    let (mut trainer, mut writer) = start_trainer(data, o, likelihood)?;
    let start = Instant::now();
    let done = trainer.iteration();
    let mut steps = data.steps(&trainer.model, o.batch_size, o.seed, done)?;
    let rules = StopRules {
        interrupt: o.interrupt,
        ..StopRules::default()
    };
    let remaining = iterations.saturating_sub(trainer.iteration());
    let run = trainer.run_steps(
        steps.as_mut(),
        remaining,
        rules,
        &mut with_writer(observers, &mut writer),
    );
    let summary = match run {
        Ok(summary) => summary,
        Err(e) => {
            writer.write(&trainer)?;
            return Err(e);
        }
    };
    let train_seconds = start.elapsed().as_secs_f64();
    let checkpoint = writer.write(&trainer)?;
    let completed = trainer.iteration();
    let log_prior = trainer.log_prior();
    let interrupted = summary.reason == StopReason::Interrupted;
    // An interrupted fit skips the passes over all the data: the user is waiting.
    let elbo = match interrupted {
        true => f64::NAN,
        false => full_elbo(data, &trainer.model)?,
    };
    let (feature_names, target_name) = data.columns();
    let scalings = data.scalings().clone();
    let saved = SavedModel {
        model: trainer.model,
        feature_names,
        target_name,
        extra_targets: data.extra_targets(),
        input_scaling: Some(scalings.inputs),
        target_scaling: scalings.targets,
        classes: data.class_labels(),
    };
    Ok(FitReport {
        iterations: completed,
        stop_reason: summary.reason,
        elbo,
        log_prior,
        train_seconds,
        num_data: n as usize,
        rows_trained: summary.rows_trained,
        shortened_steps: summary.shortened_steps,
        test: match interrupted {
            true => None,
            false => data.test_metrics(&saved)?,
        },
        checkpoint,
        elbo_trace: writer.elbo_trace,
        saved,
    })
}

/// The likelihood the options choose, for the data's classes when it is a classifier, for its
/// outputs when it has several target columns.
///
/// # Errors
/// `SingleClass` for a classifier on a target of one value; as [`super::LikelihoodChoice::build`].
fn likelihood_for(
    data: &dyn TrainingData,
    o: &FitOptions,
) -> Result<Box<dyn crate::likelihood::Likelihood>> {
    if o.likelihood.is_classifier() && data.single_class() {
        return Err(SvgpError::SingleClass {
            path: data.path().to_string(),
            column: data.target_column(),
        });
    }
    let outputs = data.extra_targets().len() + 1;
    if outputs > 1 {
        return o.likelihood.build_outputs(outputs);
    }
    let classes = match o.likelihood.is_multiclass() {
        true => data.num_classes()?,
        false => None,
    };
    o.likelihood.build(classes)
}

/// The caller's observers, then the checkpoint writer.
fn with_writer<'a>(
    observers: &'a mut [&mut dyn Observer],
    writer: &'a mut CheckpointWriter,
) -> Vec<&'a mut dyn Observer> {
    let mut all: Vec<&'a mut dyn Observer> = Vec::with_capacity(observers.len() + 1);
    for o in observers.iter_mut() {
        all.push(&mut **o);
    }
    all.push(writer);
    all
}

/// The trainer a fit starts from and its checkpoint writer: from the checkpoint `o.resume`
/// names (checked against these settings and data), or fresh, with k-means++ inducing inputs.
fn start_trainer(
    data: &dyn TrainingData,
    o: &FitOptions,
    likelihood: Box<dyn crate::likelihood::Likelihood>,
) -> Result<(Trainer, CheckpointWriter)> {
    let n = data.num_train();
    let mut writer = CheckpointWriter {
        checkpointing: o.checkpoint.clone(),
        settings: settings_of(o),
        columns: data.columns(),
        num_train: n,
        elbo_trace: Vec::new(),
    };
    if let Some(path) = &o.resume {
        let saved = Checkpoint::load(path)?;
        saved.check_matches(&writer.settings, &writer.columns, n)?;
        let mut trainer = build_trainer(o, saved.trainer.model()?, n)?;
        trainer.restore(&saved.trainer)?;
        writer.elbo_trace = saved.elbo_trace;
        return Ok((trainer, writer));
    }
    let candidates = data.inducing_candidates(o.num_inducing, o.seed)?;
    let z = InducingInit::default().choose(&candidates, o.num_inducing, o.seed)?;
    let model = Svgp::with_kernels(
        initial(o, z.ncols(), likelihood.num_latent())?,
        likelihood,
        z,
    )?;
    Ok((build_trainer(o, model, n)?, writer))
}

/// The initial kernels of the options' family over `d` inputs: one shared, or one for each of
/// `latents` latents with `kernel_per_latent`.
fn initial(
    o: &FitOptions,
    d: usize,
    latents: usize,
) -> Result<Vec<Box<dyn crate::kernel::Kernel>>> {
    let count = if o.kernel_per_latent { latents } else { 1 };
    (0..count)
        .map(|_| super::initial_kernel(o.kernel, d))
        .collect()
}

/// The full training-set ELBO in the targets' original units: the data's ELBO in the model's
/// units, then the Jacobian of the target scaling, −N Σₚ log sₚ.
fn full_elbo(data: &dyn TrainingData, model: &Svgp) -> Result<f64> {
    let n = data.num_train() as f64;
    let log_scale = data
        .scalings()
        .targets
        .as_ref()
        .map_or(0.0, Standardiser::log_scale_sum);
    Ok(data.elbo(model)? - n * log_scale)
}

/// `InvalidParameter` naming a field of [`FitOptions`].
fn option_error(name: &str, value: f64, reason: &'static str) -> SvgpError {
    SvgpError::InvalidParameter {
        name: name.to_string(),
        value,
        reason,
    }
}

/// Checks the options that do not depend on the data.
fn check_options(o: &FitOptions) -> Result<()> {
    if !(0.0..1.0).contains(&o.test_fraction) {
        return Err(option_error(
            "test_fraction",
            o.test_fraction,
            "must be in [0, 1)",
        ));
    }
    if o.batch_size == 0 {
        return Err(option_error("batch_size", 0.0, "must be at least 1"));
    }
    if !(o.adam_learning_rate.is_finite() && o.adam_learning_rate > 0.0) {
        return Err(option_error(
            "adam_learning_rate",
            o.adam_learning_rate,
            "must be finite and positive",
        ));
    }
    Ok(())
}

/// The trainer the options ask for, for `model` on `n` training rows: natural steps in the
/// options' ξ with γ constant or the likelihood's default schedule, Adam on the
/// hyperparameters and Z at the options' learning rate, with the options' priors and fixed
/// hyperparameters.
///
/// # Errors
/// `InvalidParameter` for a schedule that is not valid (a non-positive γ); as
/// [`Trainer::with_hyper_settings`] for the priors and fixed names.
pub fn build_trainer(o: &FitOptions, model: Svgp, n: u64) -> Result<Trainer> {
    let schedule = match o.gamma {
        Some(g) => Schedule::Constant(g),
        None => Schedule::default_for(model.likelihood(), o.batch_size as u64 >= n),
    };
    schedule.check()?;
    let adam = AdamConfig {
        learning_rate: o.adam_learning_rate,
        ..AdamConfig::default()
    };
    Trainer::new(
        model,
        QTraining::natural(o.xi, schedule),
        HyperTraining::Adam(adam),
    )
    .with_hyper_settings(o.hyper_settings())
}

/// A table in memory split into training and test rows, the training rows standardised.
struct MemoryData<'a> {
    table: &'a Table,
    test_rows: Vec<usize>,
    x: DMatrix<f64>,
    y: DVector<f64>,
    scalings: Scalings,
}

impl<'a> MemoryData<'a> {
    fn new(table: &'a Table, o: &FitOptions) -> Self {
        let (train, test_rows) = train_test_split(table.x.nrows(), o.test_fraction, o.seed);
        let (mut x, mut y) = pick(table, &train);
        let scalings = Scalings {
            inputs: Standardiser::fit(&x),
            targets: o
                .likelihood
                .standardises_targets()
                .then(|| Standardiser::fit_columns(&y, table.extra_targets.len() + 1)),
        };
        scalings.inputs.transform_in_place(x.as_mut_slice());
        if let Some(s) = &scalings.targets {
            s.transform_in_place(y.as_mut_slice());
        }
        MemoryData {
            table,
            test_rows,
            x,
            y,
            scalings,
        }
    }
}

/// The table's rows `rows`, raw.
fn pick(table: &Table, rows: &[usize]) -> (DMatrix<f64>, DVector<f64>) {
    (
        table.x.select_rows(rows.iter()),
        select_target_rows(&table.y, table.x.nrows(), rows),
    )
}

impl TrainingData for MemoryData<'_> {
    fn path(&self) -> &str {
        &self.table.path
    }
    fn columns(&self) -> (Vec<String>, String) {
        (
            self.table.feature_names.clone(),
            self.table.target_name.clone(),
        )
    }
    fn extra_targets(&self) -> Vec<String> {
        self.table.extra_targets.clone()
    }
    fn target_column(&self) -> String {
        format!("{} ({})", self.table.target_column, self.table.target_name)
    }
    fn single_class(&self) -> bool {
        self.table.y.as_slice().windows(2).all(|w| w[0] == w[1])
    }
    fn num_train(&self) -> u64 {
        self.x.nrows() as u64
    }
    fn scalings(&self) -> &Scalings {
        &self.scalings
    }
    fn inducing_candidates(&self, count: usize, seed: u64) -> Result<DMatrix<f64>> {
        let n = self.x.nrows();
        let size = super::INDUCING_SAMPLE.max(count);
        if n <= size {
            return Ok(self.x.clone());
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut rows = rand::seq::index::sample(&mut rng, n, size).into_vec();
        rows.sort_unstable();
        Ok(self.x.select_rows(rows.iter()))
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
    fn test_metrics(&self, saved: &SavedModel) -> Result<Option<Metrics>> {
        if self.test_rows.is_empty() {
            return Ok(None);
        }
        let (x, y) = pick(self.table, &self.test_rows);
        super::evaluate(saved, &x, &y).map(Some)
    }
    fn num_classes(&self) -> Result<Option<usize>> {
        table_classes(self.table)
    }
    fn class_labels(&self) -> Option<Vec<String>> {
        self.table.classes.clone()
    }
}

impl LocalRows for MemoryData<'_> {
    fn batches(&self, batch_size: usize, seed: u64) -> Result<Box<dyn BatchSource + '_>> {
        let plan = BatchPlan::Seeded { batch_size, seed };
        Ok(Box::new(InMemory::new(&self.x, &self.y, plan)?))
    }
    fn train_chunks(&self, f: &mut ChunkFn) -> Result<()> {
        f(&self.x, &self.y)
    }
}
