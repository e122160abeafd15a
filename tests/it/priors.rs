//! Priors on hyperparameters (MAP training) and fixed hyperparameters: the MAP objective's
//! gradient against central differences of ELBO + log p(θ) + log|dθ/dp| written independently
//! (statrs' densities, softplus by hand); a tight log-normal prior holding the kernel variance
//! at its mode where plain training moves it; fixed hyperparameters bitwise unchanged over 50
//! iterations while the others move; unknown names refused naming them; and a checkpointed fit
//! with priors and fixed names resuming bit for bit.

use super::checkpoint::{options, scratch, straight_and_resumed, table};
use crate::common::*;
use nalgebra::{DMatrix, DVector};
use rand::RngExt;
use statrs::distribution::{Continuous, Gamma, LogNormal, Normal};
use std::collections::{BTreeMap, BTreeSet};
use svgp::kernel::SquaredExponential;
use svgp::likelihood::Gaussian;
use svgp::model::Svgp;
use svgp::optim::{
    AdamConfig, BatchPlan, HyperSettings, HyperTraining, InMemory, QTraining, Schedule, StopRules,
    Trainer, Xi,
};
use svgp::prior::Prior;
use svgp::tabular::{self, Checkpointing, FitOptions, LikelihoodChoice};
use svgp::transform::Positive;
use svgp::SvgpError;

/// 100 seeded rows, y = 3 sin(2x₁) + x₂ + noise (an amplitude that pulls the kernel variance
/// up from 1), and an SE-ARD model with M = 6 and noise variance 0.2.
fn problem(seed: u64) -> (DMatrix<f64>, DVector<f64>, Svgp) {
    let mut rng = rng(seed);
    let n = 100;
    let x: DMatrix<f64> = DMatrix::from_fn(n, 2, |_, _| rng.random_range(-2.0..2.0));
    let y = DVector::from_fn(n, |i, _| 3.0 * (2.0 * x[(i, 0)]).sin() + x[(i, 1)])
        + normal_vector(&mut rng, n) * 0.1;
    let kernel = SquaredExponential::new(1.0, vec![0.8, 1.5]).unwrap();
    let model = Svgp::new(
        Box::new(kernel),
        Box::new(Gaussian::new(0.2).unwrap()),
        x.rows(0, 6).into_owned(),
    )
    .unwrap();
    (x, y, model)
}

/// A trainer of exact natural steps (γ = 1, full batches) and Adam at `learning_rate`.
fn trainer(model: Svgp, learning_rate: f64, settings: HyperSettings) -> svgp::Result<Trainer> {
    let adam = AdamConfig {
        learning_rate,
        ..AdamConfig::default()
    };
    let q = QTraining::natural(Xi::Natural, Schedule::Constant(1.0));
    Trainer::new(model, q, HyperTraining::Adam(adam)).with_hyper_settings(settings)
}

/// `iterations` full-batch iterations on (`x`, `y`).
fn train(t: &mut Trainer, x: &DMatrix<f64>, y: &DVector<f64>, iterations: u64) {
    let plan = BatchPlan::Seeded {
        batch_size: x.nrows(),
        seed: 0,
    };
    let mut source = InMemory::new(x, y, plan).unwrap();
    t.run(&mut source, iterations, StopRules::default(), &mut [])
        .unwrap();
}

fn priors(entries: &[(&str, Prior)]) -> HyperSettings {
    HyperSettings {
        priors: entries.iter().map(|(n, p)| (n.to_string(), *p)).collect(),
        fixed: BTreeSet::new(),
    }
}

/// The three priors of the gradient test, on the variance, the second lengthscale and the
/// noise variance (hyperparameters 0, 2 and 3).
fn three_priors() -> HyperSettings {
    priors(&[
        (
            "kernel.variance",
            Prior::LogNormal {
                mu: 0.4,
                sigma: 0.5,
            },
        ),
        (
            "kernel.lengthscale[1]",
            Prior::Gamma {
                shape: 3.0,
                rate: 2.0,
            },
        ),
        (
            "likelihood.noise_variance",
            Prior::HalfNormal { sigma: 0.3 },
        ),
    ])
}

/// log p(θ) + log|dθ/dp| written independently of the library: θ = 1e-6 + log(1 + eᵖ) (the
/// default floor), dθ/dp = 1/(1 + e⁻ᵖ), densities from statrs.
fn reference_log_prior(p: &[f64]) -> f64 {
    let theta = |p: f64| 1e-6 + p.exp().ln_1p();
    let log_jacobian = |p: f64| -(-p).exp().ln_1p();
    let lognormal = LogNormal::new(0.4, 0.5).unwrap().ln_pdf(theta(p[0]));
    let gamma = Gamma::new(3.0, 2.0).unwrap().ln_pdf(theta(p[2]));
    let half_normal = std::f64::consts::LN_2 + Normal::new(0.0, 0.3).unwrap().ln_pdf(theta(p[3]));
    lognormal + gamma + half_normal + log_jacobian(p[0]) + log_jacobian(p[2]) + log_jacobian(p[3])
}

