//! The natural gradient of q(v) for each built-in ξ: (a) matrix-level tangent rules, (b) one
//! forward-mode dual-number pass through θ ↦ ξ, and, for M ≤ 30, (c) the explicit Fisher solve
//! (F_ξ built by dual numbers, then LU) as the baseline that the one-pass JVP avoids.
//! Run: `cargo bench --bench natgrad`; compare times within a group as ratios.

#[path = "../tests/common/mod.rs"]
mod common;

use common::fisher::{fisher_solve, reduced_point, Xi, ALL};
use common::{random_direction, random_q, rng};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use svgp::variational::{
    natural_gradient_dual, Coords, Expectation, MeanCholesky, Natural, Parametrisation,
    VariationalQ,
};

fn fast(xi: Xi, q: &VariationalQ, v: &Coords) -> Coords {
    match xi {
        Xi::Theta => Natural::natural_gradient(q, v),
        Xi::Eta => Expectation::natural_gradient(q, v),
        Xi::MeanChol => MeanCholesky::natural_gradient(q, v),
    }
    .expect("valid q")
}

fn dual(xi: Xi, q: &VariationalQ, v: &Coords) -> Coords {
    match xi {
        Xi::Theta => natural_gradient_dual::<Natural>(q, v),
        Xi::Eta => natural_gradient_dual::<Expectation>(q, v),
        Xi::MeanChol => natural_gradient_dual::<MeanCholesky>(q, v),
    }
    .expect("valid q")
}

fn bench_natgrad(c: &mut Criterion) {
    for xi in ALL {
        let mut group = c.benchmark_group(format!("natgrad/{xi:?}"));
        group.sample_size(10);
        for m in [10, 30, 50, 200, 500] {
            let mut rng = rng(m as u64);
            let q = random_q(&mut rng, m);
            let v = random_direction(&mut rng, m);
            group.bench_with_input(BenchmarkId::new("a_tangent_rules", m), &m, |b, _| {
                b.iter(|| black_box(fast(xi, &q, &v)))
            });
            group.bench_with_input(BenchmarkId::new("b_dual_jvp", m), &m, |b, _| {
                b.iter(|| black_box(dual(xi, &q, &v)))
            });
            if m <= 30 {
                let at = reduced_point(xi, &q);
                group.bench_with_input(BenchmarkId::new("c_fisher_solve", m), &m, |b, _| {
                    b.iter(|| black_box(fisher_solve(xi, &at, &v)))
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench_natgrad);
criterion_main!(benches);
