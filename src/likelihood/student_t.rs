//! Student-t likelihood y = f + s·t_ν, robust to outliers; learnable scale s, degrees of freedom
//! ν fixed (default 3, as the paper and the peer scripts) or learnable.

use super::quadrature::GaussHermite;
use super::{check_each, LikelihoodBase, LogProb, ScalarLikelihood};
use crate::error::{check_shape, Result, Shape};
use crate::transform::{check_finite, Positive};
use nalgebra::DVector;
use statrs::function::gamma::{digamma, ln_gamma};
use std::f64::consts::PI;

/// Default degrees of freedom ν = 3: heavy tails, finite variance.
pub const DEFAULT_DF: f64 = 3.0;

/// p(y | f) = Γ((ν+1)/2) / (Γ(ν/2) √(νπ) s) · (1 + r²/(ν s²))^{−(ν+1)/2}, r = y − f.
///
/// Parameters (unconstrained, softplus with floor 1e-6): `scale`, then `df` when learnable.
#[derive(Debug, Clone, PartialEq)]
pub struct StudentT {
    raw_scale: f64,
    raw_df: f64,
    learn_df: bool,
    transform: Positive,
    rule: GaussHermite,
    /// s, ν and log Γ((ν+1)/2) − log Γ(ν/2) − ½ log(νπ) − log s, kept in step with the raw
    /// parameters so that the per-node densities cost one log1p each.
    derived: Derived,
}

/// Values derived from the raw parameters (see [`StudentT::set_params`]).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Derived {
    s: f64,
    nu: f64,
    log_norm: f64,
}

/// Default Gauss–Hermite order for the Student-t: its log density bends on the scale s, often far
/// narrower than σ, where 20 nodes leave ~1% error in g_μ (measured against 10⁶-draw Monte Carlo
/// at s = 0.4, σ² = 1.2); 100 nodes bring it under the Monte Carlo standard error.
pub const STUDENT_T_QUADRATURE_ORDER: usize = 100;

impl StudentT {
    /// Scale s > 1e-6 and degrees of freedom ν > 1e-6; ν is fixed unless `learn_df`.
    ///
    /// # Errors
    /// `InvalidParameter { name: "scale" | "df" }` for a value not finite or not above the floor.
    pub fn new(scale: f64, df: f64, learn_df: bool) -> Result<Self> {
        let transform = Positive::default();
        let mut lik = StudentT {
            raw_scale: transform.inverse("scale", scale)?,
            raw_df: transform.inverse("df", df)?,
            learn_df,
            transform,
            rule: GaussHermite::new(STUDENT_T_QUADRATURE_ORDER)?,
            derived: Derived {
                s: f64::NAN,
                nu: f64::NAN,
                log_norm: f64::NAN,
            },
        };
        lik.update_derived();
        Ok(lik)
    }

    fn update_derived(&mut self) {
        let s = self.transform.forward(self.raw_scale);
        let nu = self.transform.forward(self.raw_df);
        let log_norm =
            ln_gamma(0.5 * (nu + 1.0)) - ln_gamma(0.5 * nu) - 0.5 * (nu * PI).ln() - s.ln();
        self.derived = Derived { s, nu, log_norm };
    }

    /// The same likelihood with ν trained (`true`) or fixed.
    pub fn with_learn_df(mut self, learn_df: bool) -> Self {
        self.learn_df = learn_df;
        self
    }

    /// The same likelihood with an n-point Gauss–Hermite rule (20 reproduces GPflow's numbers).
    ///
    /// # Errors
    /// As [`GaussHermite::new`].
    pub fn with_quadrature_order(mut self, n: usize) -> Result<Self> {
        self.rule = GaussHermite::new(n)?;
        Ok(self)
    }

    /// The scale s.
    pub fn scale(&self) -> f64 {
        self.derived.s
    }

    /// The degrees of freedom ν.
    pub fn df(&self) -> f64 {
        self.derived.nu
    }
}

impl LikelihoodBase for StudentT {
    fn name(&self) -> &'static str {
        "student-t"
    }

    fn num_params(&self) -> usize {
        1 + usize::from(self.learn_df)
    }

    fn param_names(&self) -> Vec<String> {
        let mut names = vec!["scale".to_string()];
        if self.learn_df {
            names.push("df".to_string());
        }
        names
    }

    fn params(&self) -> Vec<f64> {
        let mut p = vec![self.raw_scale];
        if self.learn_df {
            p.push(self.raw_df);
        }
        p
    }

    fn set_params(&mut self, params: &[f64]) -> Result<()> {
        check_shape(
            "Student-t likelihood parameters",
            Shape::new(self.num_params(), 1),
            Shape::new(params.len(), 1),
        )?;
        check_finite(&self.param_names(), params)?;
        self.raw_scale = params[0];
        if self.learn_df {
            self.raw_df = params[1];
        }
        self.update_derived();
        Ok(())
    }

    fn check_targets(&self, y: &DVector<f64>) -> Result<()> {
        check_each(y, "targets must be finite", f64::is_finite)
    }

    fn spec(&self) -> super::LikelihoodSpec {
        super::LikelihoodSpec::StudentT {
            raw_scale: self.raw_scale,
            raw_df: self.raw_df,
            learn_df: self.learn_df,
            quadrature_order: self.rule.nodes().len(),
        }
    }
}

impl ScalarLikelihood for StudentT {
    /// With a = ν s² + r²: d1 = (ν+1) r/a, d2 = (ν+1)(r² − ν s²)/a².
    fn log_prob_derivatives(&self, y: f64, f: f64) -> LogProb {
        let Derived { s, nu, log_norm } = self.derived;
        let r = y - f;
        let a = nu * s * s + r * r;
        let value = log_norm - 0.5 * (nu + 1.0) * (r * r / (nu * s * s)).ln_1p();
        LogProb {
            value,
            d1: (nu + 1.0) * r / a,
            d2: (nu + 1.0) * (r * r - nu * s * s) / (a * a),
        }
    }

    /// ∂/∂s = −1/s + (ν+1) r²/(s a); ∂/∂ν = ½[ψ((ν+1)/2) − ψ(ν/2)] − 1/(2ν)
    /// − ½ log(1 + r²/(ν s²)) + (ν+1) r²/(2ν a); each times its softplus derivative.
    fn log_prob_param_grad(&self, y: f64, f: f64, out: &mut [f64]) {
        let (s, nu) = (self.scale(), self.df());
        let r2 = (y - f).powi(2);
        let a = nu * s * s + r2;
        out[0] = (-1.0 / s + (nu + 1.0) * r2 / (s * a)) * self.transform.derivative(self.raw_scale);
        if self.learn_df {
            let d_nu = 0.5 * (digamma(0.5 * (nu + 1.0)) - digamma(0.5 * nu))
                - 0.5 / nu
                - 0.5 * (r2 / (nu * s * s)).ln_1p()
                + (nu + 1.0) * r2 / (2.0 * nu * a);
            out[1] = d_nu * self.transform.derivative(self.raw_df);
        }
    }

    /// Mean μ; variance σ² + s² ν/(ν − 2) for ν > 2, infinite otherwise.
    fn scalar_predict_y(
        &self,
        mu: &DVector<f64>,
        var: &DVector<f64>,
    ) -> (DVector<f64>, DVector<f64>) {
        let (s, nu) = (self.scale(), self.df());
        let noise = if nu > 2.0 {
            s * s * nu / (nu - 2.0)
        } else {
            f64::INFINITY
        };
        (mu.clone(), var.add_scalar(noise))
    }

    fn quadrature(&self) -> &GaussHermite {
        &self.rule
    }
}
