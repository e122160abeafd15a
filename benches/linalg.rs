//! The linear-algebra backend choice, measured: the crate's faer-backed f64 kernels against
//! nalgebra's own, in the same run (DEPENDENCIES.md). Run: `cargo bench --bench linalg`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{normal_matrix, rng};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use nalgebra::DMatrix;
use std::hint::black_box;

fn spd(n: usize) -> DMatrix<f64> {
    let b = normal_matrix(&mut rng(n as u64), n, n);
    &b * b.transpose() + DMatrix::identity(n, n) * n as f64
}

fn bench_cholesky(c: &mut Criterion) {
    let mut group = c.benchmark_group("cholesky");
    group.sample_size(20);
    for n in [100, 500] {
        let a = spd(n);
        group.bench_with_input(BenchmarkId::new("svgp_faer", n), &n, |b, _| {
            b.iter(|| {
                black_box(
                    svgp::linalg::cholesky(&a, "A", svgp::Parallelism::default()).expect("SPD"),
                )
            })
        });
        group.bench_with_input(BenchmarkId::new("nalgebra", n), &n, |b, _| {
            b.iter(|| black_box(a.clone().cholesky().expect("SPD")))
        });
    }
    group.finish();
}

fn bench_triangular_solve(c: &mut Criterion) {
    let mut group = c.benchmark_group("solve_lower_500xB");
    group.sample_size(20);
    let n = 500;
    let l = svgp::linalg::cholesky(&spd(n), "A", svgp::Parallelism::default()).expect("SPD");
    for cols in [256, 1024] {
        let rhs = normal_matrix(&mut rng(7), n, cols);
        group.bench_with_input(BenchmarkId::new("svgp_faer", cols), &cols, |b, _| {
            b.iter(|| {
                let mut x = rhs.clone();
                svgp::linalg::solve_lower_in_place(&l, &mut x, svgp::Parallelism::default());
                black_box(x)
            })
        });
        group.bench_with_input(BenchmarkId::new("nalgebra", cols), &cols, |b, _| {
            b.iter(|| {
                let mut x = rhs.clone();
                assert!(l.solve_lower_triangular_mut(&mut x));
                black_box(x)
            })
        });
    }
    group.finish();
}

fn bench_product(c: &mut Criterion) {
    let mut group = c.benchmark_group("product_AtB_500xB");
    group.sample_size(20);
    let n = 500;
    for cols in [256, 1024] {
        let a = normal_matrix(&mut rng(1), n, cols);
        let b2 = normal_matrix(&mut rng(2), n, cols);
        group.bench_with_input(BenchmarkId::new("nalgebra_a_bt", cols), &cols, |b, _| {
            b.iter(|| black_box(&a * b2.transpose()))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_cholesky,
    bench_triangular_solve,
    bench_product
);
criterion_main!(benches);
