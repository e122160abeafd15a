//! Multiclass softmax likelihood (GPflow's and GPyTorch's `Softmax`; MATH.md §5): C = L latents,
//! p(y | f) = softmax(f)_y, so ve = μ_y − E[logsumexp f] under q(f) = N(μ, diag σ²).
//!
//! Estimator: Monte Carlo with S common random numbers fixed at construction — S/2 standard
//! normal draws εₛ ∈ ℝᴸ from a seeded `StdRng` (rand 0.10, Box–Muller) and their negatives
//! (antithetic pairs) —
//! ve = μ_y − (1/S) Σₛ lse(fₛ), fₛ = μ + σ ∘ εₛ,
//! a deterministic, smooth function of (μ, σ²), unbiased over seeds. Its derivatives are exact
//! (reparametrisation through the fixed draws): g_μⱼ = δⱼᵧ − (1/S) Σₛ pⱼ(fₛ),
//! g_σⱼ = −(1/S) Σₛ pⱼ(fₛ) εₛⱼ/(2σⱼ), with p = softmax. (Price's −½ E[pⱼ(1 − pⱼ)] has the same
//! expectation but is not the derivative of any fixed-sample estimator.) A latent with
//! σⱼ ≤ 10⁻⁶·max(1, |μⱼ|) takes the σⱼ → 0 limit, as `quadrature_variational_expectations`
//! does: fₛⱼ = μⱼ, ve gains −½σⱼ² (1/S) Σₛ pⱼ(1 − pⱼ) and g_σⱼ = −½ (1/S) Σₛ pⱼ(1 − pⱼ) (the
//! derivatives of that O(σⱼ²) term in the other coordinates, below 1e-12·max(1, μⱼ²), are left
//! out); above it the antithetic difference would divide rounding by σⱼ. Just above the
//! threshold g_σⱼ is as large as ~σₖ/(σⱼ√S) (k ≠ j): the exact derivative of the fixed sample,
//! not a rounding artefact.
//!
//! Measured against a 4·10⁶-draw reference (test `bias_and_spread_over_seeds`, C = 3, S = 256,
//! seeds 0 to 199; bias = mean over seeds − reference ± its standard error, spread = standard
//! deviation over seeds, i.e. the error one seed makes):
//!
//! | y | μ           | σ²            | reference ve       | bias             | spread |
//! |---|-------------|---------------|--------------------|------------------|--------|
//! | 0 | (0, 0, 0)   | (1, 1, 1)     | −1.3899 ± 0.0003   | +0.0017 ± 0.0016 | 0.022  |
//! | 2 | (2, 0, −1)  | (0.5, 2, 1)   | −3.3407 ± 0.0003   | +0.0016 ± 0.0012 | 0.018  |
//! | 1 | (0, 1, 0)   | (4, 0.1, 0.1) | −0.8700 ± 0.0004   | +0.0021 ± 0.0025 | 0.035  |
//!
//! Each bias is within 1.4 of its standard errors of 0 (the estimator is unbiased over seeds);
//! the spread, a sampling error, scales as 1/√S. The draws are common to all points, so points
//! with similar (μ, σ²) share their error: it does not average out over a batch, and training
//! finds the optimum of the fixed-sample objective (within that spread per point of the exact
//! one). Predictive probabilities E[softmax f] and the
//! log predictive density log E[softmax(f)_y] use a separate fixed antithetic sample of
//! [`PREDICT_NUM_SAMPLES`] draws (standard error of a probability at most 0.004 at the three
//! points above, test `predictions_match_long_monte_carlo`).

use super::multi::{check_classes, debug_check_shapes, row};
use super::special::standard_normal;
use super::LIMIT_BELOW_SD;
use super::{Likelihood, LikelihoodBase, LikelihoodSpec, VarExp};
use crate::error::{check_shape, Result, Shape, SvgpError};
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Default S = 256 draws (128 antithetic pairs) for the training expectations.
pub const DEFAULT_NUM_SAMPLES: usize = 256;

/// Default seed of the common random numbers.
pub const DEFAULT_SEED: u64 = 20_131_126;

/// Size of the fixed sample for predictive probabilities and log predictive densities.
pub const PREDICT_NUM_SAMPLES: usize = 4096;

/// Mixed into the seed for the predictive sample, so it is independent of the training draws.
const PREDICT_STREAM: u64 = 0x9E37_79B9_7F4A_7C15;

