//! Every public entry point that takes targets refuses one outside the likelihood's domain with
//! `InvalidTarget` naming its row, never a panic or a silent truncation: a class index ≥ C, a
//! negative or fractional one and a NaN for the C-class likelihoods (robust-max, softmax) and
//! Bernoulli, through `Svgp::elbo`, `elbo_grad`, `log_predictive_density`, `evaluate`,
//! `Workspace::set_batch`, `Trainer::step`, `Estimator::fit` and `Fitted::score`; a NaN through
//! the SGPR bound; and through the class plots (with the `plot` feature).

use nalgebra::{DMatrix, DVector};
use svgp::likelihood::{RobustMax, Softmax, DEFAULT_EPSILON};
use svgp::model::sgpr_bound;
use svgp::prelude::*;

/// Rows in every data set here; the bad target goes in row `BAD_ROW`.
const N: usize = 12;
const BAD_ROW: usize = 5;

/// N seeded 2-D inputs on a grid, spread over [−1.5, 1.5]².
fn inputs() -> DMatrix<f64> {
    DMatrix::from_fn(N, 2, |i, j| {
        let t = i as f64 / (N - 1) as f64;
        if j == 0 {
            3.0 * t - 1.5
        } else {
            1.5 - 3.0 * (t * 7.0).fract()
        }
    })
}

/// Valid labels 0..C−1 (each present) with `bad` in row `BAD_ROW`.
fn labels_with(c: usize, bad: f64) -> DVector<f64> {
    let mut y = DVector::from_fn(N, |i, _| (i % c) as f64);
    y[BAD_ROW] = bad;
    y
}

/// The values that are not class indices of C classes: C, C + 1000, −1, a fraction, NaN, ∞.
fn bad_labels(c: usize) -> [f64; 6] {
    [
        c as f64,
        c as f64 + 1000.0,
        -1.0,
        0.5,
        f64::NAN,
        f64::INFINITY,
    ]
}

/// A C-class model (robust-max or softmax) with Z at the first 4 inputs.
fn model(likelihood: Box<dyn Likelihood>) -> Svgp {
    let kernel = SquaredExponential::new(1.0, vec![1.0, 1.0]).unwrap();
    Svgp::new(
        Box::new(kernel),
        likelihood,
        inputs().rows(0, 4).into_owned(),
    )
    .unwrap()
}

/// The C-class and binary models under test, with their C.
fn class_models() -> Vec<(Svgp, usize)> {
    vec![
        (
            model(Box::new(RobustMax::new(3, DEFAULT_EPSILON, false).unwrap())),
            3,
        ),
        (model(Box::new(Softmax::new(4).unwrap())), 4),
        (model(Box::new(Bernoulli::new(BinaryLink::Probit))), 2),
    ]
}

/// Asserts `result` is `InvalidTarget` at `BAD_ROW` holding `bad` (NaN matching NaN).
fn assert_bad_row<T: std::fmt::Debug>(what: &str, bad: f64, result: Result<T>) {
    match result {
        Err(SvgpError::InvalidTarget { row, value, .. })
            if row == BAD_ROW && (value == bad || (value.is_nan() && bad.is_nan())) => {}
        other => panic!(
            "{what} with label {bad}: expected InvalidTarget at row {BAD_ROW}, got {other:?}"
        ),
    }
}

#[test]
fn model_methods_refuse_labels_that_are_not_class_indices() {
    let x = inputs();
    for (model, c) in class_models() {
        let name = model.likelihood().name();
        model.elbo(&x, &labels_with(c, 0.0), 1.0).unwrap();
        for bad in bad_labels(c) {
            let y = labels_with(c, bad);
            assert_bad_row(&format!("{name} elbo"), bad, model.elbo(&x, &y, 1.0));
            let grad = model.elbo_grad(&x, &y, 1.0, GradScope::All);
            assert_bad_row(&format!("{name} elbo_grad"), bad, grad);
            let lpd = model.log_predictive_density(&x, &y);
            assert_bad_row(&format!("{name} log_predictive_density"), bad, lpd);
            assert_bad_row(&format!("{name} evaluate"), bad, model.evaluate(&x, &y));
            let set = Workspace::new().set_batch(&model, &x, &y, 1.0);
            assert_bad_row(&format!("{name} set_batch"), bad, set);
        }
    }
}

