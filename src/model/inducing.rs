//! Choosing inducing inputs Z: k-means++ seeding followed by Lloyd iterations, a random subset of
//! the rows, or the first M rows (all seeded, all returning M×D).

use crate::error::{Result, SvgpError};
use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// How to pick the M inducing inputs from the training inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum InducingInit {
    /// k-means++ seeding, then at most `lloyd_iterations` Lloyd steps (stops early at a fixed point).
    KMeans {
        /// Upper bound on Lloyd refinement steps.
        lloyd_iterations: usize,
    },
    /// M distinct rows drawn uniformly.
    RandomSubset,
    /// The first M rows (as the peer scripts do).
    FirstRows,
    /// User-given Z (M×D).
    Given(DMatrix<f64>),
}

impl Default for InducingInit {
    /// k-means++ with up to 25 Lloyd steps.
    fn default() -> Self {
        InducingInit::KMeans {
            lloyd_iterations: 25,
        }
    }
}

impl InducingInit {
    /// M inducing inputs from `x` (N×D) with the given seed.
    ///
    /// # Errors
    /// `InvalidParameter { name: "num_inducing" }` if M is 0 or exceeds N (for the data-based
    /// choices); `ShapeMismatch` if a given Z has the wrong width or row count.
    pub fn choose(&self, x: &DMatrix<f64>, num_inducing: usize, seed: u64) -> Result<DMatrix<f64>> {
        let n = x.nrows();
        if let InducingInit::Given(z) = self {
            crate::error::check_shape(
                "given inducing inputs Z",
                crate::error::Shape::new(num_inducing, x.ncols()),
                crate::error::Shape::new(z.nrows(), z.ncols()),
            )?;
            return Ok(z.clone());
        }
        if num_inducing == 0 || num_inducing > n {
            return Err(SvgpError::InvalidParameter {
                name: "num_inducing".into(),
                value: num_inducing as f64,
                reason: "must be at least 1 and at most the number of training rows",
            });
        }
        let mut rng = StdRng::seed_from_u64(seed);
        Ok(match self {
            InducingInit::FirstRows => x.rows(0, num_inducing).into_owned(),
            InducingInit::RandomSubset => {
                let rows = rand::seq::index::sample(&mut rng, n, num_inducing).into_vec();
                x.select_rows(rows.iter())
            }
            InducingInit::KMeans { lloyd_iterations } => {
                let z = kmeans_plus_plus(x, num_inducing, &mut rng);
                lloyd(x, z, *lloyd_iterations)
            }
            InducingInit::Given(z) => z.clone(), // returned above, after its shape check
        })
    }

    /// As [`InducingInit::choose`], then each of the listed `code_columns` of Z snapped to the
    /// nearest value present in that column of `x` (ties to the smaller), so columns of category
    /// codes hold valid codes although k-means averages rows. Columns not listed are unchanged.
    ///
    /// # Errors
    /// As [`InducingInit::choose`]; `InvalidParameter { name: "code_columns" }` naming a column
    /// ≥ D (the value is the column).
    pub fn choose_keeping_codes(
        &self,
        x: &DMatrix<f64>,
        num_inducing: usize,
        seed: u64,
        code_columns: &[usize],
    ) -> Result<DMatrix<f64>> {
        if let Some(&c) = code_columns.iter().find(|&&c| c >= x.ncols()) {
            return Err(SvgpError::InvalidParameter {
                name: "code_columns".into(),
                value: c as f64,
                reason: "a code column must be below the input dimension D",
            });
        }
        let mut z = self.choose(x, num_inducing, seed)?;
        for &c in code_columns {
            let mut codes: Vec<f64> = x.column(c).iter().copied().collect();
            codes.sort_by(f64::total_cmp);
            codes.dedup();
            z.column_mut(c)
                .iter_mut()
                .for_each(|v| *v = nearest_code(&codes, *v));
        }
        Ok(z)
    }
}

/// The entry of `codes` (sorted, distinct, non-empty) nearest to `v`, the smaller on a tie.
fn nearest_code(codes: &[f64], v: f64) -> f64 {
    let above = codes.partition_point(|&c| c < v);
    match (above.checked_sub(1).map(|i| codes[i]), codes.get(above)) {
        (Some(lo), Some(&hi)) if hi - v < v - lo => hi,
        (Some(lo), _) => lo,
        (None, Some(&hi)) => hi,
        (None, None) => v,
    }
}

fn sq_dist(x: &DMatrix<f64>, i: usize, z: &DMatrix<f64>, j: usize) -> f64 {
    (0..x.ncols())
        .map(|d| (x[(i, d)] - z[(j, d)]).powi(2))
        .sum()
}

/// k-means++ seeding (Arthur & Vassilvitskii 2007): each next centre drawn with probability
/// proportional to its squared distance from the nearest centre chosen so far.
fn kmeans_plus_plus(x: &DMatrix<f64>, k: usize, rng: &mut StdRng) -> DMatrix<f64> {
    let n = x.nrows();
    let mut z = DMatrix::zeros(k, x.ncols());
    z.row_mut(0).copy_from(&x.row(rng.random_range(0..n)));
    let mut nearest: Vec<f64> = (0..n).map(|i| sq_dist(x, i, &z, 0)).collect();
    for c in 1..k {
        let total: f64 = nearest.iter().sum();
        let pick = if total > 0.0 {
            let mut target = rng.random::<f64>() * total;
            nearest
                .iter()
                .position(|&d| {
                    target -= d;
                    target < 0.0
                })
                .unwrap_or(n - 1)
        } else {
            rng.random_range(0..n) // every point already a centre: duplicates are unavoidable
        };
        z.row_mut(c).copy_from(&x.row(pick));
        for (i, d) in nearest.iter_mut().enumerate() {
            *d = d.min(sq_dist(x, i, &z, c));
        }
    }
    z
}