/// Softmax multiclass likelihood over C ≥ 2 classes (C = L latents), no parameters; targets are
/// classes 0, …, C − 1. Invariant: `draws` is S×C and `predict_draws` [`PREDICT_NUM_SAMPLES`]×C,
/// both row-major, each made of antithetic pairs (rows 2k and 2k + 1 are negatives).
#[derive(Debug, Clone, PartialEq)]
pub struct Softmax {
    num_classes: usize,
    seed: u64,
    draws: Vec<f64>,
    predict_draws: Vec<f64>,
}

/// A [`Softmax`] as data: [`SoftmaxSpec::build`] regenerates the same draws from the seed (the
/// draws are not stored; they are the same as long as rand's `StdRng` is, which rand promises
/// within a version: Cargo.lock pins rand 0.10).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SoftmaxSpec {
    /// C ≥ 2.
    pub num_classes: usize,
    /// S, even and ≥ 2.
    pub num_samples: usize,
    /// Seed of the common random numbers.
    pub seed: u64,
}

impl SoftmaxSpec {
    /// The likelihood described.
    ///
    /// # Errors
    /// As [`Softmax::with_sampling`].
    pub fn build(&self) -> Result<Softmax> {
        Softmax::with_sampling(self.num_classes, self.num_samples, self.seed)
    }
}

/// 2·`pairs`×`l` standard normals, row-major, rows 2k and 2k + 1 negatives of each other
/// (Box–Muller on `StdRng::seed_from_u64(seed)`).
fn antithetic_normals(seed: u64, pairs: usize, l: usize) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut normal = || standard_normal(&mut rng);
    let mut out = Vec::with_capacity(2 * pairs * l);
    for _ in 0..pairs {
        let row: Vec<f64> = (0..l).map(|_| normal()).collect();
        out.extend(&row);
        out.extend(row.iter().map(|e| -e));
    }
    out
}

/// Writes p = softmax(f) and returns logsumexp(f), shifted by max f (no overflow).
fn softmax_in_place(f: &[f64], p: &mut [f64]) -> f64 {
    let max = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for (p, &f) in p.iter_mut().zip(f) {
        *p = (f - max).exp();
        sum += *p;
    }
    let inv = 1.0 / sum;
    for p in p.iter_mut() {
        *p *= inv;
    }
    max + sum.ln()
}

impl Softmax {
    /// Softmax over C ≥ 2 classes with [`DEFAULT_NUM_SAMPLES`] draws from [`DEFAULT_SEED`].
    ///
    /// # Errors
    /// `InvalidParameter { name: "num_classes" }` for C < 2.
    pub fn new(num_classes: usize) -> Result<Self> {
        Self::with_sampling(num_classes, DEFAULT_NUM_SAMPLES, DEFAULT_SEED)
    }

    /// Softmax over C ≥ 2 classes with S draws (even, ≥ 2) from `seed`.
    ///
    /// # Errors
    /// `InvalidParameter { name: "num_classes" }` for C < 2, `{ name: "num_samples" }` for S odd
    /// or 0.
    pub fn with_sampling(num_classes: usize, num_samples: usize, seed: u64) -> Result<Self> {
        if num_classes < 2 {
            return Err(SvgpError::InvalidParameter {
                name: "num_classes".into(),
                value: num_classes as f64,
                reason: "softmax needs at least 2 classes",
            });
        }
        if num_samples == 0 || num_samples % 2 == 1 {
            return Err(SvgpError::InvalidParameter {
                name: "num_samples".into(),
                value: num_samples as f64,
                reason: "must be even and positive (antithetic pairs)",
            });
        }
        Ok(Softmax {
            num_classes,
            seed,
            draws: antithetic_normals(seed, num_samples / 2, num_classes),
            predict_draws: antithetic_normals(
                seed ^ PREDICT_STREAM,
                PREDICT_NUM_SAMPLES / 2,
                num_classes,
            ),
        })
    }

    /// S, the number of training draws.
    pub fn num_samples(&self) -> usize {
        self.draws.len() / self.num_classes
    }

