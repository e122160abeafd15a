//! MATH.md §3 exactness check, shared by the model and kernel tests: with a Gaussian
//! likelihood one natural step with γ = 1 lands on the collapsed (SGPR) optimum.

use super::{all_grads, random_q, rel_diff};
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use svgp::kernel::Kernel;
use svgp::likelihood::Gaussian;
use svgp::model::{sgpr_bound, Svgp};
use svgp::optim::{InvalidStepPolicy, NatGrad};
use svgp::variational::{Natural, VariationalQ};

/// A single-latent model with a Gaussian likelihood of variance `noise`.
pub fn gaussian_model(
    kernel: Box<dyn Kernel>,
    z: DMatrix<f64>,
    q: VariationalQ,
    noise: f64,
    jitter: f64,
) -> Svgp {
    Svgp::with_q(
        kernel,
        Box::new(Gaussian::new(noise).unwrap()),
        z,
        q,
        jitter,
    )
    .unwrap()
}

/// One γ = 1 step in θ from three random q (drawn from `rng`) lands on the SGPR bound (1e-9
/// relative: both sides are O(M³) computations of the same closed form, rounding ~1e-13 times
/// the conditioning) and on the closed-form optimum q (1e-8); a second step changes nothing
/// (1e-9). `kernel` makes a fresh copy of the kernel; `what` names the case in failures.
#[allow(clippy::too_many_arguments)]
pub fn assert_one_step_exact(
    what: &str,
    kernel: &dyn Fn() -> Box<dyn Kernel>,
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    z: &DMatrix<f64>,
    noise: f64,
    jitter: f64,
    rng: &mut StdRng,
) {
    let fit = sgpr_bound(kernel().as_ref(), noise, z, x, y, jitter).unwrap();
    let ng = NatGrad::<Natural>::new(InvalidStepPolicy::Refuse);
    for trial in 0..3 {
        let q0 = random_q(rng, z.nrows());
        let model = gaussian_model(kernel(), z.clone(), q0, noise, jitter);
        let before = all_grads(&model, x, y, 1.0);
        assert!(
            (before.elbo - fit.bound).abs() > 1.0,
            "{what} trial {trial}: start must differ from the optimum"
        );
        let step = ng.step(model.q(), &before.d_eta, 1.0).unwrap();
        let mut after = model.clone();
        after.set_q(step.q).unwrap();
        let elbo = after.elbo(x, y, 1.0).unwrap();
        assert!(
            (elbo - fit.bound).abs() < 1e-9 * fit.bound.abs(),
            "{what} trial {trial}: {elbo} vs {}",
            fit.bound
        );
        assert!(
            rel_diff(after.q().m().as_slice(), fit.q.m().as_slice()) < 1e-8,
            "{what}"
        );
        assert!(
            rel_diff(after.q().s().as_slice(), fit.q.s().as_slice()) < 1e-8,
            "{what}"
        );
        let again = ng
            .step(after.q(), &all_grads(&after, x, y, 1.0).d_eta, 1.0)
            .unwrap();
        assert!(
            rel_diff(again.q.m().as_slice(), after.q().m().as_slice()) < 1e-9,
            "{what}"
        );
        assert!(
            rel_diff(again.q.s().as_slice(), after.q().s().as_slice()) < 1e-9,
            "{what}"
        );
    }
}