/// The gradient the hyperparameter step ascends against central differences of the ELBO plus
/// the independent log prior and log-Jacobian, over every hyperparameter (kernel, noise, Z),
/// after 3 iterations so q is not the prior's. h = 1e-5·max(1, |p|): truncation ~h²|f‴| and
/// rounding ~ε|f|/h (|f| ~ 10²) stay below 1e-8, so abs 1e-6 + rel 1e-5 catches a lost
/// Jacobian term (≥ 1e-2 here) or chain-rule factor.
#[test]
fn the_map_gradient_matches_central_differences() {
    let (x, y, model) = problem(3);
    let mut t = trainer(model, 0.01, three_priors()).unwrap();
    train(&mut t, &x, &y, 3);
    let (elbo, log_prior, grad) = t.map_objective(&x, &y, 1.0).unwrap();
    let p = t.model.hyper_params();
    assert!((log_prior - reference_log_prior(p.as_slice())).abs() < 1e-10);
    assert!((elbo - t.model.elbo(&x, &y, 1.0).unwrap()).abs() < 1e-9);
    let objective = |p: &DVector<f64>| {
        let mut m = t.model.clone();
        m.set_hyper_params(p.as_slice()).unwrap();
        m.elbo(&x, &y, 1.0).unwrap() + reference_log_prior(p.as_slice())
    };
    let d_elbo = t
        .model
        .elbo_grad(&x, &y, 1.0, svgp::model::GradScope::Hyper)
        .unwrap()
        .d_hyper
        .unwrap();
    for k in 0..p.len() {
        let h = 1e-5 * p[k].abs().max(1.0);
        let (mut up, mut down) = (p.clone(), p.clone());
        up[k] += h;
        down[k] -= h;
        let fd = (objective(&up) - objective(&down)) / (2.0 * h);
        assert!(
            (grad[k] - fd).abs() < 1e-6 + 1e-5 * fd.abs(),
            "{}: {} vs {fd}",
            t.model.hyper_param_names()[k],
            grad[k]
        );
        let prior_part = (grad[k] - d_elbo[k]).abs();
        assert_eq!(
            prior_part > 1e-2,
            [0, 2, 3].contains(&k),
            "{k}: {prior_part}"
        );
    }
}

/// With log θ ~ N(0, 10⁻⁶) on the kernel variance θ (start and mode 1; the Jacobian and the
/// ELBO's pull move the objective's maximiser by ~10⁻⁵), 150 iterations leave θ within 1e-3
/// of 1 (Adam's steps around so stiff a maximiser shrink as its second moments grow), while
/// without the prior the data's amplitude of 3 takes θ past 1.5; the log prior is reported
/// beside the ELBO.
#[test]
fn a_tight_log_normal_prior_holds_the_kernel_variance_at_its_mode() {
    let (x, y, model) = problem(5);
    let variance = |t: &Trainer| Positive::default().forward(t.model.hyper_params()[0]);
    let mut free = trainer(model.clone(), 0.05, HyperSettings::default()).unwrap();
    train(&mut free, &x, &y, 150);
    assert!(variance(&free) > 1.5, "{}", variance(&free));
    let tight = Prior::LogNormal {
        mu: 0.0,
        sigma: 1e-3,
    };
    let mut held = trainer(model, 0.05, priors(&[("kernel.variance", tight)])).unwrap();
    let mut trace = svgp::optim::Trace::default();
    let plan = BatchPlan::Seeded {
        batch_size: 100,
        seed: 0,
    };
    let mut source = InMemory::new(&x, &y, plan).unwrap();
    let summary = held
        .run(&mut source, 150, StopRules::default(), &mut [&mut trace])
        .unwrap();
    assert!((variance(&held) - 1.0).abs() < 1e-3, "{}", variance(&held));
    let last = trace.reports.last().unwrap();
    assert_eq!(summary.last_log_prior, last.log_prior);
    // log p ≈ −log σ − ½ log 2π at the mode, plus log sigmoid(p) ≈ −0.46: about 5.5
    assert!((last.log_prior - 5.53).abs() < 0.05, "{last:?}");
}

/// Fixed hyperparameters (a lengthscale, the noise, a Z entry) are bitwise their initial
/// values after 50 iterations with zero Adam moments, while the others move.
#[test]
fn fixed_hyperparameters_stay_bitwise_while_the_others_move() {
    let (x, y, model) = problem(7);
    let before = model.hyper_params();
    let names = model.hyper_param_names();
    let fixed = [
        "kernel.lengthscale[0]",
        "likelihood.noise_variance",
        "z[2,1]",
    ];
    let settings = HyperSettings {
        priors: BTreeMap::new(),
        fixed: fixed.iter().map(|n| n.to_string()).collect(),
    };
    let mut t = trainer(model, 0.01, settings).unwrap();
    train(&mut t, &x, &y, 50);
    let after = t.model.hyper_params();
    let moments = t.state().hyper_adam.unwrap();
    for (k, name) in names.iter().enumerate() {
        let same = before[k].to_bits() == after[k].to_bits();
        assert_eq!(same, fixed.contains(&name.as_str()), "{name}");
        if same {
            assert_eq!((moments.m[k], moments.v[k]), (0.0, 0.0), "{name}");
        }
    }
}

