//! Several independent Gaussian outputs (GPflow's `SharedIndependent`/`SeparateIndependent`
//! multi-output SVGP with a Gaussian likelihood; MATH.md §2): P target columns, latent p for
//! output p, yₚ = fₚ + εₚ with εₚ ~ N(0, σₚ²), each output with its own noise variance.
//!
//! Every per-output quantity is that output's [`Gaussian`] closed form: ve is the sum over
//! outputs, g_μ and g_σ are the outputs' own, the parameters are the P noise variances in output
//! order. Targets are B×P, column-major in a vector of length B·P (see [`Likelihood`]).

use super::{Gaussian, Likelihood, LikelihoodBase, LikelihoodSpec, ScalarLikelihood, VarExp};
use crate::error::{check_shape, Result, Shape, SvgpError};
use nalgebra::{DMatrix, DVector};

/// P ≥ 1 independent Gaussian outputs, each with its own noise variance.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiGaussian {
    outputs: Vec<Gaussian>,
}

impl MultiGaussian {
    /// Outputs with noise variances σₚ² (each above the default floor 1e-6), P = `variances.len()`.
    ///
    /// # Errors
    /// `InvalidParameter { name: "outputs" }` for no outputs; as [`Gaussian::new`] per variance.
    pub fn new(variances: &[f64]) -> Result<Self> {
        let outputs = variances
            .iter()
            .map(|&v| Gaussian::new(v))
            .collect::<Result<Vec<_>>>()?;
        Self::from_outputs(outputs)
    }

    /// One output per Gaussian likelihood, in order.
    ///
    /// # Errors
    /// `InvalidParameter { name: "outputs" }` for an empty list.
    pub fn from_outputs(outputs: Vec<Gaussian>) -> Result<Self> {
        if outputs.is_empty() {
            return Err(SvgpError::InvalidParameter {
                name: "outputs".into(),
                value: 0.0,
                reason: "a multi-output Gaussian likelihood needs at least one output",
            });
        }
        Ok(MultiGaussian { outputs })
    }

    /// The outputs' likelihoods, in output order.
    pub fn outputs(&self) -> &[Gaussian] {
        &self.outputs
    }

    /// σₚ² of each output.
    pub fn noise_variances(&self) -> Vec<f64> {
        self.outputs.iter().map(Gaussian::noise_variance).collect()
    }

    /// Column p of the B×P targets, stored column-major in `y` (length B·P).
    fn target(&self, y: &DVector<f64>, p: usize) -> DVector<f64> {
        let b = y.len() / self.outputs.len();
        y.rows(p * b, b).into_owned()
    }
}

impl LikelihoodBase for MultiGaussian {
    fn name(&self) -> &'static str {
        "multigaussian"
    }

    fn num_params(&self) -> usize {
        self.outputs.len()
    }

    fn param_names(&self) -> Vec<String> {
        (0..self.outputs.len())
            .map(|p| format!("noise_variance[{p}]"))
            .collect()
    }

    fn params(&self) -> Vec<f64> {
        self.outputs.iter().flat_map(|g| g.params()).collect()
    }

    fn set_params(&mut self, params: &[f64]) -> Result<()> {
        check_shape(
            "multi-output Gaussian likelihood parameters",
            Shape::new(self.outputs.len(), 1),
            Shape::new(params.len(), 1),
        )?;
        let mut outputs = self.outputs.clone();
        for (g, p) in outputs.iter_mut().zip(params) {
            g.set_params(std::slice::from_ref(p))?;
        }
        self.outputs = outputs;
        Ok(())
    }

    fn num_outputs(&self) -> usize {
        self.outputs.len()
    }

    /// Every one of the B·P targets finite; the row reported is the table row (0-based).
    fn check_targets(&self, y: &DVector<f64>) -> Result<()> {
        let b = y.len() / self.outputs.len();
        match y.iter().position(|v| !v.is_finite()) {
            Some(k) => Err(SvgpError::InvalidTarget {
                row: k % b.max(1),
                value: y[k],
                reason: "targets must be finite",
            }),
            None => Ok(()),
        }
    }

    fn is_conjugate(&self) -> bool {
        true
    }

    fn additive_noise_variances(&self) -> Option<Vec<f64>> {
        Some(self.noise_variances())
    }

    fn spec(&self) -> LikelihoodSpec {
        LikelihoodSpec::MultiGaussian {
            outputs: self.outputs.iter().map(Gaussian::noise_spec).collect(),
        }
    }
}

impl Likelihood for MultiGaussian {
    fn num_latent(&self) -> usize {
        self.outputs.len()
    }

    fn variational_expectations(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
    ) -> VarExp {
        let b = mu.nrows();
        let mut out = VarExp {
            ve: DVector::zeros(b),
            g_mu: DMatrix::zeros(b, self.outputs.len()),
            g_var: DMatrix::zeros(b, self.outputs.len()),
        };
        for (p, g) in self.outputs.iter().enumerate() {
            let (m, v) = (mu.column(p).into_owned(), var.column(p).into_owned());
            let e = g.scalar_variational_expectations(&self.target(y, p), &m, &v);
            out.ve += e.ve;
            out.g_mu.set_column(p, &e.g_mu);
            out.g_var.set_column(p, &e.g_var);
        }
        out
    }

