//! One training iteration (`Trainer::step`: natural step on q in θ with γ = 0.1, then an Adam step
//! on the kernel, the likelihood and Z) at M = 100, B = 256, D = 8, SE-ARD, for C = 10 latents
//! beside one (issue 14's goal: the C = 10 iteration at most 10 × the single-latent one):
//! - `gaussian_L1`, `bernoulli_L1`: one latent (Gaussian, Bernoulli probit);
//! - `robustmax_C10`: 10 robust-max latents sharing one kernel (ε = 1e-3 fixed);
//! - `softmax_C10`: 10 softmax latents sharing one kernel (the default Monte Carlo estimator).
//!
//! The data are seeded synthetic draws; classes are the argmax of 10 random linear functions of x.
//! Threads: rayon's pool (`RAYON_NUM_THREADS`, default all cores).
//! Run: `cargo bench --bench multi_latent`.

use criterion::{criterion_group, criterion_main, Criterion};
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use svgp::kernel::SquaredExponential;
use svgp::likelihood::{Bernoulli, BinaryLink, Gaussian, Likelihood, RobustMax, Softmax};
use svgp::model::Svgp;
use svgp::optim::{AdamConfig, HyperTraining, QTraining, Schedule, Trainer, Xi};

const M: usize = 100;
const B: usize = 256;
const D: usize = 8;
const C: usize = 10;

/// Seeded inputs x (B×D), Z (M×D), a regression target and C-class labels.
fn data() -> (DMatrix<f64>, DMatrix<f64>, DVector<f64>, DVector<f64>) {
    let mut rng = StdRng::seed_from_u64(14);
    let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
    let x = DMatrix::from_fn(B, D, |_, _| normal());
    let z = DMatrix::from_fn(M, D, |_, _| normal());
    let w = DMatrix::from_fn(D, C, |_, _| normal());
    let scores = &x * &w;
    let classes = DVector::from_fn(B, |i, _| scores.row(i).transpose().argmax().0 as f64);
    let y = DVector::from_fn(B, |i, _| x[(i, 0)].sin() + 0.1 * normal());
    (x, z, y, classes)
}

fn trainer(likelihood: Box<dyn Likelihood>, z: &DMatrix<f64>) -> Trainer {
    let kernel = SquaredExponential::new(1.0, vec![2.0; D]).expect("valid kernel");
    let model = Svgp::new(Box::new(kernel), likelihood, z.clone()).expect("valid model");
    Trainer::new(
        model,
        QTraining::natural(Xi::Natural, Schedule::Constant(0.1)),
        HyperTraining::Adam(AdamConfig::default()),
    )
}

fn bench_multi_latent(c: &mut Criterion) {
    let (x, z, y, classes) = data();
    let binary = classes.map(|k| f64::from(u8::from(k < 5.0)));
    let cases: Vec<(&str, Box<dyn Likelihood>, &DVector<f64>)> = vec![
        (
            "gaussian_L1",
            Box::new(Gaussian::new(0.1).expect("noise")),
            &y,
        ),
        (
            "bernoulli_L1",
            Box::new(Bernoulli::new(BinaryLink::Probit)),
            &binary,
        ),
        (
            "robustmax_C10",
            Box::new(RobustMax::new(C, 1e-3, false).expect("robust-max")),
            &classes,
        ),
        (
            "softmax_C10",
            Box::new(Softmax::new(C).expect("softmax")),
            &classes,
        ),
    ];
    let mut group = c.benchmark_group(format!("iteration_M{M}_B{B}_D{D}"));
    group.sample_size(10);
    let scale = 20000.0 / B as f64;
    for (name, likelihood, target) in cases {
        let mut trainer = trainer(likelihood, &z);
        group.bench_function(name, |bench| {
            bench.iter(|| trainer.step(&x, target, scale).expect("finite step"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_multi_latent);
criterion_main!(benches);
