//! One training iteration (natural step on q in θ + Adam step on hyperparameters and Z) for
//! M ∈ {50, 100, 200, 500}, B ∈ {256, 1024}, and M ∈ {1000, 2000} at B = 1024; D = 8, SE-ARD,
//! Gaussian likelihood. The flop count per iteration, 6·B·M² + 4·M³, is the per-point
//! path's (Kuf solve, Lᵀ A, A diag(g) Aᵀ, (S−I)·A diag(g), Lz⁻ᵀ Ā, tril(Ā Aᵀ), each ≈ B·M²; the
//! Cholesky of Kuu and the natural step's factorisations); with B ≥ M the Gaussian likelihood
//! is trained from the Gram matrix A Aᵀ instead, with fewer flops (docs/MATH.md §4), so GFLOP/s
//! by that count are a rate of progress, not of the hardware.
//! Threads: rayon's pool (`RAYON_NUM_THREADS`, default all cores); results do not depend on it.
//! Run: `cargo bench --bench step` (and `RAYON_NUM_THREADS=1 cargo bench --bench step`); one
//! case: `cargo bench --bench step -- M2000`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use svgp::kernel::SquaredExponential;
use svgp::likelihood::Gaussian;
use svgp::model::Svgp;
use svgp::optim::{AdamConfig, HyperTraining, NatGrad, QTraining, Schedule, Trainer};
use svgp::variational::Natural;

/// The (M, B) cases: every M up to 500 at both batch sizes, and M = 1000, 2000 at B = 1024.
fn cases() -> Vec<(usize, usize)> {
    let small = [50, 100, 200, 500].into_iter();
    let small = small.flat_map(|m| [(m, 256), (m, 1024)]);
    small.chain([(1000, 1024), (2000, 1024)]).collect()
}

/// A trainer on seeded data of M inducing points and a batch of B, with the batch.
fn trainer(m: usize, b: usize, d: usize) -> (Trainer, DMatrix<f64>, DVector<f64>) {
    let mut rng = StdRng::seed_from_u64((m * b) as u64);
    let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
    let x = DMatrix::from_fn(b, d, |_, _| normal());
    let y = DVector::from_fn(b, |i, _| x[(i, 0)].sin() + 0.1 * normal());
    let z = DMatrix::from_fn(m, d, |_, _| normal());
    let kernel = SquaredExponential::new(1.0, vec![2.0; d]).expect("valid kernel");
    let model = Svgp::new(
        Box::new(kernel),
        Box::new(Gaussian::new(0.1).expect("valid noise")),
        z,
    )
    .expect("valid model");
    let q_training = QTraining::NatGrad {
        step: Box::new(NatGrad::<Natural>::default()),
        schedule: Schedule::Constant(0.1),
    };
    let hyper = HyperTraining::Adam(AdamConfig::default());
    (Trainer::new(model, q_training, hyper), x, y)
}

fn bench_step(c: &mut Criterion) {
    let d = 8;
    let mut group = c.benchmark_group("train_iteration");
    group.sample_size(10);
    for (m, b) in cases() {
        let (mut trainer, x, y) = trainer(m, b, d);
        let scale = 20000.0 / b as f64;
        group.bench_with_input(BenchmarkId::new(format!("M{m}"), b), &b, |bench, _| {
            bench.iter(|| trainer.step(&x, &y, scale).expect("finite step"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_step);
criterion_main!(benches);