    fn vjp_params(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
        ve_bar: &DVector<f64>,
    ) -> DVector<f64> {
        DVector::from_iterator(
            self.outputs.len(),
            self.outputs.iter().enumerate().map(|(p, g)| {
                let (m, v) = (mu.column(p).into_owned(), var.column(p).into_owned());
                g.scalar_vjp_params(&self.target(y, p), &m, &v, ve_bar)[0]
            }),
        )
    }

    /// Σₚ log N(yₚ; μₚ, σ²ₚ + σₚ²) per point (the outputs are independent).
    fn log_predictive_density(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
    ) -> DVector<f64> {
        let mut total = DVector::zeros(mu.nrows());
        for (p, g) in self.outputs.iter().enumerate() {
            let (m, v) = (mu.column(p).into_owned(), var.column(p).into_owned());
            total += g.scalar_log_predictive_density(&self.target(y, p), &m, &v);
        }
        total
    }

    /// Per output: mean μₚ and variance σ²ₚ + σₚ² (B×P each).
    fn predict_y(&self, mu: &DMatrix<f64>, var: &DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
        let noise = DMatrix::from_fn(var.nrows(), var.ncols(), |_, p| {
            self.outputs[p].noise_variance()
        });
        (mu.clone(), var + noise)
    }

    fn box_clone(&self) -> Box<dyn Likelihood> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::likelihood::multi::test_support::{check_gradients, fd_close, step};

    fn sample() -> (MultiGaussian, DVector<f64>, DMatrix<f64>, DMatrix<f64>) {
        let lik = MultiGaussian::new(&[0.3, 1.7]).unwrap();
        let y = DVector::from_vec(vec![0.5, -1.2, 2.0, 3.0, -0.4, 0.0]);
        let mu = DMatrix::from_column_slice(3, 2, &[0.1, -0.7, 1.0, 2.5, 0.3, -0.2]);
        let var = DMatrix::from_column_slice(3, 2, &[0.2, 0.05, 1.3, 0.7, 0.01, 2.0]);
        (lik, y, mu, var)
    }

    /// Each output's terms are its own Gaussian's: ve sums them, the derivatives are theirs
    /// (same operations, so equal to rounding: 1e-14).
    #[test]
    fn outputs_are_independent_gaussians() {
        let (lik, y, mu, var) = sample();
        let got = lik.variational_expectations(&y, &mu, &var);
        let mut ve = DVector::zeros(3);
        for (p, g) in lik.outputs().iter().enumerate() {
            let t = y.rows(3 * p, 3).into_owned();
            let (m, v) = (mu.column(p).into_owned(), var.column(p).into_owned());
            let e = g.scalar_variational_expectations(&t, &m, &v);
            ve += &e.ve;
            assert!((got.g_mu.column(p) - e.g_mu).amax() < 1e-14);
            assert!((got.g_var.column(p) - e.g_var).amax() < 1e-14);
            let lpd = g.scalar_log_predictive_density(&t, &m, &v);
            assert!(lpd.iter().all(|v| v.is_finite()));
        }
        assert!((got.ve - ve).amax() < 1e-14);
    }

    /// g_μ, g_σ and the parameter VJP against central differences (abs 1e-6 + rel 1e-5: the
    /// room STYLE.md gives central differences at step 1e-5).
    #[test]
    fn derivatives_match_differences() {
        let (lik, y, mu, var) = sample();
        let got = lik.variational_expectations(&y, &mu, &var);
        let ve = |m: &DMatrix<f64>, v: &DMatrix<f64>| lik.variational_expectations(&y, m, v).ve;
        check_gradients(ve, &mu, &var, &got.g_mu, &got.g_var);
        let w = DVector::from_vec(vec![1.0, 2.0, -0.5]);
        let grad = lik.vjp_params(&y, &mu, &var, &w);
        for k in 0..2 {
            let total = |d: f64| {
                let mut l = lik.clone();
                let mut p = lik.params();
                p[k] += d;
                l.set_params(&p).unwrap();
                l.variational_expectations(&y, &mu, &var).ve.dot(&w)
            };
            let h = step(lik.params()[k]);
            assert!(fd_close(grad[k], (total(h) - total(-h)) / (2.0 * h)));
        }
    }

    /// The spec rebuilds the likelihood exactly; a non-finite target names its table row; no
    /// outputs and a wrong parameter count are refused, leaving the likelihood unchanged.
    #[test]
    fn spec_targets_and_bad_input() {
        let (lik, mut y, _, _) = sample();
        let rebuilt = lik.spec().build().unwrap();
        assert_eq!(rebuilt.params(), lik.params());
        assert_eq!(rebuilt.num_outputs(), 2);
        y[4] = f64::NAN;
        match lik.check_targets(&y) {
            Err(SvgpError::InvalidTarget { row: 1, .. }) => {}
            other => panic!("expected row 1, got {other:?}"),
        }
        assert!(MultiGaussian::new(&[]).is_err());
        let mut l = lik.clone();
        assert!(l.set_params(&[0.0]).is_err());
        assert!(l.set_params(&[0.0, f64::NAN]).is_err());
        assert_eq!(l, lik);
    }
}