    /// veᵢ for class c at one point (`mu`, `var` of length C), writing g_μ and g_σ (module docs).
    fn point(&self, c: usize, mu: &[f64], var: &[f64], g_mu: &mut [f64], g_var: &mut [f64]) -> f64 {
        let l = self.num_classes;
        let sd: Vec<f64> = var.iter().map(|v| v.max(0.0).sqrt()).collect();
        let limit: Vec<bool> = (0..l)
            .map(|j| sd[j] <= LIMIT_BELOW_SD * mu[j].abs().max(1.0))
            .collect();
        let (mut f, mut p) = (vec![0.0; l], vec![0.0; l]);
        let (mut sum_lse, mut sum_p, mut sum_var) = (0.0, vec![0.0; l], vec![0.0; l]);
        for eps in self.draws.chunks_exact(l) {
            for j in 0..l {
                f[j] = if limit[j] {
                    mu[j]
                } else {
                    mu[j] + sd[j] * eps[j]
                };
            }
            sum_lse += softmax_in_place(&f, &mut p);
            for j in 0..l {
                sum_p[j] += p[j];
                sum_var[j] += if limit[j] {
                    p[j] * (1.0 - p[j])
                } else {
                    p[j] * eps[j]
                };
            }
        }
        let n = self.num_samples() as f64;
        let mut ve = mu[c] - sum_lse / n;
        for j in 0..l {
            g_mu[j] = f64::from(u8::from(j == c)) - sum_p[j] / n;
            if limit[j] {
                g_var[j] = -0.5 * sum_var[j] / n;
                ve += var[j].max(0.0) * g_var[j];
            } else {
                g_var[j] = -sum_var[j] / (n * 2.0 * sd[j]);
            }
        }
        ve
    }

    /// For row i, calls `visit` with log softmax(fₛ) at every predictive draw fₛ = μᵢ + σᵢ ∘ εₛ.
    fn for_each_predictive_draw(
        &self,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
        i: usize,
        mut visit: impl FnMut(&[f64]),
    ) {
        let l = self.num_classes;
        let (mut f, mut p) = (vec![0.0; l], vec![0.0; l]);
        for eps in self.predict_draws.chunks_exact(l) {
            for j in 0..l {
                f[j] = mu[(i, j)] + var[(i, j)].max(0.0).sqrt() * eps[j];
            }
            let lse = softmax_in_place(&f, &mut p);
            for j in 0..l {
                p[j] = f[j] - lse;
            }
            visit(&p);
        }
    }
}

impl LikelihoodBase for Softmax {
    fn num_classes(&self) -> Option<usize> {
        Some(self.num_classes)
    }

    /// "softmax".
    fn name(&self) -> &'static str {
        "softmax"
    }

    /// 0: no parameters.
    fn num_params(&self) -> usize {
        0
    }

    /// Empty.
    fn param_names(&self) -> Vec<String> {
        Vec::new()
    }

    /// Empty.
    fn params(&self) -> Vec<f64> {
        Vec::new()
    }

    /// Accepts only the empty slice.
    ///
    /// # Errors
    /// `ShapeMismatch` for a non-empty one.
    fn set_params(&mut self, params: &[f64]) -> Result<()> {
        check_shape(
            "softmax likelihood parameters",
            Shape::new(0, 1),
            Shape::new(params.len(), 1),
        )
    }

    /// Checks that every target is a class 0, …, C − 1.
    ///
    /// # Errors
    /// `InvalidTarget { row, value, reason }` for the first other value (0-based row).
    fn check_targets(&self, y: &DVector<f64>) -> Result<()> {
        check_classes(y, self.num_classes)
    }

    /// The serialisable description.
    fn spec(&self) -> LikelihoodSpec {
        LikelihoodSpec::Softmax(SoftmaxSpec {
            num_classes: self.num_classes,
            num_samples: self.num_samples(),
            seed: self.seed,
        })
    }
}

impl Likelihood for Softmax {
    /// L = C.
    fn num_latent(&self) -> usize {
        self.num_classes
    }

