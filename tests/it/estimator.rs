//! The front door, `tabular::Estimator`: raw data in, predictions and scores in the data's
//! original units out, with typed errors naming the setting or row at fault.

use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use svgp::prelude::*;

/// y = 50 + 10 sin(x₁) + noise (sd 0.5) at x₁ ∈ [−3, 3] (in units far from standardised) and a
/// second, irrelevant input scaled by 1000.
fn regression_data(n: usize, seed: u64) -> (DMatrix<f64>, DVector<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = DMatrix::from_fn(n, 2, |_, j| {
        let u: f64 = rng.random_range(-3.0..3.0);
        if j == 0 {
            u
        } else {
            1000.0 * u
        }
    });
    let y = DVector::from_fn(n, |i, _| {
        50.0 + 10.0 * x[(i, 0)].sin() + 0.5 * rng.random_range(-1.7..1.7)
    });
    (x, y)
}

/// Regression in original units: on fresh rows the RMSE is near the noise sd (0.5; the targets'
/// sd is about 7), predictions are centred on 50 + 10 sin x₁, and the ELBO trace has one entry
/// per iteration and rises.
#[test]
fn regression_predicts_in_the_data_units() {
    let (x, y) = regression_data(300, 1);
    let fitted = Estimator::regression()
        .inducing(20)
        .iterations(400)
        .batch_size(300)
        .fit(&x, &y)
        .unwrap();
    assert_eq!(fitted.elbo_trace().len(), 400);
    assert!(fitted.elbo_trace()[399] > fitted.elbo_trace()[0]);
    let (xt, yt) = regression_data(200, 2);
    let metrics = fitted.score(&xt, &yt).unwrap();
    assert!(metrics.rmse.unwrap() < 0.7, "{metrics:?}");
    let (mean, var) = fitted.predict(&xt).unwrap();
    let worst = (0..200)
        .map(|i| (mean[i] - 50.0 - 10.0 * xt[(i, 0)].sin()).abs())
        .fold(0.0, f64::max);
    assert!(worst < 2.0, "{worst}");
    assert!(
        var.iter().all(|&v| v > 0.15 && v < 2.0),
        "predictive variance of y near 0.24"
    );
    assert!(
        fitted.predict_proba(&xt).is_err(),
        "no class probabilities for regression"
    );
}

/// Bad settings and data are typed errors naming what is at fault.
#[test]
fn bad_settings_and_labels_are_named() {
    let (x, y) = regression_data(30, 3);
    let err = Estimator::regression()
        .inducing(31)
        .fit(&x, &y)
        .unwrap_err();
    assert!(
        matches!(&err, SvgpError::TooFewRows { name, value: 31, rows: 30, .. } if name == "num_inducing"),
        "{err}"
    );
    let err = Estimator::regression().inducing(0).fit(&x, &y).unwrap_err();
    assert!(
        matches!(&err, SvgpError::InvalidParameter { name, .. } if name == "num_inducing"),
        "{err}"
    );
    let err = Estimator::regression()
        .batch_size(0)
        .fit(&x, &y)
        .unwrap_err();
    assert!(
        matches!(&err, SvgpError::InvalidParameter { name, .. } if name == "batch_size"),
        "{err}"
    );
    let short = y.rows(0, 29).into_owned();
    assert!(matches!(
        Estimator::regression().fit(&x, &short),
        Err(SvgpError::ShapeMismatch { .. })
    ));
    let mut labels = DVector::from_fn(30, |i, _| (i % 2) as f64);
    labels[7] = 2.0;
    let err = Estimator::classification().fit(&x, &labels).unwrap_err();
    assert!(
        matches!(err, SvgpError::InvalidTarget { row: 7, .. }),
        "{err}"
    );
    let err = Estimator::classification()
        .fit(&x, &DVector::zeros(30))
        .unwrap_err();
    assert!(matches!(err, SvgpError::SingleClass { .. }), "{err}");
}

/// Non-finite or missing data are typed errors, never a panic or a silent NaN: no rows, a NaN
/// input (named by row and column) at fit and at prediction, a NaN target.
#[test]
fn non_finite_and_empty_data_are_refused() {
    let (x, y) = regression_data(30, 4);
    let empty = Estimator::classification().fit(&DMatrix::zeros(0, 2), &DVector::zeros(0));
    assert!(matches!(empty, Err(SvgpError::InvalidParameter { .. })));
    let mut bad_x = x.clone();
    bad_x[(4, 1)] = f64::NAN;
    let err = Estimator::regression().fit(&bad_x, &y).unwrap_err();
    assert!(
        matches!(&err, SvgpError::InvalidParameter { name, .. } if name == "x row 4, column 1"),
        "{err}"
    );
    let mut bad_y = y.clone();
    bad_y[9] = f64::INFINITY;
    let err = Estimator::regression().fit(&x, &bad_y).unwrap_err();
    assert!(
        matches!(err, SvgpError::InvalidTarget { row: 9, .. }),
        "{err}"
    );
    let fitted = Estimator::regression().iterations(5).fit(&x, &y).unwrap();
    let err = fitted.predict(&bad_x).unwrap_err();
    assert!(
        matches!(&err, SvgpError::InvalidParameter { name, .. } if name == "inputs row 4, column 1"),
        "{err}"
    );
}

/// Class-index targets must be 0..C−1 with every class present: a stray large index (which would
/// ask for that many latent GPs) or a gap is refused with `InvalidParameter { name:
/// "num_classes" }` before any model is built; contiguous classes count exactly.
#[test]
fn multiclass_targets_must_be_contiguous_classes() {
    use svgp::tabular::classes_of;
    let v = |y: &[f64]| nalgebra::DVector::from_column_slice(y);
    assert_eq!(classes_of(&v(&[2.0, 0.0, 1.0, 1.0])), Some(3));
    assert_eq!(classes_of(&v(&[0.0, 1.0, 5.0])), None);
    assert_eq!(classes_of(&v(&[0.0, 1e12])), None);
    assert_eq!(classes_of(&v(&[0.5, 1.0])), None);
    assert_eq!(classes_of(&v(&[])), None);
    let x = nalgebra::DMatrix::from_fn(6, 1, |i, _| i as f64);
    let err = svgp::tabular::Estimator::multiclass()
        .inducing(3)
        .iterations(2)
        .fit(&x, &v(&[0.0, 1.0, 1e6, 0.0, 1.0, 0.0]))
        .unwrap_err();
    assert!(
        matches!(&err, svgp::SvgpError::InvalidParameter { name, .. } if name == "num_classes"),
        "{err}"
    );
}