/// Lloyd iterations: assign each row to its nearest centre, move each centre to its cluster mean
/// (an empty cluster keeps its centre); stop at a fixed point or after `iterations`.
fn lloyd(x: &DMatrix<f64>, mut z: DMatrix<f64>, iterations: usize) -> DMatrix<f64> {
    let (n, k) = (x.nrows(), z.nrows());
    let mut assign = vec![usize::MAX; n];
    for _ in 0..iterations {
        let mut changed = false;
        for (i, a) in assign.iter_mut().enumerate() {
            let best = (0..k)
                .map(|j| (j, sq_dist(x, i, &z, j)))
                .fold((0, f64::INFINITY), |b, c| if c.1 < b.1 { c } else { b })
                .0;
            changed |= *a != best;
            *a = best;
        }
        if !changed {
            break;
        }
        let mut sums = DMatrix::zeros(k, x.ncols());
        let mut counts = vec![0usize; k];
        for (i, &a) in assign.iter().enumerate() {
            counts[a] += 1;
            let mut row = sums.row_mut(a);
            row += x.row(i);
        }
        for j in (0..k).filter(|&j| counts[j] > 0) {
            let mean = sums.row(j) / counts[j] as f64;
            z.row_mut(j).copy_from(&mean);
        }
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three tight clusters around known centres: k-means++ then Lloyd recovers the centres
    /// (to the clusters' mean, exact by construction), whatever the seed.
    #[test]
    fn kmeans_finds_separated_cluster_centres() {
        let centres = [(-5.0, 0.0), (0.0, 5.0), (5.0, -1.0)];
        let offsets = [(-0.1, 0.0), (0.1, 0.0), (0.0, -0.1), (0.0, 0.1)];
        let x = DMatrix::from_fn(12, 2, |i, j| {
            let (c, o) = (centres[i / 4], offsets[i % 4]);
            if j == 0 {
                c.0 + o.0
            } else {
                c.1 + o.1
            }
        });
        for seed in 0..5 {
            let z = InducingInit::default().choose(&x, 3, seed).unwrap();
            for c in centres {
                let hit = (0..3)
                    .any(|r| (z[(r, 0)] - c.0).abs() < 1e-12 && (z[(r, 1)] - c.1).abs() < 1e-12);
                assert!(hit, "seed {seed}: centre {c:?} missing from {z}");
            }
        }
    }

    /// Column 1 holds codes {0, 1, 5} (here scaled by 0.5: {0, 0.5, 2.5}); k-means centres
    /// average them, the kept columns are snapped back to codes present in the data while
    /// column 0 keeps its means; a column ≥ D is refused.
    #[test]
    fn code_columns_stay_codes() {
        let codes = [0.0, 0.5, 2.5];
        let x = DMatrix::from_fn(30, 2, |i, j| {
            if j == 0 {
                (i as f64 * 0.37).sin()
            } else {
                codes[i % 3]
            }
        });
        let init = InducingInit::default();
        let plain = init.choose(&x, 4, 3).unwrap();
        assert!(
            plain.column(1).iter().any(|v| !codes.contains(v)),
            "k-means must average codes for this test to mean anything: {plain}"
        );
        let kept = init.choose_keeping_codes(&x, 4, 3, &[1]).unwrap();
        assert!(kept.column(1).iter().all(|v| codes.contains(v)), "{kept}");
        assert_eq!(kept.column(0), plain.column(0));
        for (k, p) in kept.column(1).iter().zip(plain.column(1).iter()) {
            let best = codes
                .iter()
                .map(|c| (c - p).abs())
                .fold(f64::INFINITY, f64::min);
            assert_eq!((k - p).abs(), best, "{p} snapped to {k}");
        }
        let e = init.choose_keeping_codes(&x, 4, 3, &[2]).unwrap_err();
        assert!(
            matches!(&e, SvgpError::InvalidParameter { name, value, .. }
                if name == "code_columns" && *value == 2.0),
            "{e:?}"
        );
        assert_eq!(
            nearest_code(&[0.0, 1.0], 0.5),
            0.0,
            "a tie goes to the smaller"
        );
    }

    #[test]
    fn subsets_and_given_and_bad_counts() {
        let x = DMatrix::from_fn(10, 1, |i, _| i as f64);
        let z = InducingInit::RandomSubset.choose(&x, 4, 1).unwrap();
        let mut rows: Vec<f64> = z.iter().copied().collect();
        rows.sort_by(f64::total_cmp);
        rows.dedup();
        assert_eq!(rows.len(), 4, "distinct rows");
        assert_eq!(
            InducingInit::FirstRows.choose(&x, 2, 0).unwrap(),
            x.rows(0, 2).into_owned()
        );
        assert!(InducingInit::FirstRows.choose(&x, 11, 0).is_err());
        assert!(InducingInit::default().choose(&x, 0, 0).is_err());
        assert!(InducingInit::Given(DMatrix::zeros(3, 2))
            .choose(&x, 3, 0)
            .is_err());
    }
}