    /// (ve, g_μ, g_σ): veᵢ = μᵢᵧ − (1/S) Σₛ lse(μᵢ + σᵢ ∘ εₛ) (length B) and its exact derivatives
    /// in μᵢₗ and σ²ᵢₗ (B×C; module docs). `y` has length B; `mu`, `var` are B×C, `var` ≥ 0;
    /// targets must pass [`Softmax::check_targets`].
    fn variational_expectations(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
    ) -> VarExp {
        debug_check_shapes(self.num_classes, Some(y), mu, var);
        let (b, l) = mu.shape();
        let (mut ve, mut g_mu, mut g_var) = (
            DVector::zeros(b),
            DMatrix::zeros(b, l),
            DMatrix::zeros(b, l),
        );
        let (mut gm, mut gv) = (vec![0.0; l], vec![0.0; l]);
        for i in 0..b {
            ve[i] = self.point(y[i] as usize, &row(mu, i), &row(var, i), &mut gm, &mut gv);
            for j in 0..l {
                (g_mu[(i, j)], g_var[(i, j)]) = (gm[j], gv[j]);
            }
        }
        VarExp { ve, g_mu, g_var }
    }

    /// Σᵢ v̄eᵢ ∂veᵢ/∂pₖ: empty (no parameters).
    fn vjp_params(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
        _ve_bar: &DVector<f64>,
    ) -> DVector<f64> {
        debug_check_shapes(self.num_classes, Some(y), mu, var);
        DVector::zeros(0)
    }

    /// Class probabilities E[softmax(f)] (B×C, by the predictive sample; rows sum to 1) and their
    /// Bernoulli variances p(1 − p) (B×C).
    fn predict_y(&self, mu: &DMatrix<f64>, var: &DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
        debug_check_shapes(self.num_classes, None, mu, var);
        let (b, l) = (mu.nrows(), self.num_classes);
        let mut p = DMatrix::zeros(b, l);
        for i in 0..b {
            self.for_each_predictive_draw(mu, var, i, |log_p| {
                for j in 0..l {
                    p[(i, j)] += log_p[j].exp();
                }
            });
        }
        p /= PREDICT_NUM_SAMPLES as f64;
        let v = p.map(|p| p * (1.0 - p));
        (p, v)
    }

    /// log E[softmax(f)_{yᵢ}] by log-mean-exp of log softmax over the predictive sample (no
    /// underflow for a very unlikely class; length B).
    fn log_predictive_density(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
    ) -> DVector<f64> {
        debug_check_shapes(self.num_classes, Some(y), mu, var);
        let mut terms = Vec::with_capacity(PREDICT_NUM_SAMPLES);
        DVector::from_fn(y.len(), |i, _| {
            terms.clear();
            self.for_each_predictive_draw(mu, var, i, |log_p| terms.push(log_p[y[i] as usize]));
            let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            max + (terms.iter().map(|t| (t - max).exp()).sum::<f64>() / terms.len() as f64).ln()
        })
    }

    fn box_clone(&self) -> Box<dyn Likelihood> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::likelihood::multi::test_support::{check_gradients, mean_and_se, within_4_se};
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::StandardNormal;

    /// Three points, C = 3.
    fn cases() -> (DVector<f64>, DMatrix<f64>, DMatrix<f64>) {
        let y = DVector::from_vec(vec![0.0, 2.0, 1.0]);
        #[rustfmt::skip]
        let mu = DMatrix::from_row_slice(3, 3, &[
            0.0, 0.0, 0.0,
            2.0, 0.0, -1.0,
            0.0, 1.0, 0.0,
        ]);
        #[rustfmt::skip]
        let var = DMatrix::from_row_slice(3, 3, &[
            1.0, 1.0, 1.0,
            0.5, 2.0, 1.0,
            4.0, 0.1, 0.1,
        ]);
        (y, mu, var)
    }

    /// Per antithetic pair, the mean over its two draws of (lse, pⱼ, pⱼεⱼ): the independent units
    /// of the fixed sample, whose spread gives the estimator's standard errors.
    fn pair_means(lik: &Softmax, mu: &[f64], var: &[f64]) -> Vec<Vec<f64>> {
        let l = lik.num_classes;
        let mut p = vec![0.0; l];
        let units: Vec<Vec<f64>> = lik
            .draws
            .chunks_exact(l)
            .map(|eps| {
                let f: Vec<f64> = (0..l).map(|j| mu[j] + var[j].sqrt() * eps[j]).collect();
                let mut unit = vec![softmax_in_place(&f, &mut p)];
                unit.extend(&p);
                unit.extend((0..l).map(|j| p[j] * eps[j]));
                unit
            })
            .collect();
        units
            .chunks_exact(2)
            .map(|pair| {
                pair[0]
                    .iter()
                    .zip(&pair[1])
                    .map(|(a, b)| 0.5 * (a + b))
                    .collect()
            })
            .collect()
    }

