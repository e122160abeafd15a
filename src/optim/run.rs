//! The one training loop: [`Trainer::run_steps`] over [`Steps`], where each iteration takes its
//! minibatch evaluations from — batches drawn here and set in the trainer's workspace
//! ([`BatchSteps`] over a [`BatchSource`]), or the parts of each batch set where the shards of a
//! table live (an [`super::Evaluator`] summing the workers' terms). Observers, stop rules and
//! the run's summary are the same code for both.

use super::{BatchSource, IterReport, Observer, RunSummary, StopReason, StopRules, Trainer};
use crate::data::Batch;
use crate::error::{Result, SvgpError};
use std::time::Instant;

/// Where a run's iterations take their minibatch evaluations from.
pub trait Steps {
    /// Iteration `trainer.iteration() + 1` on the next batch: its report and the batch's row
    /// count, or `None` when the batches have run out. On error the trainer's model and
    /// optimiser states are unchanged.
    ///
    /// # Errors
    /// As [`Trainer::step_with`], and the source's own (reading a batch, reaching a worker).
    fn step(&mut self, trainer: &mut Trainer) -> Result<Option<(IterReport, u64)>>;
}

/// The batches of a [`BatchSource`] as [`Steps`]: each batch's targets are checked against the
/// likelihood, then [`Trainer::step`] takes it with scale N/B.
pub struct BatchSteps<S>(pub S);

impl<S: BatchSource> Steps for BatchSteps<S> {
    fn step(&mut self, trainer: &mut Trainer) -> Result<Option<(IterReport, u64)>> {
        let Some(batch) = self.0.next_batch()? else {
            return Ok(None);
        };
        check_batch_targets(trainer, &self.0, &batch)?;
        let rows = batch.x.nrows() as u64;
        let scale = self.0.num_data() as f64 / rows as f64;
        let report = trainer.step(&batch.x, &batch.y, scale)?;
        Ok(Some((report, rows)))
    }
}

impl Trainer {
    /// Trains for at most `iterations` on the batches of `source`, until a stop rule fires or
    /// the source runs out; observers see every iteration. Each batch's targets are checked
    /// against the likelihood first.
    ///
    /// # Errors
    /// Any error of [`Trainer::step`], of the source or of an observer; `InvalidTarget` (as
    /// the source locates it) for a target outside the likelihood's domain. The model keeps its
    /// last good state.
    pub fn run(
        &mut self,
        source: &mut dyn BatchSource,
        iterations: u64,
        rules: StopRules,
        observers: &mut [&mut dyn Observer],
    ) -> Result<RunSummary> {
        self.run_steps(&mut BatchSteps(source), iterations, rules, observers)
    }

    /// Trains for at most `iterations` of `steps`, until a stop rule fires or the steps run
    /// out; observers see every iteration (`on_iter`, then `on_trainer`).
    ///
    /// # Errors
    /// Any error of the steps or of an observer. The model keeps its last good state.
    pub fn run_steps(
        &mut self,
        steps: &mut dyn Steps,
        iterations: u64,
        rules: StopRules,
        observers: &mut [&mut dyn Observer],
    ) -> Result<RunSummary> {
        for o in observers.iter_mut() {
            o.on_start(&self.model)?;
        }
        let start = Instant::now();
        let mut elbos = Vec::new();
        let mut last_log_prior = f64::NAN;
        let (mut shortened_steps, mut rows_trained) = (0, 0);
        let mut reason = StopReason::Iterations;
        for _ in 0..iterations {
            if rules.interrupted() {
                reason = StopReason::Interrupted;
                break;
            }
            let Some((mut report, rows)) = steps.step(self)? else {
                reason = StopReason::BatchesExhausted;
                break;
            };
            report.elapsed = start.elapsed();
            elbos.push(report.elbo);
            last_log_prior = report.log_prior;
            shortened_steps += u64::from(report.update.shortened());
            rows_trained += rows;
            for o in observers.iter_mut() {
                o.on_iter(&self.model, &report)?;
                o.on_trainer(self)?;
            }
            if let Some(r) = rules.check(&elbos, report.elapsed) {
                reason = r;
                break;
            }
        }
        for o in observers.iter_mut() {
            o.on_finish(&self.model, reason)?;
        }
        Ok(RunSummary {
            reason,
            iterations: elbos.len() as u64,
            last_elbo: elbos.last().copied().unwrap_or(f64::NAN),
            last_log_prior,
            elapsed: start.elapsed(),
            shortened_steps,
            rows_trained,
        })
    }
}

