//! One minibatch as the evaluations see it ([`BatchView`]), and the marginals of every latent's
//! q there ([`LatentMarginals`]): what the workspace holds and the gradients read (MATH.md §1).

use super::gram::summed_variance;
use super::Conditional;
use crate::linalg::reshape_buffer;
use crate::variational::VariationalQ;
use nalgebra::{DMatrix, DVector};
use std::ops::Range;

/// One batch as the gradients see it: its conditionals at the model's hyperparameters (one per
/// kernel), inputs (B×D), targets (B×P column-major, length B·P) and scale c = N/B.
pub(super) struct BatchView<'a> {
    pub conds: &'a [Conditional],
    pub x: &'a DMatrix<f64>,
    pub y: &'a DVector<f64>,
    pub scale: f64,
    /// W = A Aᵀ of each conditional when the batch is trained from its Gram matrix, else empty.
    pub grams: &'a [DMatrix<f64>],
    /// Whether the K̄uf and K̄uu branches run side by side on two threads
    /// ([`crate::Parallelism::joins_branches`]).
    pub join: bool,
}

impl BatchView<'_> {
    /// Latent l's conditional: the only one with a shared kernel, else the l-th.
    pub fn cond(&self, l: usize) -> &Conditional {
        &self.conds[if self.conds.len() == 1 { 0 } else { l }]
    }

    /// Latent l's Gram matrix when the batch is trained from it ([`super::gram`]).
    pub fn gram(&self, l: usize) -> Option<&DMatrix<f64>> {
        match self.grams.len() {
            0 => None,
            1 => Some(&self.grams[0]),
            _ => Some(&self.grams[l]),
        }
    }

    /// The latents whose kernel is kernel k (all of them with a shared kernel), of `latents`.
    pub fn latents_of(&self, k: usize, latents: usize) -> Range<usize> {
        if self.conds.len() == 1 {
            0..latents
        } else {
            k..k + 1
        }
    }
}

/// The marginals of every latent's q at one batch, with the products they came from.
#[derive(Debug, Clone)]
pub(super) struct LatentMarginals {
    /// μ, B×L: column l is Aₗᵀ mₗ.
    pub mu: DMatrix<f64>,
    /// σ², B×L: σ²ᵢₗ = kffᵢ − ‖aᵢ‖² + ‖Lₗᵀaᵢ‖²; from a Gram matrix, every row holds the
    /// batch mean (1/B) Σᵢ σ²ᵢₗ, all a likelihood affine in σ² needs ([`super::gram`]).
    pub var: DMatrix<f64>,
    /// Lₗᵀ Aₗ (M×B) for each latent l; not computed from a Gram matrix.
    pub lta: Vec<DMatrix<f64>>,
}

impl LatentMarginals {
    pub fn empty() -> Self {
        LatentMarginals {
            mu: DMatrix::zeros(0, 0),
            var: DMatrix::zeros(0, 0),
            lta: Vec::new(),
        }
    }

    /// The marginals of each of `qs` at the batch, in these buffers.
    pub fn compute(&mut self, batch: &BatchView, qs: &[VariationalQ]) {
        let (b, latents) = (batch.x.nrows(), qs.len());
        reshape_buffer(&mut self.mu, b, latents);
        reshape_buffer(&mut self.var, b, latents);
        self.lta.resize_with(latents, || DMatrix::zeros(0, 0));
        for (l, (q, lta)) in qs.iter().zip(self.lta.iter_mut()).enumerate() {
            let (cond, mut mu, mut var) =
                (batch.cond(l), self.mu.column_mut(l), self.var.column_mut(l));
            match batch.gram(l) {
                Some(gram) => {
                    cond.a.tr_mul_to(q.m(), &mut mu); // Aᵀ m
                    let total = summed_variance(cond, gram, q);
                    var.fill((total / b.max(1) as f64).max(0.0));
                }
                None => cond.marginals_into(q, mu, var, lta),
            }
        }
    }
}
