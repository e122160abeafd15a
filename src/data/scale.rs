//! Standardisation of columns (z-scores), fitted on training data and stored with a model, and a
//! seeded train/test split.

use crate::error::{Result, Shape, SvgpError};
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Per-column affine map x ↦ (x − mean)/scale. A constant column gets scale 1 (it maps to 0
/// instead of dividing by zero).
#[derive(Debug, Clone, PartialEq)]
pub struct Standardiser {
    /// Column means, length D.
    pub mean: DVector<f64>,
    /// Column standard deviations (population), length D; 1 for a constant column.
    pub scale: DVector<f64>,
}

impl Standardiser {
    /// Fits the means and standard deviations of the columns of `x` (N×D, N ≥ 1).
    pub fn fit(x: &DMatrix<f64>) -> Self {
        Moments::of(x).standardiser()
    }

    /// The map for columns with these means and population standard deviations (equal
    /// lengths D), e.g. from a binary table's header; an sd below 1e-12·max(1, |mean|) counts as
    /// a constant column and gets scale 1.
    pub fn from_moments(mean: &[f64], sd: &[f64]) -> Self {
        let scale = mean
            .iter()
            .zip(sd)
            .map(|(m, &s)| if s > 1e-12 * m.abs().max(1.0) { s } else { 1.0 });
        Standardiser {
            mean: DVector::from_column_slice(mean),
            scale: DVector::from_iterator(mean.len(), scale),
        }
    }

    /// Fits a single column (a target vector).
    pub fn fit_vector(y: &DVector<f64>) -> Self {
        Self::fit_columns(y, 1)
    }

    /// Fits the P = `columns` columns of an N×P matrix stored column-major in `y` (length N·P;
    /// several targets).
    pub fn fit_columns(y: &DVector<f64>, columns: usize) -> Self {
        let n = y.len() / columns.max(1);
        Self::fit(&DMatrix::from_column_slice(n, columns, y.as_slice()))
    }

    /// Σ log scale over the columns: the log-Jacobian of the map (per row).
    pub fn log_scale_sum(&self) -> f64 {
        self.scale.iter().map(|s| s.ln()).sum()
    }

    /// (x − mean)/scale column-wise; `x` must have D columns.
    pub fn transform(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let mut out = x.clone();
        self.transform_in_place(out.as_mut_slice());
        out
    }

    /// (y − mean)/scale for `y` holding the D columns of an N×D matrix column-major (length N·D;
    /// a target vector for D = 1).
    pub fn transform_vector(&self, y: &DVector<f64>) -> DVector<f64> {
        let mut out = y.clone();
        self.transform_in_place(out.as_mut_slice());
        out
    }

    /// (y − mean)/scale in place for `values` holding the D columns of an N×D matrix
    /// column-major (length N·D), as [`Standardiser::transform_vector`] without a copy.
    pub fn transform_in_place(&self, values: &mut [f64]) {
        let n = values.len() / self.mean.len().max(1);
        for (j, column) in values.chunks_mut(n.max(1)).enumerate() {
            let (mean, scale) = (self.mean[j], self.scale[j]);
            column.iter_mut().for_each(|v| *v = (*v - mean) / scale);
        }
    }

    /// mean + scale·v column-wise (predictive means back in units); `v` must have D columns.
    pub fn inverse(&self, v: &DMatrix<f64>) -> DMatrix<f64> {
        DMatrix::from_fn(v.nrows(), v.ncols(), |i, j| {
            self.mean[j] + self.scale[j] * v[(i, j)]
        })
    }
}

/// The moments of the columns of some rows: their count n, means and sums of squared
/// deviations M2 (length D each). Moments of disjoint sets of rows merge into those of their
/// union (Chan, Golub & LeVeque's pairwise update), so shards held apart standardise with the
/// moments of all their rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    /// n, the rows.
    pub count: u64,
    /// Column means, length D.
    pub mean: DVector<f64>,
    /// Column sums of squared deviations from the mean, length D.
    pub m2: DVector<f64>,
}

impl Moments {
    /// The moments of the columns of `x` (N×D): two passes, the means then the squared
    /// deviations.
    pub fn of(x: &DMatrix<f64>) -> Self {
        let n = x.nrows().max(1) as f64;
        let mean = DVector::from_fn(x.ncols(), |j, _| x.column(j).sum() / n);
        let m2 = DVector::from_fn(x.ncols(), |j, _| {
            x.column(j).iter().map(|v| (v - mean[j]).powi(2)).sum()
        });
        Moments {
            count: x.nrows() as u64,
            mean,
            m2,
        }
    }