/// `InvalidTarget` with the source's row number, as the source locates it, for the first
/// target of `batch` outside the likelihood's domain.
fn check_batch_targets(trainer: &Trainer, source: &dyn BatchSource, batch: &Batch) -> Result<()> {
    trainer
        .model
        .likelihood()
        .check_targets(&batch.y)
        .map_err(|e| match e {
            SvgpError::InvalidTarget { row, value, reason } => {
                source.locate(SvgpError::InvalidTarget {
                    row: batch.rows[row] as usize,
                    value,
                    reason,
                })
            }
            other => other,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Matern52;
    use crate::likelihood::Gaussian;
    use crate::model::{Svgp, Workspace};
    use crate::optim::Trace;
    use crate::optim::{AdamConfig, BatchPlan, HyperTraining, InMemory, QTraining, Schedule, Xi};
    use nalgebra::{DMatrix, DVector};

    /// Steps on a list of batches, each set in a workspace of its own and taken by
    /// [`Trainer::step_with`]: evaluations that do not come from the trainer's workspace, as
    /// a sharded fit's do.
    struct Listed {
        batches: Vec<Batch>,
        num_data: u64,
    }

    impl Steps for Listed {
        fn step(&mut self, trainer: &mut Trainer) -> Result<Option<(IterReport, u64)>> {
            if self.batches.is_empty() {
                return Ok(None);
            }
            let batch = self.batches.remove(0);
            let rows = batch.x.nrows() as u64;
            let mut ws = Workspace::new();
            let scale = self.num_data as f64 / rows as f64;
            ws.set_batch(&trainer.model, &batch.x, &batch.y, scale)?;
            Ok(Some((trainer.step_with(&mut ws)?, rows)))
        }
    }

    /// A seeded regression problem of 90 rows and its trainer (M = 10).
    fn problem() -> (DMatrix<f64>, DVector<f64>, Trainer) {
        let x = DMatrix::from_fn(90, 2, |i, j| ((i * (j + 3)) as f64 * 0.37).sin() * 2.0);
        let y = DVector::from_fn(90, |i, _| x[(i, 0)].sin() + 0.1 * (i as f64 * 1.7).cos());
        let kernel = Matern52::new(1.0, vec![1.0, 1.0]).unwrap();
        let likelihood = Gaussian::new(0.5).unwrap();
        let model =
            Svgp::new(Box::new(kernel), Box::new(likelihood), x.rows(0, 10).into()).unwrap();
        let q = QTraining::natural(Xi::Natural, Schedule::Constant(0.5));
        let trainer = Trainer::new(model, q, HyperTraining::Adam(AdamConfig::default()));
        (x, y, trainer)
    }

    /// The loop over evaluations set elsewhere trains the model the loop over a batch source
    /// trains on the same batches, bit for bit, and ends when they run out (BatchesExhausted,
    /// the rows counted, every iteration observed).
    #[test]
    fn steps_from_elsewhere_train_the_batch_sources_model() {
        let plan = BatchPlan::Seeded {
            batch_size: 30,
            seed: 4,
        };
        let (x, y, mut here) = problem();
        let mut source = InMemory::new(&x, &y, plan.clone()).unwrap();
        here.run(&mut source, 5, StopRules::default(), &mut [])
            .unwrap();
        let mut source = InMemory::new(&x, &y, plan).unwrap();
        let batches = (0..5).map(|_| source.next_batch().unwrap().unwrap());
        let mut listed = Listed {
            batches: batches.collect(),
            num_data: 90,
        };
        let (_, _, mut elsewhere) = problem();
        let mut trace = Trace::default();
        let summary = elsewhere
            .run_steps(&mut listed, 8, StopRules::default(), &mut [&mut trace])
            .unwrap();
        assert_eq!(summary.reason, StopReason::BatchesExhausted);
        assert_eq!((summary.iterations, summary.rows_trained), (5, 150));
        let seen: Vec<u64> = trace.reports.iter().map(|r| r.iteration).collect();
        assert_eq!(seen, [1, 2, 3, 4, 5]);
        assert_eq!(here.model.hyper_params(), elsewhere.model.hyper_params());
        for (a, b) in here.model.qs().iter().zip(elsewhere.model.qs()) {
            assert_eq!((a.m(), a.l()), (b.m(), b.l()));
        }
    }
}
