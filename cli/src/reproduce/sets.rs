//! The data of the reproduction: shipped CSV sets, subsampled, split and standardised, and a
//! seeded synthetic count set for the Poisson case (no count data is shipped).

use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};
use std::path::Path;
use svgp::data::{read_csv, train_test_split, Standardiser};
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
    let mut rows: Vec<usize> = (0..table.x.nrows()).collect();
    if rows.len() > max_rows {
        rows.shuffle(&mut StdRng::seed_from_u64(seed));
        rows.truncate(max_rows);
        rows.sort_unstable();
    }
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

/// Poisson counts: x ~ U(−3, 3), y ~ Poisson(exp(1 + sin 2x)), `n` points, 10 % held out.
pub(super) fn synthetic_counts(n: usize, seed: u64) -> Split {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = DMatrix::from_fn(n, 1, |_, _| -3.0 + 6.0 * rng.random::<f64>());
    let y = DVector::from_fn(n, |i, _| {
        poisson_draw(&mut rng, (1.0 + (2.0 * x[(i, 0)]).sin()).exp())
    });
    let (train, test) = train_test_split(n, 0.1, seed);
    Split::from_rows(&x, &y, &train, &test, false)
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

/// A Poisson(λ) draw by multiplying uniforms until the product falls below e^(−λ) (Knuth);
/// exact, and cheap for the small rates used here (λ ≤ e²).
fn poisson_draw(rng: &mut StdRng, lambda: f64) -> f64 {
    let limit = (-lambda).exp();
    let mut count = 0.0;
    let mut product = rng.random::<f64>();
    while product > limit {
        count += 1.0;
        product *= rng.random::<f64>();
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sampler's mean and variance match λ (both within 4 standard errors of their
    /// estimates over 200 000 seeded draws: se(mean) = √(λ/n), se(var) ≈ λ√(2/n) for λ large).
    #[test]
    fn poisson_draws_have_mean_and_variance_lambda() {
        let mut rng = StdRng::seed_from_u64(7);
        for lambda in [0.4, 2.7, 7.3] {
            let n = 200_000;
            let draws: Vec<f64> = (0..n).map(|_| poisson_draw(&mut rng, lambda)).collect();
            let mean = draws.iter().sum::<f64>() / n as f64;
            let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n as f64;
            let nf = n as f64;
            assert!(
                (mean - lambda).abs() < 4.0 * (lambda / nf).sqrt(),
                "{lambda}: {mean}"
            );
            // Var of the sample variance for a Poisson: (λ + 2λ²)/n.
            let se_var = ((lambda + 2.0 * lambda * lambda) / nf).sqrt();
            assert!((var - lambda).abs() < 4.0 * se_var, "{lambda}: {var}");
        }
    }

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
