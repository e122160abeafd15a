//! Multiclass robust-max likelihood (GPflow's `MultiClass` with `RobustMax`; MATH.md §5): C = L
//! latents, p(y | f) = 1 − ε if y = argmax f, else ε/(C − 1).
//!
//! With P = P(f_y > f_j ∀ j ≠ y) under q(f) = N(μ, diag σ²),
//! ve = log(1 − ε) P + log(ε/(C − 1)) (1 − P), and
//! P = ∫ φ(x) Π_{j≠y} Φ((μ_y + σ_y x − μ_j)/σ_j) dx
//! by one-dimensional Gauss–Hermite quadrature (deterministic), differentiated exactly through
//! the rule. The training rule has [`ROBUSTMAX_QUADRATURE_ORDER`] = 20 nodes (GPflow's default);
//! predictive probabilities and log predictive densities use the 200-node
//! [`GaussHermite::fine_rule`].
//!
//! Accuracy of P (absolute error of the 20-node rule against the 200-node rule, measured by the
//! test `quadrature_accuracy_is_as_documented`): the integrand's factors are smooth on the scale
//! σ_j/σ_y in x, so the error is governed by the ratio ρ = max_{j≠y} σ_y/σ_j: below 1e-9 for
//! ρ ≤ 1, below 1e-5 for ρ ≤ 3, about 1e-3 at ρ = 10 (the rule then resolves a factor's step with
//! a few nodes only). For C = 2 the exact P = Φ((μ_y − μ_j)/√(σ_y² + σ_j²)) is matched to 1e-9
//! at ρ ≤ 1. A latent with σ_j² ≤ 1e-300 is taken as exact (its factor is the step
//! 1[μ_y + σ_y x > μ_j], ½ at a tie), which keeps every φ(z)/σ_j below 1e150.
//!
//! ε is fixed (default [`DEFAULT_EPSILON`] = 1e-3, as GPflow) or learned through the
//! unconstrained p = logit ε, ε = sigmoid(p) ∈ (0, 1), with log(1 − ε) = −softplus(p) and
//! log ε = −softplus(−p) computed without cancellation.

use super::multi::{check_classes, debug_check_shapes};
use super::quadrature::GaussHermite;
use super::special::{log_normal_pdf, normal_cdf};
use super::LIMIT_BELOW_SD;
use crate::error::{check_shape, Result, Shape, SvgpError};
use crate::transform::{check_finite, sigmoid, softplus};
use nalgebra::{DMatrix, DVector};
use std::f64::consts::SQRT_2;

/// GPflow's default ε = 1e-3.
pub const DEFAULT_EPSILON: f64 = 1e-3;

/// Gauss–Hermite order of the training expectations (GPflow's 20).
pub const ROBUSTMAX_QUADRATURE_ORDER: usize = 20;

/// A latent with σ² at or below this is taken as exact (its factor a step).
const NEGLIGIBLE_VAR: f64 = 1e-300;

/// Robust-max multiclass likelihood over C ≥ 2 classes (C = L latents); targets are classes
/// 0, …, C − 1. Parameters: `epsilon` (logit-transformed) when learned, else none.
#[derive(Debug, Clone, PartialEq)]
pub struct RobustMax {
    num_classes: usize,
    raw_epsilon: f64,
    learn_epsilon: bool,
    rule: GaussHermite,
}

/// A [`RobustMax`] as data, from which [`RobustMaxSpec::build`] rebuilds it exactly.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RobustMaxSpec {
    /// C ≥ 2.
    pub num_classes: usize,
    /// logit ε.
    pub raw_epsilon: f64,
    /// Whether ε is trained.
    pub learn_epsilon: bool,
    /// Gauss–Hermite order of the training expectations (1 to 200).
    pub quadrature_order: usize,
}

impl RobustMaxSpec {
    /// The likelihood described.
    ///
    /// # Errors
    /// `InvalidParameter` for C < 2, a non-finite `raw_epsilon` or a bad quadrature order.
    pub fn build(&self) -> Result<RobustMax> {
        let mut lik = RobustMax::new(self.num_classes, DEFAULT_EPSILON, true)?
            .with_quadrature_order(self.quadrature_order)?;
        lik.set_params(&[self.raw_epsilon])?;
        lik.learn_epsilon = self.learn_epsilon;
        Ok(lik)
    }
}

/// P(f_c > f_j ∀ j ≠ c) and, when asked, ∂P/∂μ and ∂P/∂σ² (length L each, else empty).
struct Largest {
    p: f64,
    d_mu: Vec<f64>,
    d_var: Vec<f64>,
}

