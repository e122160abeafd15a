//! Minibatch index streams: seeded epoch-wise shuffles, or an explicit list (to replay another
//! implementation's exact batches).

use crate::error::{Result, SvgpError};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Where each iteration's batch rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchPlan {
    /// Shuffle the N rows with a seeded generator each epoch and take consecutive chunks of
    /// `batch_size` (a short last chunk is dropped; the next epoch reshuffles). `batch_size ≥ N`
    /// means the full batch, rows in order, every iteration.
    Seeded {
        /// B.
        batch_size: usize,
        /// Seed of the shuffles.
        seed: u64,
    },
    /// Iteration t uses `batches[t − 1]` (0-based row indices); training stops when they run out.
    Explicit(Vec<Vec<usize>>),
}

/// The running stream of batches for one training run over N rows.
#[derive(Debug)]
pub struct Batches {
    plan: BatchPlan,
    num_data: usize,
    rng: StdRng,
    order: Vec<usize>,
    cursor: usize,
    taken: usize,
}

impl Batches {
    /// The stream for `plan` over `num_data` rows.
    ///
    /// # Errors
    /// `InvalidParameter` for B = 0, an empty explicit batch or an index ≥ N (naming it).
    pub fn new(plan: BatchPlan, num_data: usize) -> Result<Self> {
        let bad = |name: String, value: usize, reason| SvgpError::InvalidParameter {
            name,
            value: value as f64,
            reason,
        };
        match &plan {
            BatchPlan::Seeded { batch_size: 0, .. } => {
                return Err(bad("batch_size".into(), 0, "must be at least 1"))
            }
            BatchPlan::Explicit(list) => {
                for (t, batch) in list.iter().enumerate() {
                    if batch.is_empty() {
                        return Err(bad(
                            format!("batch {}", t + 1),
                            0,
                            "explicit batches must not be empty",
                        ));
                    }
                    if let Some(&i) = batch.iter().find(|&&i| i >= num_data) {
                        return Err(bad(
                            format!("batch {} row index", t + 1),
                            i,
                            "row index beyond the data",
                        ));
                    }
                }
            }
            _ => {}
        }
        let seed = match plan {
            BatchPlan::Seeded { seed, .. } => seed,
            BatchPlan::Explicit(_) => 0,
        };
        let order = (0..num_data).collect();
        Ok(Batches {
            plan,
            num_data,
            rng: StdRng::seed_from_u64(seed),
            order,
            cursor: num_data,
            taken: 0,
        })
    }

    /// The next batch's row indices, or `None` when an explicit list is exhausted.
    pub fn next_batch(&mut self) -> Option<Vec<usize>> {
        self.taken += 1;
        match &self.plan {
            BatchPlan::Explicit(list) => list.get(self.taken - 1).cloned(),
            BatchPlan::Seeded { batch_size, .. } if *batch_size >= self.num_data => {
                Some((0..self.num_data).collect())
            }
            BatchPlan::Seeded { batch_size, .. } => {
                let b = *batch_size;
                if self.cursor + b > self.num_data {
                    self.order.shuffle(&mut self.rng);
                    self.cursor = 0;
                }
                let batch = self.order[self.cursor..self.cursor + b].to_vec();
                self.cursor += b;
                Some(batch)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_batches_cover_each_epoch_once_and_repeat_with_the_seed() {
        let plan = BatchPlan::Seeded {
            batch_size: 3,
            seed: 9,
        };
        let mut a = Batches::new(plan.clone(), 10).unwrap();
        let mut b = Batches::new(plan, 10).unwrap();
        let epoch: Vec<usize> = (0..3).flat_map(|_| a.next_batch().unwrap()).collect();
        let mut sorted = epoch.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            9,
            "three batches of an epoch are distinct rows"
        );
        let again: Vec<usize> = (0..3).flat_map(|_| b.next_batch().unwrap()).collect();
        assert_eq!(epoch, again);
    }

    #[test]
    fn explicit_batches_replay_and_end() {
        let mut s = Batches::new(BatchPlan::Explicit(vec![vec![2, 0], vec![1]]), 3).unwrap();
        assert_eq!(s.next_batch(), Some(vec![2, 0]));
        assert_eq!(s.next_batch(), Some(vec![1]));
        assert_eq!(s.next_batch(), None);
        assert!(Batches::new(BatchPlan::Explicit(vec![vec![3]]), 3).is_err());
        assert!(Batches::new(
            BatchPlan::Seeded {
                batch_size: 0,
                seed: 1
            },
            3
        )
        .is_err());
    }
}
