//! Part (a): one natural step with γ = 1 on a Gaussian likelihood, full batch, fixed
//! hyperparameters, lands on the collapsed SGPR bound (MATH.md §3, exactness check).

use super::sets::Split;
use svgp::error::{Result, SvgpError};
use svgp::kernel::KernelFamily;
use svgp::likelihood::Gaussian;
use svgp::model::inducing::InducingInit;
use svgp::model::GradScope;
use svgp::model::Svgp;
use svgp::optim::InvalidStepPolicy;
use svgp::optim::Xi;
use svgp::tabular::initial_kernel;
use svgp::variational::Spare;

/// The fixed Gaussian noise variance of the check (targets standardised).
pub(super) const NOISE_VARIANCE: f64 = 0.1;

/// The parametrisations compared, θ first (the one for which the step is exact).
pub(super) const XIS: [Xi; 3] = [Xi::Natural, Xi::Expectation, Xi::MeanCholesky];

/// One row of the exactness table.
#[derive(Debug, Clone)]
pub(super) struct ExactRow {
    /// Data set name.
    pub name: String,
    /// Rows used (N) and inputs (D).
    pub n: usize,
    /// Inputs.
    pub d: usize,
    /// Inducing inputs.
    pub m: usize,
    /// The collapsed bound.
    pub bound: f64,
    /// The SVGP ELBO after one γ = 1 step from q = N(0, I), per parametrisation in [`XIS`]
    /// order; `None` where that step leaves S not positive definite.
    pub after_step: Vec<Option<f64>>,
}

impl ExactRow {
    /// |ELBO − bound| / |bound| for the parametrisation at `index` in [`XIS`] (`None` for a
    /// refused step).
    pub fn relative_gap(&self, index: usize) -> Option<f64> {
        self.after_step[index].map(|elbo| (elbo - self.bound).abs() / self.bound.abs())
    }
}

/// The check on `split.x`, `split.y` (standardised): SE-ARD with variance 1 and lengthscales 1,
/// σₙ² = [`NOISE_VARIANCE`], M = min(`m`, N) inducing inputs by k-means++ (`seed`).
///
/// # Errors
/// Kuu or B not positive definite; a refused θ step (the exact one).
pub(super) fn check(name: &str, split: &Split, m: usize, seed: u64) -> Result<ExactRow> {
    let (x, y) = (&split.x, &split.y);
    let m = m.min(x.nrows());
    let z = InducingInit::default().choose(x, m, seed)?;
    let model = Svgp::new(
        initial_kernel(KernelFamily::SquaredExponential, x.ncols())?,
        Box::new(Gaussian::new(NOISE_VARIANCE)?),
        z,
    )?;
    let bound = model.sgpr_bound(x, y)?.bound;
    let grad = model.elbo_grad(x, y, 1.0, GradScope::Eta)?;
    let d_eta = grad.d_eta.expect("scope Eta computes ∇_η L");
    let mut after_step = Vec::with_capacity(XIS.len());
    for xi in XIS {
        let rule = xi.step_rule(InvalidStepPolicy::Refuse);
        let elbo = match rule.step(model.qs(), &d_eta, 1.0, &mut |_| true, &mut Spare::new()) {
            Ok(step) => {
                let mut stepped = model.clone();
                stepped.set_qs(step.qs)?;
                Some(stepped.elbo(x, y, 1.0)?)
            }
            Err(SvgpError::StepRejected { .. }) => None,
            Err(e) => return Err(e),
        };
        after_step.push(elbo);
    }
    Ok(ExactRow {
        name: name.to_string(),
        n: x.nrows(),
        d: x.ncols(),
        m,
        bound,
        after_step,
    })
}