/// For the factor Φ(zⱼ), zⱼ = (a − μⱼ)/σⱼ, of latent j at a = μ_c + σ_c x: (Φ(zⱼ), ∂/∂a = φ(zⱼ)/σⱼ,
/// ∂/∂σⱼ² = −φ(zⱼ) zⱼ/(2σⱼ²)); the factor of c itself is (1, 0, 0), an exact latent's a step.
fn factor(a: f64, mu_j: f64, var_j: f64, is_c: bool) -> (f64, f64, f64) {
    if is_c {
        return (1.0, 0.0, 0.0);
    }
    if var_j <= NEGLIGIBLE_VAR {
        let d = a - mu_j;
        let step = if d > 0.0 {
            1.0
        } else if d < 0.0 {
            0.0
        } else {
            0.5
        };
        return (step, 0.0, 0.0);
    }
    let sd = var_j.sqrt();
    let z = (a - mu_j) / sd;
    let d_a = log_normal_pdf(z).exp() / sd;
    (normal_cdf(z), d_a, -0.5 * d_a * z / sd)
}

/// loo[j] = Π_{i≠j} f[i], by prefix and suffix products (no division, so zeros are safe).
fn leave_one_out(f: &[f64], loo: &mut [f64]) {
    let mut prefix = 1.0;
    for (o, &x) in loo.iter_mut().zip(f) {
        *o = prefix;
        prefix *= x;
    }
    let mut suffix = 1.0;
    for (o, &x) in loo.iter_mut().zip(f).rev() {
        *o *= suffix;
        suffix *= x;
    }
}

/// F″(a) for F(a) = Πⱼ Φ(zⱼ(a)): Σⱼ ∂²Φⱼ/∂a² Π_{i≠j} Φᵢ + 2 Σ_{i<j} Φ′ᵢ Φ′ⱼ Π_{k≠i,j} Φₖ, the
/// second sum as the u² coefficient of Πⱼ (Φⱼ + Φ′ⱼ u); ∂²Φⱼ/∂a² = −zⱼ φ(zⱼ)/σⱼ² = 2 ∂Φⱼ/∂σⱼ².
fn second_derivative(c: usize, a: f64, mu: &[f64], var: &[f64]) -> f64 {
    let (mut e0, mut e1, mut e2, mut curvature) = (1.0, 0.0, 0.0, 0.0);
    for j in 0..mu.len() {
        let (f, d_a, d_var) = factor(a, mu[j], var[j], j == c);
        curvature = curvature * f + e0 * 2.0 * d_var;
        e2 = e2 * f + e1 * d_a;
        e1 = e1 * f + e0 * d_a;
        e0 *= f;
    }
    curvature + 2.0 * e2
}

/// P(f_c > f_j ∀ j ≠ c) by `rule`, with derivatives through the nodes when `grads`:
/// ∂P/∂μⱼ = −Σₖ wₖ Φ′ⱼ Π_{i≠j}Φᵢ, ∂P/∂σⱼ² = Σₖ wₖ ∂Φⱼ/∂σⱼ² Π_{i≠j}Φᵢ, ∂P/∂μ_c = −Σ_{j≠c} ∂P/∂μⱼ
/// (shift invariance), ∂P/∂σ_c² = Σₖ wₖ (Σⱼ Φ′ⱼ Π_{i≠j}Φᵢ) xₖ/(√2 σ_c) — or, for
/// σ_c ≤ 10⁻⁶·max(1, |μ_c|), its σ_c → 0 limit ½ F″(μ_c), which the rule's derivative approaches
/// to O(σ_c²) (through the nodes it would divide rounding by σ_c).
fn prob_is_largest(rule: &GaussHermite, c: usize, mu: &[f64], var: &[f64], grads: bool) -> Largest {
    let l = mu.len();
    let sd_c = var[c].max(0.0).sqrt();
    let limit = sd_c <= LIMIT_BELOW_SD * mu[c].abs().max(1.0);
    let mut out = Largest {
        p: 0.0,
        d_mu: vec![0.0; if grads { l } else { 0 }],
        d_var: vec![0.0; if grads { l } else { 0 }],
    };
    let (mut f, mut d_a, mut d_var, mut loo) =
        (vec![0.0; l], vec![0.0; l], vec![0.0; l], vec![0.0; l]);
    for ((a, w), x) in rule.gaussian_points(mu[c], var[c]).zip(rule.nodes()) {
        for j in 0..l {
            (f[j], d_a[j], d_var[j]) = factor(a, mu[j], var[j], j == c);
        }
        leave_one_out(&f, &mut loo);
        out.p += w * loo[c]; // f[c] = 1, so Π f = loo[c]
        if !grads {
            continue;
        }
        let mut total_d_a = 0.0;
        for j in 0..l {
            out.d_mu[j] -= w * d_a[j] * loo[j];
            out.d_var[j] += w * d_var[j] * loo[j];
            total_d_a += d_a[j] * loo[j];
        }
        out.d_mu[c] += w * total_d_a;
        if !limit {
            out.d_var[c] += w * total_d_a * x * SQRT_2 / (2.0 * sd_c);
        }
    }
    if grads {
        out.d_mu[c] = -(0..l).filter(|&j| j != c).map(|j| out.d_mu[j]).sum::<f64>();
        if limit {
            out.d_var[c] = 0.5 * second_derivative(c, mu[c], mu, var);
        }
    }
    out
}

