//! Passes over all rows in chunks (`svgp::model::chunks`): the full-data ELBO summed chunk by
//! chunk against the one-batch ELBO of a workspace holding every row, predictions and metrics
//! chunked against direct formulas on every row, the chunk size against its byte bound, and a
//! bad target located by its row among all the rows.

use crate::common::{random_q, rng};
use nalgebra::{DMatrix, DVector};
use rand::RngExt;
use svgp::kernel::SquaredExponential;
use svgp::likelihood::{Bernoulli, BinaryLink, Gaussian, Likelihood, MultiGaussian};
use svgp::model::{chunk_rows, Svgp, Workspace, CHUNK_BYTES};
use svgp::SvgpError;

/// M = 200 inducing inputs in D = 3, so that a chunk is 32 MiB / (8·(2M + 1 + M + 5 + D + P))
/// ≈ 6 870 rows and N = 16 000 rows make two full chunks and a partial one.
const M: usize = 200;
const D: usize = 3;
const N: usize = 16_000;

/// Seeded inputs U(−2, 2) (N×D) and a model with Z the first M of them and a random q.
fn model_and_inputs(seed: u64, likelihood: Box<dyn Likelihood>) -> (Svgp, DMatrix<f64>) {
    let mut rng = rng(seed);
    let x = DMatrix::from_fn(N, D, |_, _| rng.random_range(-2.0..2.0));
    let kernel = SquaredExponential::new(1.0, vec![0.8; D]).unwrap();
    let qs = (0..likelihood.num_latent())
        .map(|_| random_q(&mut rng, M))
        .collect();
    let z = x.rows(0, M).into_owned();
    let model = Svgp::with_qs(vec![Box::new(kernel)], likelihood, z, qs, 1e-6).unwrap();
    (model, x)
}

/// The ELBO at scale c from a workspace holding every row as one batch (the computation
/// before chunking, Kuf N×M at once).
fn one_batch_elbo(model: &Svgp, x: &DMatrix<f64>, y: &DVector<f64>, scale: f64) -> f64 {
    let mut ws = Workspace::new();
    ws.set_batch(model, x, y, scale).unwrap();
    ws.elbo(model).unwrap()
}

/// `Svgp::elbo` sums Σᵢ veᵢ over chunks: equal to the one-batch ELBO up to summation order,
/// relative 1e-12 (N = 16 000 terms of size ~1 summed in another order differ by ~1e-16·√N
/// relative); for a conjugate likelihood (from Gram matrices), a non-conjugate one (per
/// point) and two outputs (targets chunked column by column).
#[test]
fn chunked_elbo_is_the_one_batch_elbo() {
    let cases: Vec<(&str, Box<dyn Likelihood>)> = vec![
        ("gaussian", Box::new(Gaussian::new(0.3).unwrap())),
        ("bernoulli", Box::new(Bernoulli::new(BinaryLink::Probit))),
        (
            "two outputs",
            Box::new(MultiGaussian::new(&[0.2, 0.5]).unwrap()),
        ),
    ];
    for (seed, (name, likelihood)) in cases.into_iter().enumerate() {
        let (model, x) = model_and_inputs(seed as u64, likelihood);
        assert!(model.chunk_rows() < N / 2, "{name}: one chunk only");
        let outputs = model.likelihood().num_outputs();
        let y = DVector::from_fn(N * outputs, |k, _| {
            let (i, p) = (k % N, k / N);
            let f = (2.0 * x[(i, 0)]).sin() + p as f64 * x[(i, 1)];
            if name == "bernoulli" {
                f64::from(u8::from(f > 0.0))
            } else {
                f
            }
        });
        for scale in [1.0, 3.5] {
            let chunked = model.elbo(&x, &y, scale).unwrap();
            let whole = one_batch_elbo(&model, &x, &y, scale);
            let rel = (chunked - whole).abs() / whole.abs();
            assert!(
                rel <= 1e-12,
                "{name}, c = {scale}: {chunked} vs {whole} ({rel:e})"
            );
        }
    }
}

