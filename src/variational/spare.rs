//! Spare buffers for natural steps: the matrices of q's and of step temporaries that are no longer
//! needed, kept so that the next step builds in them instead of allocating. In a training loop
//! every M×M matrix of the natural step in θ then comes from here. At M = 500 a fresh 2 MB
//! matrix costs about 512 page faults; with fresh matrices the natural step took 10 ms, not 5.

use super::{Coords, VariationalQ};
use nalgebra::{DMatrix, DVector};

/// How many matrices (and, separately, vectors) a [`Spare`] keeps: more M×M matrices than a
/// natural step in θ holds at once (its two ends, S⁻¹, a scratch matrix, L and S's buffer).
const CAPACITY: usize = 8;

/// A small pool of spare matrices and vectors; their contents mean nothing. Holds at most eight
/// of each, so it never keeps more than eight M×M matrices alive.
#[derive(Debug, Clone, Default)]
pub struct Spare {
    matrices: Vec<DMatrix<f64>>,
    vectors: Vec<DVector<f64>>,
}

impl Spare {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// An R×C matrix: a kept one of that shape (contents unspecified) if there is one, else
    /// zeros.
    pub fn matrix(&mut self, r: usize, c: usize) -> DMatrix<f64> {
        match self.matrices.iter().rposition(|a| a.shape() == (r, c)) {
            Some(k) => self.matrices.swap_remove(k),
            None => DMatrix::zeros(r, c),
        }
    }

    /// A vector of length N: a kept one (contents unspecified) if there is one, else zeros.
    pub fn vector(&mut self, n: usize) -> DVector<f64> {
        match self.vectors.iter().rposition(|v| v.len() == n) {
            Some(k) => self.vectors.swap_remove(k),
            None => DVector::zeros(n),
        }
    }

    /// Keeps `a` for reuse (drops it when the pool is full).
    pub fn keep_matrix(&mut self, a: DMatrix<f64>) {
        if self.matrices.len() < CAPACITY && !a.is_empty() {
            self.matrices.push(a);
        }
    }

    /// Keeps `v` for reuse (drops it when the pool is full).
    pub fn keep_vector(&mut self, v: DVector<f64>) {
        if self.vectors.len() < CAPACITY && !v.is_empty() {
            self.vectors.push(v);
        }
    }

    /// Keeps both parts of `c`.
    pub fn keep_coords(&mut self, c: Coords) {
        self.keep_vector(c.vector);
        self.keep_matrix(c.matrix);
    }

    /// Keeps the buffers of a q no longer needed: m, L and whichever of S and S⁻¹ it had formed.
    pub fn keep_q(&mut self, q: VariationalQ) {
        let (m, matrices) = q.into_buffers();
        self.keep_vector(m);
        matrices.into_iter().for_each(|a| self.keep_matrix(a));
    }
}