    /// Mean and standard error of column k over the units.
    fn column_stats(units: &[Vec<f64>], k: usize) -> (f64, f64) {
        let (s, s2) = units
            .iter()
            .fold((0.0, 0.0), |(s, s2), u| (s + u[k], s2 + u[k] * u[k]));
        mean_and_se(s, s2, units.len())
    }

    /// E[lse f], E[pⱼ] and E[pⱼ(1 − pⱼ)] (Price: g_σⱼ = −½ of it) by `draws` fresh seeded draws,
    /// each as (mean, standard error).
    fn reference(mu: &[f64], var: &[f64], draws: usize, seed: u64) -> Vec<(f64, f64)> {
        let l = mu.len();
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut f, mut p) = (vec![0.0; l], vec![0.0; l]);
        let mut sums = vec![(0.0, 0.0); 1 + 2 * l];
        for _ in 0..draws {
            for j in 0..l {
                f[j] = mu[j] + var[j].sqrt() * rng.sample::<f64, _>(StandardNormal);
            }
            let lse = softmax_in_place(&f, &mut p);
            let values = std::iter::once(lse)
                .chain(p.iter().copied())
                .chain(p.iter().map(|p| p * (1.0 - p)));
            for (s, x) in sums.iter_mut().zip(values) {
                *s = (s.0 + x, s.1 + x * x);
            }
        }
        sums.iter()
            .map(|&(s, s2)| mean_and_se(s, s2, draws))
            .collect()
    }

    /// ve, g_μ and g_σ of the fixed 256-draw sample against 10⁶ fresh draws (g_σ's reference by
    /// Price's theorem), within 4·√(se_sample² + se_reference²): the estimator is unbiased over
    /// seeds, so its error is its own sampling error, estimated from its 128 antithetic pairs.
    #[test]
    fn expectations_match_long_monte_carlo() {
        let lik = Softmax::new(3).unwrap();
        let (y, mu, var) = cases();
        let VarExp { ve, g_mu, g_var } = lik.variational_expectations(&y, &mu, &var);
        for i in 0..3 {
            let (m, v) = (row(&mu, i), row(&var, i));
            let reference = reference(&m, &v, 1_000_000, 100 + i as u64);
            let units = pair_means(&lik, &m, &v);
            let c = y[i] as usize;
            let (lse_ref, lse_se) = reference[0];
            let (_, se) = column_stats(&units, 0);
            assert!(
                within_4_se(ve[i], se, m[c] - lse_ref, lse_se),
                "ve point {i}"
            );
            for j in 0..3 {
                let (p_ref, p_se) = reference[1 + j];
                let (_, se) = column_stats(&units, 1 + j);
                let delta = f64::from(u8::from(j == c));
                assert!(
                    within_4_se(g_mu[(i, j)], se, delta - p_ref, p_se),
                    "g_mu {i},{j}"
                );
                let (q_ref, q_se) = reference[4 + j];
                let (_, se) = column_stats(&units, 4 + j);
                let se = se / (2.0 * v[j].sqrt());
                assert!(
                    within_4_se(g_var[(i, j)], se, -0.5 * q_ref, 0.5 * q_se),
                    "g_var {i},{j}"
                );
            }
        }
    }

    /// g_μ, g_σ are the exact derivatives of the fixed-sample ve: central differences agree to
    /// abs 1e-6 + rel 1e-5 (STYLE.md).
    #[test]
    fn derivatives_are_exact_for_the_fixed_sample() {
        let lik = Softmax::with_sampling(3, 64, 5).unwrap();
        let (y, mu, var) = cases();
        let VarExp { g_mu, g_var, .. } = lik.variational_expectations(&y, &mu, &var);
        let ve = |m: &DMatrix<f64>, v: &DMatrix<f64>| lik.variational_expectations(&y, m, v).ve;
        check_gradients(ve, &mu, &var, &g_mu, &g_var);
    }

    /// Shift invariance of ve (1e-12: the shift's rounding), Σⱼ g_μⱼ = 0 (1e-14), predictive rows
    /// summing to 1 (1e-12).
    #[test]
    fn shift_invariance_and_sums() {
        let lik = Softmax::new(3).unwrap();
        let (y, mu, var) = cases();
        let VarExp { ve, g_mu, .. } = lik.variational_expectations(&y, &mu, &var);
        let VarExp { ve: ve_s, .. } = lik.variational_expectations(&y, &mu.add_scalar(-4.2), &var);
        assert!((ve - ve_s).amax() < 1e-12);
        for i in 0..3 {
            assert!(g_mu.row(i).sum().abs() < 1e-14);
        }
        let (p, _) = lik.predict_y(&mu, &var);
        for i in 0..3 {
            assert!((p.row(i).sum() - 1.0).abs() < 1e-12);
        }
    }

    /// Predictive probabilities and exp(log predictive density) against 10⁶ fresh draws of
    /// E[softmax f], within 4·√(se_sample² + se_reference²) (the predictive sample's standard
    /// error from its antithetic pairs).
    #[test]
    fn predictions_match_long_monte_carlo() {
        let lik = Softmax::new(3).unwrap();
        let (y, mu, var) = cases();
        let (p, v) = lik.predict_y(&mu, &var);
        let lpd = lik.log_predictive_density(&y, &mu, &var);
        for i in 0..3 {
            let reference = reference(&row(&mu, i), &row(&var, i), 1_000_000, 200 + i as u64);
            let mut pairs = [(0.0, 0.0); 3];
            let mut units = Vec::new();
            lik.for_each_predictive_draw(&mu, &var, i, |log_p| {
                units.push(log_p.iter().map(|x| x.exp()).collect::<Vec<_>>())
            });
            for pair in units.chunks_exact(2) {
                for (j, s) in pairs.iter_mut().enumerate() {
                    let x = 0.5 * (pair[0][j] + pair[1][j]);
                    *s = (s.0 + x, s.1 + x * x);
                }
            }
            for j in 0..3 {
                let (_, se) = mean_and_se(pairs[j].0, pairs[j].1, units.len() / 2);
                println!(
                    "point {i} class {j}: p = {:.4}, standard error {se:.1e}",
                    p[(i, j)]
                );
                let (p_ref, p_se) = reference[1 + j];
                assert!(
                    within_4_se(p[(i, j)], se, p_ref, p_se),
                    "p {i},{j}: {} vs {p_ref}",
                    p[(i, j)]
                );
                assert!((v[(i, j)] - p[(i, j)] * (1.0 - p[(i, j)])).abs() < 1e-15);
            }
            assert!((lpd[i].exp() - p[(i, y[i] as usize)]).abs() < 1e-12);
        }
    }

    /// All σ² = 0: ve = log softmax(μ)_y (1e-13: a mean of S equal terms, rounded S times).
    /// σⱼ² = 0 takes the limit: g_σⱼ = −½ mean pⱼ(1 − pⱼ), checked against a forward difference of
    /// the limit branch itself (h = 0.9e-12 keeps σ below the 1e-6 threshold; that branch's ve is
    /// linear in σⱼ², so only rounding ~1e-16/h ≈ 1e-4 is left: abs 3e-4); crossing the
    /// threshold moves ve by less than 1e-6 (σⱼ times a mean of εⱼpⱼ). Extremes stay finite.
    #[test]
    fn zero_variance_limit_and_extremes() {
        let lik = Softmax::new(3).unwrap();
        let y = DVector::from_vec(vec![1.0]);
        let mu = DMatrix::from_row_slice(1, 3, &[0.3, -0.2, 0.5]);
        let at =
            |v: [f64; 3]| lik.variational_expectations(&y, &mu, &DMatrix::from_row_slice(1, 3, &v));
        let log_softmax = mu[(0, 1)] - softmax_in_place(&row(&mu, 0), &mut [0.0; 3]);
        let ve_exact = at([0.0; 3]).ve[0];
        assert!(
            (ve_exact - log_softmax).abs() < 1e-13,
            "{ve_exact} vs {log_softmax}"
        );
        let VarExp {
            ve: ve0, g_var: g0, ..
        } = at([1.0, 0.0, 0.5]);
        let h = 0.9e-12;
        let fd = (at([1.0, h, 0.5]).ve[0] - ve0[0]) / h;
        assert!((g0[(0, 1)] - fd).abs() < 3e-4, "{} vs {fd}", g0[(0, 1)]);
        let below = at([1.0, 0.99e-12, 0.5]).ve[0];
        let above = at([1.0, 1.01e-12, 0.5]).ve[0];
        assert!((below - above).abs() < 1e-6, "{below} vs {above}");
        for &(m, v) in &[(-1e6, 0.0), (1e6, 1e8), (0.0, 1e8), (5.0, 0.0)] {
            let mu = DMatrix::from_row_slice(1, 3, &[m, 0.0, -m]);
            let var = DMatrix::from_row_slice(1, 3, &[v, 0.0, 1.0]);
            for c in 0..3 {
                let y = DVector::from_element(1, c as f64);
                let VarExp { ve, g_mu, g_var } = lik.variational_expectations(&y, &mu, &var);
                let (p, pv) = lik.predict_y(&mu, &var);
                let lpd = lik.log_predictive_density(&y, &mu, &var);
                for x in ve
                    .iter()
                    .chain(&g_mu)
                    .chain(&g_var)
                    .chain(&p)
                    .chain(&pv)
                    .chain(&lpd)
                {
                    assert!(x.is_finite(), "μ = {mu}, σ² = {var}, y = {c}");
                }
            }
        }
    }

    /// Bias and spread of the default estimator (S = 256) over 200 seeds against a 4·10⁶-draw
    /// reference, for the module docs' table (run with --nocapture to print it). The bias must be
    /// within 4 standard errors of 0 (unbiased estimator) and the spread below 0.05.
    #[test]
    fn bias_and_spread_over_seeds() {
        let (y, mu, var) = cases();
        for i in 0..3 {
            let (m, v) = (row(&mu, i), row(&var, i));
            let c = y[i] as usize;
            let (lse_ref, lse_se) = reference(&m, &v, 4_000_000, 300 + i as u64)[0];
            let truth = m[c] - lse_ref;
            let (yi, mi, vi) = (
                DVector::from_element(1, y[i]),
                mu.rows(i, 1).into_owned(),
                var.rows(i, 1).into_owned(),
            );
            let (mut s, mut s2, seeds) = (0.0, 0.0, 200);
            for seed in 0..seeds {
                let lik = Softmax::with_sampling(3, DEFAULT_NUM_SAMPLES, seed).unwrap();
                let err = lik.variational_expectations(&yi, &mi, &vi).ve[0] - truth;
                (s, s2) = (s + err, s2 + err * err);
            }
            let (bias, se_bias) = mean_and_se(s, s2, seeds as usize);
            let spread = se_bias * (seeds as f64).sqrt();
            println!(
                "μ = {m:?}, σ² = {v:?}: reference {truth:.4} ± {lse_se:.1e}, \
                 bias {bias:+.4} ± {se_bias:.4}, spread {spread:.4}"
            );
            assert!(bias.abs() < 4.0 * se_bias.hypot(lse_se), "biased: {bias}");
            assert!(spread < 0.05);
        }
    }

    /// Bad constructors and targets; the spec rebuilds bit-identical draws through JSON.
    #[test]
    fn validation_and_spec_round_trip() {
        assert!(Softmax::new(1).is_err());
        for s in [0, 3] {
            assert!(matches!(
                Softmax::with_sampling(3, s, 1),
                Err(SvgpError::InvalidParameter { .. })
            ));
        }
        let mut lik = Softmax::with_sampling(4, 10, 77).unwrap();
        assert!(lik.set_params(&[1.0]).is_err());
        assert!(lik.set_params(&[]).is_ok());
        assert_eq!(
            (lik.num_latent(), lik.name(), lik.num_params()),
            (4, "softmax", 0)
        );
        let bad = |v: Vec<f64>| lik.check_targets(&DVector::from_vec(v));
        assert!(bad(vec![0.0, 3.0]).is_ok());
        for (v, row) in [
            (vec![0.0, 4.0], 1),
            (vec![0.5], 0),
            (vec![f64::INFINITY], 0),
        ] {
            assert!(matches!(bad(v), Err(SvgpError::InvalidTarget { row: r, .. }) if r == row));
        }
        let json = serde_json::to_string(&lik.spec()).unwrap();
        let rebuilt = serde_json::from_str::<LikelihoodSpec>(&json)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(rebuilt.spec(), lik.spec());
        let draws: Vec<f64> = lik
            .draws
            .chunks_exact(4)
            .step_by(2)
            .flatten()
            .copied()
            .collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!(mean.abs() < 1.0, "draws look standard normal");
    }
}
