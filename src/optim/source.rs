//! Where training batches come from: a [`BatchSource`] yields minibatches with their row numbers,
//! so one training loop ([`super::Trainer::run`], through [`super::BatchSteps`]) serves tables in memory ([`InMemory`]) and
//! tables streamed from disk (the tabular layer's streamed source) alike.

use super::{BatchPlan, Batches};
use crate::data::{select_target_rows, Batch};
use crate::error::{check_targets_shape, Result, SvgpError};
use nalgebra::{DMatrix, DVector};

/// A stream of training minibatches over N rows, already in the model's units.
pub trait BatchSource {
    /// N, the rows the ELBO sums over: a batch of b rows is scaled by N/b.
    fn num_data(&self) -> u64;

    /// The next batch (inputs B×D, targets B, and the source's row number of each), or `None`
    /// when the source has run out.
    ///
    /// # Errors
    /// Whatever reading the batch fails with (a file error naming the file and row).
    fn next_batch(&mut self) -> Result<Option<Batch>>;

    /// Draws and discards `batches` batches, leaving the source where one that served them
    /// would be (to resume training). Default: draws them with [`BatchSource::next_batch`].
    ///
    /// # Errors
    /// As [`BatchSource::next_batch`].
    fn skip(&mut self, batches: u64) -> Result<()> {
        for _ in 0..batches {
            if self.next_batch()?.is_none() {
                break;
            }
        }
        Ok(())
    }

    /// `error` about a row of this source (an [`SvgpError::InvalidTarget`] whose row is the
    /// source's row number) rewritten to name where that row comes from. Default: unchanged.
    fn locate(&self, error: SvgpError) -> SvgpError {
        error
    }
}

impl<S: BatchSource + ?Sized> BatchSource for &mut S {
    fn num_data(&self) -> u64 {
        (**self).num_data()
    }
    fn next_batch(&mut self) -> Result<Option<Batch>> {
        (**self).next_batch()
    }
    fn skip(&mut self, batches: u64) -> Result<()> {
        (**self).skip(batches)
    }
    fn locate(&self, error: SvgpError) -> SvgpError {
        (**self).locate(error)
    }
}

impl<S: BatchSource + ?Sized> BatchSource for Box<S> {
    fn num_data(&self) -> u64 {
        (**self).num_data()
    }
    fn next_batch(&mut self) -> Result<Option<Batch>> {
        (**self).next_batch()
    }
    fn skip(&mut self, batches: u64) -> Result<()> {
        (**self).skip(batches)
    }
    fn locate(&self, error: SvgpError) -> SvgpError {
        (**self).locate(error)
    }
}

/// Batches of rows of an in-memory table (x: N×D, y: N×P column-major, length N·P) drawn by a
/// [`BatchPlan`]; row numbers are 0-based indices into x.
#[derive(Debug)]
pub struct InMemory<'a> {
    x: &'a DMatrix<f64>,
    y: &'a DVector<f64>,
    batches: Batches,
}

impl<'a> InMemory<'a> {
    /// Batches of (x: N×D, y: N×P column-major) drawn by `plan`.
    ///
    /// # Errors
    /// `ShapeMismatch` if y's length is not a multiple N·P of N (N > 0); as [`Batches::new`].
    pub fn new(x: &'a DMatrix<f64>, y: &'a DVector<f64>, plan: BatchPlan) -> Result<Self> {
        let outputs = (y.len() / x.nrows().max(1)).max(1);
        check_targets_shape("training targets", x.nrows(), outputs, y.len())?;
        let batches = Batches::new(plan, x.nrows())?;
        Ok(InMemory { x, y, batches })
    }
}

impl BatchSource for InMemory<'_> {
    fn num_data(&self) -> u64 {
        self.x.nrows() as u64
    }

    fn next_batch(&mut self) -> Result<Option<Batch>> {
        let Some(rows) = self.batches.next_batch() else {
            return Ok(None);
        };
        let x = self.x.select_rows(rows.iter());
        let y = select_target_rows(self.y, self.x.nrows(), &rows);
        let rows = rows.into_iter().map(|i| i as u64).collect();
        Ok(Some(Batch { rows, x, y }))
    }

    fn skip(&mut self, batches: u64) -> Result<()> {
        // the row lists alone: the same draws from the plan's generator, no rows gathered
        for _ in 0..batches {
            if self.batches.next_batch().is_none() {
                break;
            }
        }
        Ok(())
    }
}
