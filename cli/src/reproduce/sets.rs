//! The data of the reproduction: shipped CSV sets, subsampled, split and standardised, and a
//! seeded synthetic sets: counts for the Poisson case (no count data is shipped), noise that
//! varies with the input for the heteroscedastic case, and the near-noiseless set of part (e).

use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal, Poisson};
use std::path::Path;
use svgp::data::{read_csv, train_test_split, ClassLabels, CsvOptions, Missing, Standardiser};
use svgp::error::Result;

/// The shipped regression sets, in report order (file stems under the datasets directory).
pub(super) const REGRESSION_SETS: [&str; 8] = [
    "snelson1d",
    "yacht",
    "energy",
    "concrete",
    "wine_quality_red",
    "naval",
    "kin40k",
    "protein",
];

/// Training and test rows of one set, inputs standardised on the training rows (and targets too
/// for regression).
#[derive(Debug, Clone)]
pub(super) struct Split {
    /// Training inputs, N×D.
    pub x: DMatrix<f64>,
    /// Training targets, N.
    pub y: DVector<f64>,
    /// Test inputs, N_test×D (N_test may be 0).
    pub x_test: DMatrix<f64>,
    /// Test targets, N_test.
    pub y_test: DVector<f64>,
}

impl Split {
    /// Builds the split from `x`, `y` and the two row lists, standardising on the training rows.
    fn from_rows(
        x: &DMatrix<f64>,
        y: &DVector<f64>,
        train: &[usize],
        test: &[usize],
        standardise_y: bool,
    ) -> Self {
        let pick_y =
            |rows: &[usize]| DVector::from_iterator(rows.len(), rows.iter().map(|&i| y[i]));
        let (x_train, x_test) = (x.select_rows(train.iter()), x.select_rows(test.iter()));
        let (y_train, y_test) = (pick_y(train), pick_y(test));
        let inputs = Standardiser::fit(&x_train);
        let (y, y_test) = if standardise_y {
            let s = Standardiser::fit_vector(&y_train);
            (s.transform_vector(&y_train), s.transform_vector(&y_test))
        } else {
            (y_train, y_test)
        };
        Split {
            x: inputs.transform(&x_train),
            y,
            x_test: inputs.transform(&x_test),
            y_test,
        }
    }
}

/// `dir/<name>.csv` (target `y`), at most `max_rows` rows drawn without replacement by `seed`,
/// a seeded `test_fraction` held out.
///
/// # Errors
/// As [`read_csv`].
pub(super) fn load(
    dir: &Path,
    name: &str,
    max_rows: usize,
    test_fraction: f64,
    standardise_y: bool,
    seed: u64,
) -> Result<Split> {
    let table = read_csv(dir.join(format!("{name}.csv")), None, None)?;
    let rows = subsample(table.x.nrows(), max_rows, seed);
    let (train, test) = train_test_split(rows.len(), test_fraction, seed);
    let to_rows = |idx: Vec<usize>| idx.into_iter().map(|i| rows[i]).collect::<Vec<_>>();
    Ok(Split::from_rows(
        &table.x,
        &table.y,
        &to_rows(train),
        &to_rows(test),
        standardise_y,
    ))
}

/// At most `max_rows` of rows 0..n, drawn without replacement by `seed`, in ascending order.
fn subsample(n: usize, max_rows: usize, seed: u64) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..n).collect();
    if rows.len() > max_rows {
        rows.shuffle(&mut StdRng::seed_from_u64(seed));
        rows.truncate(max_rows);
        rows.sort_unstable();
    }
    rows
}

/// The numeric measurement columns of a class set (the inputs of [`load_classes`]).
const PENGUIN_MEASUREMENTS: [&str; 4] = [
    "bill_length_mm",
    "bill_depth_mm",
    "flipper_length_mm",
    "body_mass_g",
];

/// `dir/<name>.csv` for classification: the class labels of column `target` mapped to classes
/// 0..C−1 in sorted order, the penguins' four measurements as inputs (rows missing one dropped),
/// at most `max_rows` rows drawn by `seed`, 30 % held out (stratification is left to chance).
///
/// # Errors
/// As [`CsvOptions::read`].
pub(super) fn load_classes(
    dir: &Path,
    name: &str,
    target: &str,
    max_rows: usize,
    seed: u64,
) -> Result<Split> {
    let options = CsvOptions {
        target: Some(target.to_string()),
        features: Some(PENGUIN_MEASUREMENTS.iter().map(|s| s.to_string()).collect()),
        missing: Missing::Drop,
        classes: ClassLabels::Auto,
        ..CsvOptions::default()
    };
    let table = options.read(dir.join(format!("{name}.csv")))?;
    let rows = subsample(table.x.nrows(), max_rows, seed);
    let (train, test) = train_test_split(rows.len(), 0.3, seed);
    let to_rows = |idx: Vec<usize>| idx.into_iter().map(|i| rows[i]).collect::<Vec<_>>();
    Ok(Split::from_rows(
        &table.x,
        &table.y,
        &to_rows(train),
        &to_rows(test),
        false,
    ))
}