/// The error of a trainer with `settings`, which must be refused.
fn refused(model: Svgp, settings: HyperSettings) -> SvgpError {
    match trainer(model, 0.01, settings) {
        Err(e) => e,
        Ok(_) => panic!("settings accepted"),
    }
}

/// Unknown names are refused naming the setting, the name and the closest names; a prior on
/// a Z entry and a prior with a bad parameter are refused naming them.
#[test]
fn unknown_names_and_bad_priors_are_refused_naming_them() {
    let (_, _, model) = problem(9);
    let with_fixed = |name: &str| HyperSettings {
        priors: BTreeMap::new(),
        fixed: BTreeSet::from([name.to_string()]),
    };
    let e = refused(model.clone(), with_fixed("kernel.varaince"));
    let message = e.to_string();
    match &e {
        SvgpError::UnknownHyperparameter {
            setting: "fixed",
            name,
            closest,
            ..
        } => {
            assert_eq!(name, "kernel.varaince");
            assert_eq!(closest.first().map(String::as_str), Some("kernel.variance"));
        }
        other => panic!("{other:?}"),
    }
    assert!(message.contains("kernel.varaince") && message.contains("z[i,d] for i < 6, d < 2"));
    let e = refused(model.clone(), with_fixed("z[6,0]"));
    assert!(matches!(e, SvgpError::UnknownHyperparameter { .. }), "{e}");
    let half = Prior::HalfNormal { sigma: 1.0 };
    let e = refused(model.clone(), priors(&[("z[0,0]", half)]));
    assert!(
        matches!(&e, SvgpError::InvalidParameter { name, .. } if name == "priors[z[0,0]]"),
        "{e}"
    );
    let bad = Prior::LogNormal {
        mu: 0.0,
        sigma: -1.0,
    };
    let e = refused(model.clone(), priors(&[("kernel.variance", bad)]));
    let expected = "priors[kernel.variance]: log_normal.sigma";
    assert!(
        matches!(&e, SvgpError::InvalidParameter { name, .. } if name == expected),
        "{e}"
    );
    let e = refused(model, priors(&[("kernel.lengthscale", half)]));
    assert!(
        matches!(
            e,
            SvgpError::UnknownHyperparameter {
                setting: "priors",
                ..
            }
        ),
        "{e}"
    );
}

/// The options of the tabular fits below: priors on the variance and the noise, the first
/// lengthscale and one Z entry fixed.
fn map_options(iterations: u64) -> FitOptions {
    let mut o = options(LikelihoodChoice::Gaussian, Xi::Natural, iterations);
    o.priors.insert(
        "kernel.variance".into(),
        Prior::Gamma {
            shape: 2.0,
            rate: 1.0,
        },
    );
    o.priors.insert(
        "likelihood.noise_variance".into(),
        Prior::LogNormal {
            mu: -3.0,
            sigma: 0.5,
        },
    );
    o.fixed = BTreeSet::from(["kernel.lengthscale[0]".into(), "z[3,1]".into()]);
    o
}

/// A fit with priors and fixed names that checkpoints at 60 and resumes to 120 writes the
/// model file of the straight fit byte for byte; the fixed lengthscale is still exactly its
/// initial 1; a resume with the priors dropped is refused as other settings.
#[test]
fn a_resumed_map_fit_equals_the_straight_fit_byte_for_byte() {
    let data = table(11);
    let fit = |o: &FitOptions| tabular::fit(&data, o, &mut []).unwrap();
    let (a, b) = straight_and_resumed("map", &fit, &map_options(120), 60);
    assert!(a == b, "the model files differ");
    let report = fit(&map_options(120));
    assert!(report.log_prior.is_finite() && report.log_prior != 0.0);
    let ones = Positive::default().inverse("lengthscale", 1.0).unwrap();
    assert_eq!(
        report.saved.model.hyper_params()[1].to_bits(),
        ones.to_bits()
    );
    let path = scratch("map-other.checkpoint");
    fit(&FitOptions {
        checkpoint: Some(Checkpointing {
            path: path.clone(),
            every: 30,
        }),
        ..map_options(30)
    });
    let without_priors = FitOptions {
        resume: Some(path),
        priors: BTreeMap::new(),
        ..map_options(60)
    };
    let e = tabular::fit(&data, &without_priors, &mut []).unwrap_err();
    assert!(
        matches!(&e, SvgpError::InvalidParameter { name, .. } if name == "resume"),
        "{e}"
    );
}
