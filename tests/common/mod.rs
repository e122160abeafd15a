//! Helpers shared by the integration tests: seeded random matrices and q, relative differences.
#![allow(dead_code)] // each test binary uses its own subset

pub mod exactness;
pub mod fisher;

use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use svgp::variational::{Coords, VariationalQ};

/// A seeded generator; every random test starts here.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// An r×c matrix of standard normal draws.
pub fn normal_matrix(rng: &mut StdRng, r: usize, c: usize) -> DMatrix<f64> {
    DMatrix::from_fn(r, c, |_, _| rng.sample::<f64, _>(StandardNormal))
}

/// A vector of standard normal draws.
pub fn normal_vector(rng: &mut StdRng, n: usize) -> DVector<f64> {
    DVector::from_fn(n, |_, _| rng.sample::<f64, _>(StandardNormal))
}

/// A random symmetric n×n matrix with standard normal entries (off-diagonals N(0, 1)).
pub fn symmetric(rng: &mut StdRng, n: usize) -> DMatrix<f64> {
    let a = normal_matrix(rng, n, n);
    let mut s = &a + a.transpose();
    s *= std::f64::consts::FRAC_1_SQRT_2;
    s
}

/// A random well-conditioned q: m ~ N(0, I), L lower with diagonal in [0.5, 1.5] and
/// off-diagonals N(0, 0.3²), so cond(S) stays in the tens for M ≤ 50.
pub fn random_q(rng: &mut StdRng, n: usize) -> VariationalQ {
    let m = normal_vector(rng, n);
    let mut l = DMatrix::zeros(n, n);
    for j in 0..n {
        l[(j, j)] = rng.random_range(0.5..1.5);
        for i in (j + 1)..n {
            l[(i, j)] = 0.3 * rng.sample::<f64, _>(StandardNormal) / (n as f64).sqrt();
        }
    }
    VariationalQ::new(m, l).expect("a valid random q")
}

/// A random direction v = (v₁, v₂) with v₂ symmetric.
pub fn random_direction(rng: &mut StdRng, n: usize) -> Coords {
    Coords::new(normal_vector(rng, n), symmetric(rng, n)).expect("square")
}

/// max |a − b| / max(max |b|, tiny): a relative difference scaled by the reference's size.
pub fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |s, x| s.max(x.abs())).max(1e-300);
    a.iter()
        .zip(b)
        .fold(0.0f64, |s, (x, y)| s.max((x - y).abs()))
        / scale
}

/// Both parts of coordinates in one vector (vector part, then the matrix column-major).
pub fn flat(c: &Coords) -> Vec<f64> {
    c.vector.iter().chain(c.matrix.iter()).copied().collect()
}

/// Every kernel family at input dimension `d`, with moderate parameters (variance 1.3, ARD
/// lengthscales 0.6–1.2), plus a Sum and a Product, so model-level tests cover them all.
pub fn every_kernel(d: usize) -> Vec<(&'static str, Box<dyn svgp::kernel::Kernel>)> {
    use svgp::kernel::*;
    let ls: Vec<f64> = (0..d)
        .map(|i| 0.6 + 0.6 * i as f64 / d.max(2) as f64)
        .collect();
    let se = || SquaredExponential::new(1.3, ls.clone()).unwrap();
    let m12 = || Matern12::new(0.8, ls.clone()).unwrap();
    let m32 = || Matern32::new(1.1, ls.clone()).unwrap();
    let m52 = || Matern52::new(0.9, ls.clone()).unwrap();
    vec![
        ("SE", Box::new(se())),
        ("Matern12", Box::new(m12())),
        ("Matern32", Box::new(m32())),
        ("Matern52", Box::new(m52())),
        (
            "Sum(SE, Matern12)",
            Box::new(Sum::new(vec![Box::new(se()), Box::new(m12())]).unwrap()),
        ),
        (
            "Product(Matern32, Matern52)",
            Box::new(Product::new(vec![Box::new(m32()), Box::new(m52())]).unwrap()),
        ),
    ]
}

/// Reads a numeric CSV with a header; the last column is y. For vendored test fixtures only.
pub fn read_xy(path: &str) -> (DMatrix<f64>, DVector<f64>) {
    let text = std::fs::read_to_string(path).expect("fixture exists");
    let rows: Vec<Vec<f64>> = text
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split(',')
                .map(|v| v.parse().expect("numeric fixture"))
                .collect()
        })
        .collect();
    let d = rows[0].len() - 1;
    let x = DMatrix::from_fn(rows.len(), d, |i, j| rows[i][j]);
    let y = DVector::from_fn(rows.len(), |i, _| rows[i][d]);
    (x, y)
}

/// The minibatch ELBO with every gradient (scope `All`) of a single-latent model, unwrapped.
pub struct AllGrads {
    pub elbo: f64,
    pub d_eta: Coords,
    pub dl_dm: DVector<f64>,
    pub dl_dl: DMatrix<f64>,
    pub d_hyper: DVector<f64>,
}

/// [`Svgp::elbo_grad`] with scope `All` at (x: B×D, y: B), scale c.
pub fn all_grads(
    model: &svgp::model::Svgp,
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    scale: f64,
) -> AllGrads {
    let g = model
        .elbo_grad(x, y, scale, svgp::model::GradScope::All)
        .unwrap();
    AllGrads {
        elbo: g.elbo,
        d_eta: single(g.d_eta.unwrap()),
        dl_dm: single(g.dl_dm.unwrap()),
        dl_dl: single(g.dl_dl.unwrap()),
        d_hyper: g.d_hyper.unwrap(),
    }
}

/// The only entry of a single-latent model's per-latent gradients.
pub fn single<T>(mut per_latent: Vec<T>) -> T {
    assert_eq!(per_latent.len(), 1, "a single-latent model");
    per_latent.pop().unwrap()
}