/// Poisson counts: x ~ U(−3, 3), y ~ Poisson(exp(1 + sin 2x)) (rand_distr's sampler), `n`
/// points, 10 % held out.
pub(super) fn synthetic_counts(n: usize, seed: u64) -> Split {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = DMatrix::from_fn(n, 1, |_, _| -3.0 + 6.0 * rng.random::<f64>());
    let y = DVector::from_fn(n, |i, _| {
        let rate = (1.0 + (2.0 * x[(i, 0)]).sin()).exp();
        Poisson::new(rate)
            .expect("a positive finite rate")
            .sample(&mut rng)
    });
    let (train, test) = train_test_split(n, 0.1, seed);
    Split::from_rows(&x, &y, &train, &test, false)
}

/// Noise whose scale grows tenfold across the inputs: x ~ U(−5, 5),
/// y = sin(1.5x) + 0.3x + s(x) ε with s(x) = 0.1·10^((x + 5)/10) and ε ~ N(0, 1) (the set of
/// benches/peers/multilatent), `n` points, 10 % held out, standardised on the training rows.
pub(super) fn synthetic_heteroscedastic(n: usize, seed: u64) -> Split {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x4e7e_5ced);
    let x = DMatrix::from_fn(n, 1, |_, _| -5.0 + 10.0 * rng.random::<f64>());
    let y = DVector::from_fn(n, |i, _| {
        let t = x[(i, 0)];
        let scale = 0.1 * 10f64.powf((t + 5.0) / 10.0);
        (1.5 * t).sin() + 0.3 * t + scale * rng.sample::<f64, _>(rand_distr::StandardNormal)
    });
    let (train, test) = train_test_split(n, 0.1, seed);
    Split::from_rows(&x, &y, &train, &test, true)
}

/// Noise variance of [`synthetic_near_noiseless`] before standardisation.
pub(super) const NEAR_NOISELESS_VARIANCE: f64 = 1e-6;

/// A near-noiseless 1-D regression set for part (e): x ~ U(0, 10), y = sin x + sin(3x)/2 +
/// N(0, 1e-6); 10 % held out, standardised on the training rows.
pub(super) fn synthetic_near_noiseless(n: usize, seed: u64) -> Split {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x05ee_de11);
    let x = DMatrix::from_fn(n, 1, |_, _| 10.0 * rng.random::<f64>());
    let noise = Normal::new(0.0, NEAR_NOISELESS_VARIANCE.sqrt()).expect("a positive finite sd");
    let y = DVector::from_fn(n, |i, _| {
        let t = x[(i, 0)];
        t.sin() + 0.5 * (3.0 * t).sin() + noise.sample(&mut rng)
    });
    let (train, test) = train_test_split(n, 0.1, seed);
    Split::from_rows(&x, &y, &train, &test, true)
}

/// The synthetic "banana" of GPJax's natural-gradients example, drawn here with this crate's
/// seeded generator: x ~ U([−3, 3]²), P(y = 1) = σ(3 (x₂ − 0.7 x₁² + 1.5)) with σ the logistic
/// function, `n` rows of which the last fifth are held out (400 of 2000 in the example). Inputs are not
/// standardised (the example's are not).
pub(super) fn published_banana(n: usize, seed: u64) -> Split {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xba7a_7a00);
    let x = DMatrix::from_fn(n, 2, |_, _| -3.0 + 6.0 * rng.random::<f64>());
    let y = DVector::from_fn(n, |i, _| {
        let decision = x[(i, 1)] - (0.7 * x[(i, 0)].powi(2) - 1.5);
        let p = 1.0 / (1.0 + (-3.0 * decision).exp());
        f64::from(u8::from(rng.random::<f64>() < p))
    });
    let n_train = n - n / 5;
    Split {
        x: x.rows(0, n_train).into_owned(),
        y: y.rows(0, n_train).into_owned(),
        x_test: x.rows(n_train, n - n_train).into_owned(),
        y_test: y.rows(n_train, n - n_train).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Training inputs come out with mean 0 and unit variance; the count targets stay integers.
    #[test]
    fn synthetic_split_is_standardised_and_integer() {
        let s = synthetic_counts(500, 3);
        assert_eq!(s.x.nrows() + s.x_test.nrows(), 500);
        assert_eq!(s.x_test.nrows(), 50);
        let mean = s.x.column(0).mean();
        let var = s.x.column(0).map(|v| (v - mean).powi(2)).mean();
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
        assert!(s.y.iter().all(|v| v.fract() == 0.0 && *v >= 0.0));
    }
}
