//! Passes over all the rows of a data set a chunk of rows at a time, so that their memory is
//! bounded by the data and a fixed amount, not by N·M: the full-data ELBO ([`ElboSum`]: its
//! data term Σᵢ veᵢ is a sum over rows, MATH.md §1), predictions and metrics. The chunk size
//! comes from one byte bound, [`CHUNK_BYTES`].

use super::workspace::check_scale;
use super::{total_kl, Svgp, Workspace};
use crate::error::{check_shape, check_targets_shape, Result, Shape};
use nalgebra::{DMatrix, DVector};

/// The bytes that the row-sized buffers of one chunk may take (Kuf and A, M×b for each kernel;
/// Lᵀ A, M×b for each latent; the chunk's inputs, targets, marginals and likelihood
/// expectations): 32 MiB. Small beside the data a pass reads (a 10⁶-row table of 8 features
/// is 64 MB), and large enough that a chunk's M×b products keep their blocked rate (b ≥ 1000
/// rows for M ≤ 1000; every M×M factorisation a chunk repeats costs M³/3 beside its ≥ 3·M²·b).
pub const CHUNK_BYTES: usize = 32 << 20;

/// Rows per chunk for M = `inducing` inducing inputs, D = `inputs`, K = `kernels`, L =
/// `latents` and P = `outputs`: the most whose buffers, 8·(K·(2M + 1) + L·(M + 5) + D + P)
/// bytes a row, fit in [`CHUNK_BYTES`]; at least 1.
pub fn chunk_rows(
    inducing: usize,
    inputs: usize,
    kernels: usize,
    latents: usize,
    outputs: usize,
) -> usize {
    let per_row = 8 * (kernels * (2 * inducing + 1) + latents * (inducing + 5) + inputs + outputs);
    (CHUNK_BYTES / per_row.max(1)).max(1)
}

impl Svgp {
    /// The rows per chunk of this model's passes over all rows ([`chunk_rows`] of its M, D,
    /// kernels, latents and outputs).
    pub fn chunk_rows(&self) -> usize {
        chunk_rows(
            self.num_inducing(),
            self.input_dim(),
            self.kernels().len(),
            self.num_latent(),
            self.likelihood().num_outputs(),
        )
    }
}

/// Rows `start..start + len` of targets `y` holding an n×P matrix column-major (length n·P):
/// len×P, column-major.
pub(crate) fn target_rows(y: &DVector<f64>, n: usize, start: usize, len: usize) -> DVector<f64> {
    let outputs = y.len() / n.max(1);
    DVector::from_iterator(
        len * outputs,
        (0..outputs).flat_map(|p| y.rows(p * n + start, len).into_iter().copied()),
    )
}

/// Calls `f(start, x, y)` for each chunk of at most `rows` rows of inputs `x` (N×D) and
/// targets `y` (N×P column-major), in order, stopping at its first error.
pub(crate) fn for_each_chunk(
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    rows: usize,
    mut f: impl FnMut(usize, &DMatrix<f64>, &DVector<f64>) -> Result<()>,
) -> Result<()> {
    let n = x.nrows();
    for start in (0..n).step_by(rows.max(1)) {
        let len = rows.max(1).min(n - start);
        let xc = x.rows(start, len).into_owned();
        f(start, &xc, &target_rows(y, n, start, len))?;
    }
    Ok(())
}

/// The ELBO of a model over rows handed to it a chunk at a time (in any number of calls to
/// [`ElboSum::add`]): Σᵢ veᵢ accumulated chunk by chunk, each chunk at most the model's
/// [`Svgp::chunk_rows`] rows, then c Σᵢ veᵢ − Σₗ KLₗ. Its memory is one chunk's, whatever the
/// number of rows; the result is the one-batch ELBO up to the order of summation.
pub struct ElboSum<'a> {
    model: &'a Svgp,
    workspace: Workspace,
    ve: f64,
}

impl<'a> ElboSum<'a> {
    /// An empty sum for `model`.
    pub fn new(model: &'a Svgp) -> Self {
        ElboSum {
            model,
            workspace: Workspace::new(),
            ve: 0.0,
        }
    }

    /// Adds Σᵢ veᵢ over rows `x` (b×D) with targets `y` (b×P column-major).
    ///
    /// # Errors
    /// `ShapeMismatch` if x is not b×D or y does not have b·P entries; `InvalidTarget` naming
    /// the row of `x` of the first target outside the likelihood's domain; `NotPositiveDefinite`
    /// for a Kuu.
    pub fn add(&mut self, x: &DMatrix<f64>, y: &DVector<f64>) -> Result<()> {
        let model = self.model;
        check_shape(
            "batch inputs",
            Shape::new(x.nrows(), model.input_dim()),
            Shape::new(x.nrows(), x.ncols()),
        )?;
        let outputs = model.likelihood().num_outputs();
        check_targets_shape("batch targets", x.nrows(), outputs, y.len())?;
        model.likelihood().check_targets(y)?;
        let (ws, ve) = (&mut self.workspace, &mut self.ve);
        for_each_chunk(x, y, model.chunk_rows(), |_, xc, yc| {
            ws.set_batch(model, xc, yc, 1.0)?;
            *ve += ws.data_term(model)?;
            Ok(())
        })
    }

    /// c Σᵢ veᵢ − Σₗ KLₗ over the rows added, `scale` c (N/B for a minibatch, 1 for all rows).
    ///
    /// # Errors
    /// `InvalidParameter { name: "scale" }` unless c is finite and positive.
    pub fn elbo(&self, scale: f64) -> Result<f64> {
        check_scale(scale)?;
        Ok(scale * self.ve - total_kl(self.model.qs()))
    }
}