impl RobustMax {
    /// Robust-max over C ≥ 2 classes with 0 < ε < 1, ε trained when `learn_epsilon`.
    ///
    /// # Errors
    /// `InvalidParameter { name: "num_classes" }` for C < 2, `{ name: "epsilon" }` for ε not in
    /// (0, 1).
    pub fn new(num_classes: usize, epsilon: f64, learn_epsilon: bool) -> Result<Self> {
        if num_classes < 2 {
            return Err(SvgpError::InvalidParameter {
                name: "num_classes".into(),
                value: num_classes as f64,
                reason: "robust-max needs at least 2 classes",
            });
        }
        // logit ε = log ε − log(1 − ε), finite for every ε strictly inside (0, 1)
        let raw_epsilon = epsilon.ln() - (-epsilon).ln_1p();
        if !(epsilon > 0.0 && epsilon < 1.0 && raw_epsilon.is_finite()) {
            return Err(SvgpError::InvalidParameter {
                name: "epsilon".into(),
                value: epsilon,
                reason: "must lie strictly between 0 and 1",
            });
        }
        Ok(RobustMax {
            num_classes,
            raw_epsilon,
            learn_epsilon,
            rule: GaussHermite::new(ROBUSTMAX_QUADRATURE_ORDER)?,
        })
    }

    /// The same likelihood with an n-node training rule (1 ≤ n ≤ 200).
    ///
    /// # Errors
    /// `InvalidParameter { name: "quadrature order" }` outside that range.
    pub fn with_quadrature_order(mut self, n: usize) -> Result<Self> {
        self.rule = GaussHermite::new(n)?;
        Ok(self)
    }

    /// L = C.
    pub fn num_latent(&self) -> usize {
        self.num_classes
    }