    /// The moments of the union of these rows and `other`'s (same D): for δ = mean_b − mean_a,
    /// mean = mean_a + δ·n_b/n and M2 = M2_a + M2_b + δ²·n_a·n_b/n, n = n_a + n_b.
    ///
    /// # Errors
    /// `ShapeMismatch` when the column counts differ.
    pub fn merge(&self, other: &Moments) -> Result<Moments> {
        if other.mean.len() != self.mean.len() || other.m2.len() != self.mean.len() {
            return Err(SvgpError::ShapeMismatch {
                what: "column moments",
                expected: Shape::new(1, self.mean.len()),
                found: Shape::new(1, other.mean.len()),
            });
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        let delta = &other.mean - &self.mean;
        let mean = DVector::from_fn(delta.len(), |j, _| self.mean[j] + delta[j] * nb / n);
        let m2 = DVector::from_fn(delta.len(), |j, _| {
            self.m2[j] + other.m2[j] + delta[j].powi(2) * na * nb / n
        });
        Ok(Moments {
            count: self.count + other.count,
            mean,
            m2,
        })
    }

    /// The standardiser of these columns: their means and population standard deviations
    /// √(M2/n) (see [`Standardiser::from_moments`] for constant columns).
    pub fn standardiser(&self) -> Standardiser {
        let n = self.count.max(1) as f64;
        let sd: Vec<f64> = self.m2.iter().map(|m2| (m2 / n).sqrt()).collect();
        Standardiser::from_moments(self.mean.as_slice(), &sd)
    }
}

/// A seeded random split of rows 0..n into (train, test) with round(n·test_fraction) test rows,
/// both in ascending order. `test_fraction` is clamped to [0, 1].
pub fn train_test_split(n: usize, test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(&mut StdRng::seed_from_u64(seed));
    let n_test = ((n as f64) * test_fraction.clamp(0.0, 1.0)).round() as usize;
    let (mut test, mut train) = (rows[..n_test].to_vec(), rows[n_test..].to_vec());
    test.sort_unstable();
    train.sort_unstable();
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardised_columns_have_zero_mean_and_unit_variance_and_constants_survive() {
        let x = DMatrix::from_row_slice(4, 2, &[1.0, 5.0, 2.0, 5.0, 3.0, 5.0, 6.0, 5.0]);
        let s = Standardiser::fit(&x);
        let z = s.transform(&x);
        assert!(z.column(0).sum().abs() < 1e-14);
        assert!((z.column(0).norm_squared() / 4.0 - 1.0).abs() < 1e-14);
        assert_eq!(s.scale[1], 1.0);
        assert!(z.column(1).iter().all(|v| *v == 0.0));
        let y = DVector::from_vec(vec![3.0, -1.0, 4.0]);
        let sy = Standardiser::fit_vector(&y);
        let back = sy.inverse(&DMatrix::from_column_slice(
            3,
            1,
            sy.transform_vector(&y).as_slice(),
        ));
        assert!((back.column(0) - &y).amax() < 1e-14);
        let two = DVector::from_vec(vec![3.0, -1.0, 4.0, 10.0, 10.0, 40.0]);
        let s2 = Standardiser::fit_columns(&two, 2);
        assert!((s2.mean[1] - 20.0).abs() < 1e-14);
        let z = s2.transform_vector(&two);
        assert!((z.rows(0, 3) - sy.transform_vector(&y)).amax() < 1e-14);
        assert!(z.rows(3, 3).sum().abs() < 1e-14);
        assert!((s2.log_scale_sum() - s2.scale.map(f64::ln).sum()).abs() < 1e-15);
    }

    #[test]
    fn merged_moments_are_those_of_the_whole_and_one_part_is_exact() {
        // Seeded rows in three parts of unequal size; the oracle is the two-pass fit on all of
        // them at once. 1e-12 relative is rounding (the update reorders the sums).
        let mut rng = StdRng::seed_from_u64(5);
        let x = DMatrix::from_fn(50, 3, |_, j| {
            rand::RngExt::random_range(&mut rng, -1.0..1.0) * (j + 1) as f64 + 10.0 * j as f64
        });
        let parts = [x.rows(0, 7), x.rows(7, 30), x.rows(37, 13)];
        let moments = parts.map(|p| Moments::of(&p.into_owned()));
        let merged = moments[0].merge(&moments[1]).unwrap();
        let merged = merged.merge(&moments[2]).unwrap();
        let whole = Standardiser::fit(&x);
        let from_parts = merged.standardiser();
        assert_eq!(merged.count, 50);
        for j in 0..3 {
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
            assert!(close(from_parts.mean[j], whole.mean[j]), "mean {j}");
            assert!(close(from_parts.scale[j], whole.scale[j]), "scale {j}");
        }
        // One part is its own moments, bit for bit: a single shard standardises as one process.
        assert_eq!(Moments::of(&x).standardiser(), whole);
        let narrow = Moments::of(&x.columns(0, 2).into_owned());
        assert!(moments[0].merge(&narrow).is_err());
    }

    #[test]
    fn split_is_a_seeded_partition() {
        let (train, test) = train_test_split(10, 0.2, 3);
        assert_eq!((train.len(), test.len()), (8, 2));
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(train_test_split(10, 0.2, 3), (train, test));
        assert_ne!(
            train_test_split(10, 0.2, 4).1,
            train_test_split(10, 0.2, 3).1
        );
    }
}
