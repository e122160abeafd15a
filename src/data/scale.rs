//! Standardisation of columns (z-scores), fitted on training data and stored with a model, and a
//! seeded train/test split.

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
        let n = x.nrows().max(1) as f64;
        let mean: Vec<f64> = (0..x.ncols()).map(|j| x.column(j).sum() / n).collect();
        let sd: Vec<f64> = (0..x.ncols())
            .map(|j| {
                (x.column(j)
                    .iter()
                    .map(|v| (v - mean[j]).powi(2))
                    .sum::<f64>()
                    / n)
                    .sqrt()
            })
            .collect();
        Self::from_moments(&mean, &sd)
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
        DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| {
            (x[(i, j)] - self.mean[j]) / self.scale[j]
        })
    }

    /// (y − mean)/scale for `y` holding the D columns of an N×D matrix column-major (length N·D;
    /// a target vector for D = 1).
    pub fn transform_vector(&self, y: &DVector<f64>) -> DVector<f64> {
        let n = y.len() / self.mean.len().max(1);
        DVector::from_fn(y.len(), |k, _| {
            let j = k / n.max(1);
            (y[k] - self.mean[j]) / self.scale[j]
        })
    }

    /// mean + scale·v column-wise (predictive means back in units); `v` must have D columns.
    pub fn inverse(&self, v: &DMatrix<f64>) -> DMatrix<f64> {
        DMatrix::from_fn(v.nrows(), v.ncols(), |i, j| {
            self.mean[j] + self.scale[j] * v[(i, j)]
        })
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