    /// "robustmax".
    pub fn name(&self) -> &'static str {
        "robustmax"
    }

    /// ε = sigmoid(p).
    pub fn epsilon(&self) -> f64 {
        sigmoid(self.raw_epsilon)
    }

    /// 1 when ε is learned, else 0.
    pub fn num_params(&self) -> usize {
        usize::from(self.learn_epsilon)
    }

    /// `["epsilon"]` when learned, else empty.
    pub fn param_names(&self) -> Vec<String> {
        if self.learn_epsilon {
            vec!["epsilon".to_string()]
        } else {
            Vec::new()
        }
    }

    /// `[logit ε]` when learned, else empty.
    pub fn params(&self) -> Vec<f64> {
        if self.learn_epsilon {
            vec![self.raw_epsilon]
        } else {
            Vec::new()
        }
    }

    /// Sets logit ε (length `num_params`).
    ///
    /// # Errors
    /// `ShapeMismatch` for a wrong length, `InvalidParameter` for a non-finite value; on error
    /// the likelihood is unchanged.
    pub fn set_params(&mut self, params: &[f64]) -> Result<()> {
        check_shape(
            "robust-max likelihood parameters",
            Shape::new(self.num_params(), 1),
            Shape::new(params.len(), 1),
        )?;
        check_finite(&self.param_names(), params)?;
        if let Some(&p) = params.first() {
            self.raw_epsilon = p;
        }
        Ok(())
    }

    /// (log(1 − ε), log(ε/(C − 1))): the log likelihood of a correct and of a wrong argmax.
    fn log_levels(&self) -> (f64, f64) {
        (
            -softplus(self.raw_epsilon),
            -softplus(-self.raw_epsilon) - ((self.num_classes - 1) as f64).ln(),
        )
    }

    /// (ve, g_μ, g_σ): veᵢ = log(1 − ε) Pᵢ + log(ε/(C − 1))(1 − Pᵢ) (length B), and its exact
    /// derivatives in μᵢₗ and σ²ᵢₗ (B×L) through the training rule. `y` has length B; `mu`,
    /// `var` are B×C with `var` ≥ 0; targets must pass [`RobustMax::check_targets`].
    pub fn variational_expectations(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
    ) -> (DVector<f64>, DMatrix<f64>, DMatrix<f64>) {
        debug_check_shapes(self.num_classes, Some(y), mu, var);
        let (hit, miss) = self.log_levels();
        let (b, l) = mu.shape();
        let (mut ve, mut g_mu, mut g_var) = (
            DVector::zeros(b),
            DMatrix::zeros(b, l),
            DMatrix::zeros(b, l),
        );
        for i in 0..b {
            let (m, v): (Vec<f64>, Vec<f64>) = (
                mu.row(i).iter().copied().collect(),
                var.row(i).iter().copied().collect(),
            );
            let got = prob_is_largest(&self.rule, y[i] as usize, &m, &v, true);
            ve[i] = miss + (hit - miss) * got.p;
            for j in 0..l {
                g_mu[(i, j)] = (hit - miss) * got.d_mu[j];
                g_var[(i, j)] = (hit - miss) * got.d_var[j];
            }
        }
        (ve, g_mu, g_var)
    }

    /// Σᵢ v̄eᵢ ∂veᵢ/∂p with p = logit ε: ∂ve/∂p = −ε P + (1 − ε)(1 − P) (length `num_params`).
    pub fn vjp_params(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
        ve_bar: &DVector<f64>,
    ) -> DVector<f64> {
        debug_check_shapes(self.num_classes, Some(y), mu, var);
        if !self.learn_epsilon {
            return DVector::zeros(0);
        }
        let eps = self.epsilon();
        let total: f64 = (0..y.len())
            .map(|i| {
                let p = self.probability(&self.rule, i, y[i] as usize, mu, var);
                ve_bar[i] * (-eps * p + (1.0 - eps) * (1.0 - p))
            })
            .sum();
        DVector::from_element(1, total)
    }

    /// P(f_c is largest) for row i of `mu`, `var` by `rule`, clamped to [0, 1].
    fn probability(
        &self,
        rule: &GaussHermite,
        i: usize,
        c: usize,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
    ) -> f64 {
        let (m, v): (Vec<f64>, Vec<f64>) = (
            mu.row(i).iter().copied().collect(),
            var.row(i).iter().copied().collect(),
        );
        prob_is_largest(rule, c, &m, &v, false).p.clamp(0.0, 1.0)
    }

    /// Class probabilities p(y = c) = (1 − ε) P_c + ε/(C − 1)(1 − P_c) (B×C, P_c by the 200-node
    /// rule) and their Bernoulli variances p(1 − p) (B×C).
    pub fn predict_y(&self, mu: &DMatrix<f64>, var: &DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
        debug_check_shapes(self.num_classes, None, mu, var);
        let eps = self.epsilon();
        let wrong = eps / (self.num_classes - 1) as f64;
        let p = DMatrix::from_fn(mu.nrows(), self.num_classes, |i, c| {
            let pc = self.probability(GaussHermite::fine_rule(), i, c, mu, var);
            (1.0 - eps) * pc + wrong * (1.0 - pc)
        });
        let v = p.map(|p| p * (1.0 - p));
        (p, v)
    }

    /// log p(yᵢ) = log((1 − ε) P + ε/(C − 1)(1 − P)) with P = P(f_{yᵢ} is largest) by the
    /// 200-node rule: exact given P, since p(y | f) depends on f only through argmax f (length B).
    pub fn log_predictive_density(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
    ) -> DVector<f64> {
        debug_check_shapes(self.num_classes, Some(y), mu, var);
        let (hit, miss) = self.log_levels();
        DVector::from_fn(y.len(), |i, _| {
            let p = self.probability(GaussHermite::fine_rule(), i, y[i] as usize, mu, var);
            (hit.exp() * p + miss.exp() * (1.0 - p)).ln()
        })
    }

    /// Checks that every target is a class 0, …, C − 1.
    ///
    /// # Errors
    /// `InvalidTarget { row, value, reason }` for the first other value (0-based row).
    pub fn check_targets(&self, y: &DVector<f64>) -> Result<()> {
        check_classes(y, self.num_classes)
    }

    /// The serialisable description.
    pub fn spec(&self) -> RobustMaxSpec {
        RobustMaxSpec {
            num_classes: self.num_classes,
            raw_epsilon: self.raw_epsilon,
            learn_epsilon: self.learn_epsilon,
            quadrature_order: self.rule.nodes().len(),
        }
    }
}
