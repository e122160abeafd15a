//! Prediction throughput: `Svgp::predict_f` and `Svgp::predict_y` on N* = 10⁵ points at M = 500,
//! D = 8, SE-ARD (lengthscales 1), Gaussian likelihood, a full-covariance whitened q
//! (L = tril(0.1·N(0, 1)) + I, m ~ N(0, 1)); inputs and Z uniform on [−2, 2]⁸, seeded. The same
//! sizes per point as `benches/peers/predict_throughput.py` (which runs 10⁶ points against GPflow).
//! Threads: rayon's pool (`RAYON_NUM_THREADS`, default all cores).
//! Run: `cargo bench --bench predict`.

use criterion::{criterion_group, criterion_main, Criterion};
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use svgp::kernel::SquaredExponential;
use svgp::likelihood::Gaussian;
use svgp::model::{Svgp, DEFAULT_JITTER};
use svgp::variational::VariationalQ;

const N_TEST: usize = 100_000;
const M: usize = 500;
const D: usize = 8;

/// The seeded model and N*×D test inputs.
fn model_and_inputs() -> (Svgp, DMatrix<f64>) {
    let mut rng = StdRng::seed_from_u64(18);
    let z = DMatrix::from_fn(M, D, |_, _| rng.random_range(-2.0..2.0));
    let x = DMatrix::from_fn(N_TEST, D, |_, _| rng.random_range(-2.0..2.0));
    let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
    let m = DVector::from_fn(M, |_, _| normal());
    let l = DMatrix::from_fn(M, M, |i, j| match i.cmp(&j) {
        std::cmp::Ordering::Greater => 0.1 * normal(),
        std::cmp::Ordering::Equal => 1.0 + 0.1 * normal().abs(),
        std::cmp::Ordering::Less => 0.0,
    });
    let q = VariationalQ::new(m, l).expect("valid q");
    let kernel = SquaredExponential::new(1.0, vec![1.0; D]).expect("valid kernel");
    let likelihood = Gaussian::new(0.1).expect("valid noise");
    let model = Svgp::with_q(Box::new(kernel), Box::new(likelihood), z, q, DEFAULT_JITTER)
        .expect("valid model");
    (model, x)
}

fn bench_predict(c: &mut Criterion) {
    let (model, x) = model_and_inputs();
    let mut group = c.benchmark_group("predict_N100000_M500");
    group.sample_size(10);
    group.bench_function("predict_f", |b| {
        b.iter(|| model.predict_f(&x).expect("prediction"))
    });
    group.bench_function("predict_y", |b| {
        b.iter(|| model.predict_y(&x).expect("prediction"))
    });
    group.finish();
}

criterion_group!(benches, bench_predict);
criterion_main!(benches);
