//! The [`Constraint`] of each of a model's hyperparameters, in [`Svgp::hyper_params`] order,
//! read from the kernels' and the likelihood's specs: the maps their own code applies (every
//! kernel parameter and positive likelihood parameter softplus with the spec's floor, a
//! robust-max ε a sigmoid, Z the identity).

use crate::error::{check_shape, Result, Shape};
use crate::kernel::KernelSpec;
use crate::likelihood::LikelihoodSpec;
use crate::model::Svgp;
use crate::transform::{Constraint, Positive};

/// One constraint per entry of `model.hyper_params()`: each kernel's, the likelihood's, then
/// the identity for every Z entry.
///
/// # Errors
/// `ShapeMismatch` naming the kernel or the likelihood whose spec does not account for each of
/// its parameters (a spec and its parameters out of step).
pub fn hyper_constraints(model: &Svgp) -> Result<Vec<Constraint>> {
    let mut out = Vec::new();
    for kernel in model.kernels() {
        let start = out.len();
        kernel_constraints(&kernel.spec(), &mut out);
        check_shape(
            "kernel parameter constraints",
            Shape::new(kernel.num_params(), 1),
            Shape::new(out.len() - start, 1),
        )?;
    }
    let likelihood = likelihood_constraints(&model.likelihood().spec());
    check_shape(
        "likelihood parameter constraints",
        Shape::new(model.likelihood().num_params(), 1),
        Shape::new(likelihood.len(), 1),
    )?;
    out.extend(likelihood);
    out.extend(std::iter::repeat_n(Constraint::Identity, model.z().len()));
    Ok(out)
}

/// The constraints of a kernel's parameters in its `param_names` order, appended to `out`.
fn kernel_constraints(spec: &KernelSpec, out: &mut Vec<Constraint>) {
    use KernelSpec as S;
    let positive = |floor: f64| Constraint::Positive(Positive::with_floor(floor));
    match spec {
        S::Stationary { params, floor, .. }
        | S::Periodic { params, floor, .. }
        | S::RationalQuadratic { params, floor, .. }
        | S::Polynomial { params, floor, .. }
        | S::Constant { params, floor, .. }
        | S::White { params, floor, .. }
        | S::Cosine { params, floor, .. } => {
            out.extend(std::iter::repeat_n(positive(*floor), params.len()));
        }
        // variance, then ρ by a sigmoid
        S::Categorical { floor, .. } => out.extend([positive(*floor), Constraint::UnitInterval]),
        S::Active { inner, .. } => kernel_constraints(inner, out),
        S::Sum(parts) | S::Product(parts) => {
            for part in parts {
                kernel_constraints(part, out);
            }
        }
    }
}