#[test]
fn a_trainer_step_refuses_a_bad_label_and_keeps_the_model() {
    let x = inputs();
    for (model, c) in class_models() {
        let before = model.hyper_params();
        let q = QTraining::natural(Xi::Natural, Schedule::Constant(0.1));
        let mut trainer = Trainer::new(model, q, HyperTraining::Adam(AdamConfig::default()));
        for bad in bad_labels(c) {
            let step = trainer.step(&x, &labels_with(c, bad), 1.0);
            assert_bad_row("Trainer::step", bad, step);
        }
        assert_eq!(trainer.model.hyper_params(), before);
        trainer.step(&x, &labels_with(c, 0.0), 1.0).unwrap();
    }
}

#[test]
fn the_estimator_refuses_bad_labels_at_fit_and_score() {
    let x = inputs();
    let estimator = Estimator::multiclass().inducing(4).iterations(2);
    let fitted = estimator.fit(&x, &labels_with(3, 0.0)).unwrap();
    for bad in bad_labels(3) {
        let y = labels_with(3, bad);
        // At fit a label ≥ C is a class of its own with the ones below it missing.
        if bad.fract() != 0.0 || bad < 0.0 || !bad.is_finite() {
            assert_bad_row("Estimator::fit", bad, estimator.fit(&x, &y));
        }
        assert_bad_row("Fitted::score", bad, fitted.score(&x, &y));
    }
}

#[test]
fn the_sgpr_bound_refuses_a_nan_target() {
    let x = inputs();
    let kernel = SquaredExponential::new(1.0, vec![1.0, 1.0]).unwrap();
    let z = x.rows(0, 4).into_owned();
    let mut y = DVector::from_fn(N, |i, _| (i as f64).sin());
    sgpr_bound(&kernel, 0.1, &z, &x, &y, 1e-6).unwrap();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        y[BAD_ROW] = bad;
        assert_bad_row(
            "sgpr_bound",
            bad,
            sgpr_bound(&kernel, 0.1, &z, &x, &y, 1e-6),
        );
        let model = Svgp::new(
            Box::new(kernel.clone()),
            Box::new(Gaussian::new(0.1).unwrap()),
            z.clone(),
        )
        .unwrap();
        assert_bad_row("Svgp::sgpr_bound", bad, model.sgpr_bound(&x, &y));
        assert_bad_row("Svgp::elbo (Gaussian)", bad, model.elbo(&x, &y, 1.0));
    }
}

#[cfg(feature = "plot")]
#[test]
fn the_class_plots_refuse_labels_that_are_not_class_indices() {
    let x = inputs();
    let path = std::env::temp_dir().join(format!("svgp-bad-targets-{}.png", std::process::id()));
    let three = Estimator::multiclass().inducing(4).iterations(2);
    let three = three.fit(&x, &labels_with(3, 0.0)).unwrap();
    let two = Estimator::classification().inducing(4).iterations(2);
    let two = two.fit(&x, &labels_with(2, 0.0)).unwrap();
    for bad in bad_labels(3) {
        let y = labels_with(3, bad);
        let map = svgp::plot::classification_map_2d(&path, three.saved(), &x, &y);
        assert_bad_row("classification_map_2d", bad, map);
        let confusion = svgp::plot::confusion_matrix(&path, three.saved(), &x, &y);
        assert_bad_row("confusion_matrix", bad, confusion);
    }
    for bad in bad_labels(2) {
        let y = labels_with(2, bad);
        let map = svgp::plot::classification_2d(&path, two.saved(), &x, &y);
        assert_bad_row("classification_2d", bad, map);
        let calibration = svgp::plot::calibration(&path, two.saved(), &x, &y, 10);
        assert_bad_row("calibration", bad, calibration);
    }
    assert!(!path.exists());
}