/// Predictions and metrics chunked (chunk_rows rows at a time) against the marginals of one
/// batch of every row (`Conditional::marginals`, the whitened formula) and the metrics written
/// out directly on them: means and variances within 1e-10 (the quadratic form's accuracy,
/// `model::predictor`), RMSE and NLPD within 1e-10 relative.
#[test]
fn chunked_predictions_and_metrics_match_one_batch() {
    let (model, x) = model_and_inputs(7, Box::new(Gaussian::new(0.3).unwrap()));
    let y = DVector::from_fn(N, |i, _| (2.0 * x[(i, 0)]).sin() + 0.5 * x[(i, 2)]);
    let (mean, var) = model.predict_f(&x).unwrap();
    let cond = &model.conditionals(&x).unwrap()[0];
    let (mu_ref, var_ref) = cond.marginals(model.q());
    for i in 0..N {
        assert!((mean[i] - mu_ref[i]).abs() <= 1e-10, "row {i}: mean");
        assert!((var[i] - var_ref[i]).abs() <= 1e-10, "row {i}: variance");
    }
    let metrics = model.evaluate(&x, &y).unwrap();
    let noise = 0.3;
    let (mut squared, mut nll) = (0.0, 0.0);
    for i in 0..N {
        let (m, v) = (mu_ref[i], var_ref[i] + noise);
        squared += (y[i] - m).powi(2);
        nll += 0.5 * ((2.0 * std::f64::consts::PI * v).ln() + (y[i] - m).powi(2) / v);
    }
    let (rmse, nlpd) = ((squared / N as f64).sqrt(), nll / N as f64);
    assert_eq!(metrics.num_points, N);
    let got_rmse = metrics.rmse.unwrap();
    assert!(
        (got_rmse - rmse).abs() <= 1e-10 * rmse,
        "{got_rmse} vs {rmse}"
    );
    assert!(
        (metrics.nlpd - nlpd).abs() <= 1e-10 * nlpd.abs(),
        "{} vs {nlpd}",
        metrics.nlpd
    );
}

/// A target outside the likelihood's domain in the last chunk is named by its row among all
/// the rows, not within its chunk.
#[test]
fn a_bad_target_is_located_among_all_rows() {
    let (model, x) = model_and_inputs(3, Box::new(Bernoulli::new(BinaryLink::Probit)));
    let mut y = DVector::from_element(N, 1.0);
    y[N - 5] = 0.5;
    for result in [
        model.elbo(&x, &y, 1.0).map(|_| ()),
        model.evaluate(&x, &y).map(|_| ()),
    ] {
        match result {
            Err(SvgpError::InvalidTarget { row, value, .. }) => {
                assert_eq!((row, value), (N - 5, 0.5));
            }
            other => panic!("expected InvalidTarget, got {other:?}"),
        }
    }
}

/// The chunk size keeps a chunk's buffers, 8·(K·(2M + 1) + L·(M + 5) + D + P) bytes a row, within
/// CHUNK_BYTES, takes the most rows that fit, and is never 0 (even for an M whose one row
/// exceeds the bound).
#[test]
fn chunk_rows_fit_the_byte_bound() {
    for (m, d, k, l, p) in [(200, 8, 1, 1, 1), (20, 1, 1, 1, 1), (500, 8, 10, 10, 1)] {
        let per_row = 8 * (k * (2 * m + 1) + l * (m + 5) + d + p);
        let rows = chunk_rows(m, d, k, l, p);
        assert!(rows * per_row <= CHUNK_BYTES, "M = {m}: {rows} rows");
        assert!(
            (rows + 1) * per_row > CHUNK_BYTES,
            "M = {m}: {rows} rows is not the most"
        );
    }
    assert_eq!(chunk_rows(10_000_000, 8, 1, 1, 1), 1);
}