/// The constraints of a likelihood's parameters in its `param_names` order.
fn likelihood_constraints(spec: &LikelihoodSpec) -> Vec<Constraint> {
    let positive = |floor: f64| Constraint::Positive(Positive::with_floor(floor));
    match spec {
        LikelihoodSpec::Gaussian { floor, .. } => vec![positive(*floor)],
        // scale, then ν when learned; both with the default floor
        LikelihoodSpec::StudentT { learn_df, .. } => {
            let c = Constraint::Positive(Positive::default());
            vec![c; 1 + usize::from(*learn_df)]
        }
        LikelihoodSpec::RobustMax(spec) if spec.learn_epsilon => vec![Constraint::UnitInterval],
        LikelihoodSpec::MultiGaussian { outputs } => {
            outputs.iter().map(|o| positive(o.floor)).collect()
        }
        LikelihoodSpec::RobustMax(_)
        | LikelihoodSpec::Bernoulli { .. }
        | LikelihoodSpec::Poisson { .. }
        | LikelihoodSpec::Softmax(_)
        | LikelihoodSpec::Heteroscedastic(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{Matern32, SquaredExponential};
    use crate::likelihood::{Gaussian, Likelihood, MultiGaussian, RobustMax, StudentT};
    use crate::transform::Positive;
    use nalgebra::DMatrix;

    fn model_with(likelihood: Box<dyn Likelihood>, latents: usize) -> Svgp {
        let z = DMatrix::from_fn(3, 2, |i, j| (i + 2 * j) as f64 * 0.3);
        let se =
            SquaredExponential::with_transform(1.3, vec![0.4, 2.0], Positive::with_floor(0.01))
                .unwrap();
        let kernel = (se + Matern32::new(0.7, vec![1.1, 0.9]).unwrap())
            .build()
            .unwrap();
        let kernels = vec![kernel; latents];
        Svgp::with_kernels(kernels, likelihood, z).unwrap()
    }

    /// The constrained values the constraints give equal the ones the kernels and likelihoods
    /// report themselves (exactly: the same floating-point maps), and Z maps to itself.
    #[test]
    fn constraints_give_the_values_the_model_uses() {
        let model = model_with(Box::new(Gaussian::new(0.2).unwrap()), 1);
        let (p, c) = (model.hyper_params(), hyper_constraints(&model).unwrap());
        assert_eq!(c.len(), p.len());
        let theta: Vec<f64> = c.iter().zip(p.iter()).map(|(c, &p)| c.forward(p)).collect();
        // SE variance and lengthscales (floor 0.01), Matérn variance and lengthscales, noise
        let expected = [1.3, 0.4, 2.0, 0.7, 1.1, 0.9, 0.2];
        for (k, (t, e)) in theta.iter().zip(expected).enumerate() {
            // 1e-12 relative: softplus and its inverse round trip to a few ulps
            assert!((t - e).abs() < 1e-12 * e, "parameter {k}: {t} vs {e}");
        }
        assert_eq!(&theta[7..], model.z().as_slice());
    }

    #[test]
    fn likelihood_parameters_get_their_maps() {
        let student = model_with(Box::new(StudentT::new(0.3, 4.0, true).unwrap()), 1);
        let c = hyper_constraints(&student).unwrap();
        let p = student.hyper_params();
        assert!((c[6].forward(p[6]) - 0.3).abs() < 1e-12);
        assert!((c[7].forward(p[7]) - 4.0).abs() < 1e-12);
        let robust = model_with(Box::new(RobustMax::new(3, 0.05, true).unwrap()), 1);
        let c = hyper_constraints(&robust).unwrap();
        assert_eq!(c[6], Constraint::UnitInterval);
        assert!((c[6].forward(robust.hyper_params()[6]) - 0.05).abs() < 1e-15);
        let multi = model_with(Box::new(MultiGaussian::new(&[0.1, 0.4]).unwrap()), 2);
        let (c, p) = (hyper_constraints(&multi).unwrap(), multi.hyper_params());
        // two kernels of 6 parameters each, then the two noise variances
        assert!((c[12].forward(p[12]) - 0.1).abs() < 1e-12);
        assert!((c[13].forward(p[13]) - 0.4).abs() < 1e-12);
    }

    /// Every leaf kind, each on its own column of D = 2 (the categorical on a code column):
    /// the maps give back the constrained values each leaf reports (1e-12 relative: softplus
    /// and its inverse round trip to a few ulps; the sigmoid's ρ likewise).
    #[test]
    fn every_leaf_kind_gets_the_maps_its_code_applies() {
        use crate::kernel::{Kernel, LeafDescription, LeafKind, Sum};
        let leaves: Vec<Box<dyn Kernel>> = LeafKind::ALL
            .iter()
            .map(|kind| kind.build_on(&[1], 2, &[("variance", 0.7)], None).unwrap())
            .collect();
        let expected: Vec<f64> = leaves
            .iter()
            .flat_map(|k| LeafDescription::of(k.as_ref()).unwrap().values)
            .map(|(_, v)| v)
            .collect();
        let kernel: Box<dyn Kernel> = Box::new(Sum::new(leaves).unwrap());
        let z = DMatrix::from_fn(3, 2, |i, j| (i + 2 * j) as f64);
        let model = Svgp::new(kernel, Box::new(Gaussian::new(0.2).unwrap()), z).unwrap();
        let (p, c) = (model.hyper_params(), hyper_constraints(&model).unwrap());
        for (k, e) in expected.iter().enumerate() {
            let t = c[k].forward(p[k]);
            assert!(
                (t - e).abs() <= 1e-12 * e.abs(),
                "parameter {k}: {t} vs {e}"
            );
        }
    }
}
