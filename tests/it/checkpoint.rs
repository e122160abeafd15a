//! Checkpoints and exact resume: a fit of 200 iterations and a fit of 100 that checkpoints,
//! then resumes to 200, write byte-identical model files — for a table in memory and a streamed
//! binary table, in every built-in parametrisation, with a Gaussian and a non-conjugate
//! (Student-t) likelihood; for every multi-latent likelihood (robust-max, softmax with one
//! kernel per latent, heteroscedastic, several Gaussian outputs); and from a checkpoint inside
//! the default γ ramp. A checkpoint is refused for other settings or other data, and a
//! trainer's state restored into another trainer continues bit for bit (also Adam on q).

use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::cell::RefCell;
use std::path::PathBuf;
use svgp::data::{write_binary_file, BinaryFile, StreamConfig, Table};
use svgp::optim::DEFAULT_RAMP_STEPS;
use svgp::prelude::*;
use svgp::tabular::{self, Checkpointing, StreamOptions};

pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("svgp-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// 400 seeded rows: x ∈ U(−2, 2)², y = sin x₁ + x₂/2 + noise, with a few outliers (so the
/// Student-t case has something to do).
pub(crate) fn table(seed: u64) -> Table {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = 400;
    let x: DMatrix<f64> = DMatrix::from_fn(n, 2, |_, _| rng.random_range(-2.0..2.0));
    let y = DVector::from_fn(n, |i, _| {
        let outlier = if i % 40 == 0 { 3.0 } else { 0.0 };
        x[(i, 0)].sin() + 0.5 * x[(i, 1)] + 0.1 * rng.random_range(-1.0..1.0) + outlier
    });
    table_of(x, y)
}

/// [`table`]'s rows with three classes 0, 1, 2 as targets: the class of ⌊sin x₁ + x₂/2⌉ + 1,
/// clamped to 0..2 (every class present).
fn class_table(seed: u64) -> Table {
    let mut t = table(seed);
    t.y = DVector::from_fn(t.x.nrows(), |i, _| {
        (t.x[(i, 0)].sin() + 0.5 * t.x[(i, 1)])
            .round()
            .clamp(-1.0, 1.0)
            + 1.0
    });
    t
}

/// [`table`]'s rows with a second target column, cos x₁ − x₂/3 + noise (y is N×2 column-major).
fn two_output_table(seed: u64) -> Table {
    let mut t = table(seed);
    let mut rng = StdRng::seed_from_u64(seed + 1000);
    let n = t.x.nrows();
    let second =
        (0..n).map(|i| t.x[(i, 0)].cos() - t.x[(i, 1)] / 3.0 + 0.1 * rng.random_range(-1.0..1.0));
    t.y = DVector::from_iterator(2 * n, t.y.iter().copied().chain(second));
    t.extra_targets = vec!["y2".into()];
    t
}

/// A table in memory of inputs `x` (N×2) and targets `y`.
fn table_of(x: DMatrix<f64>, y: DVector<f64>) -> Table {
    let n = x.nrows() as u64;
    Table {
        x,
        y,
        feature_names: vec!["a".into(), "b".into()],
        target_name: "y".into(),
        extra_targets: Vec::new(),
        path: "(in memory)".into(),
        lines: (2..n + 2).collect(),
        target_column: 3,
        rows_dropped: 0,
        classes: None,
    }
}

pub(crate) fn options(likelihood: LikelihoodChoice, xi: Xi, iterations: u64) -> FitOptions {
    FitOptions {
        likelihood,
        xi,
        num_inducing: 12,
        batch_size: 64,
        iterations,
        gamma: Some(0.1),
        ..FitOptions::default()
    }
}

/// Fits straight and in two parts through `fit` (the first part of `split` iterations, writing
/// its checkpoint every `split / 2` and when it stops), returning both model files' bytes.
pub(crate) fn straight_and_resumed(
    tag: &str,
    fit: &dyn Fn(&FitOptions) -> tabular::FitReport,
    base: &FitOptions,
    split: u64,
) -> (Vec<u8>, Vec<u8>) {
    let save = |report: &tabular::FitReport, name: &str| {
        let path = scratch(&format!("{tag}-{name}.json"));
        report.saved.save(&path).unwrap();
        std::fs::read(path).unwrap()
    };
    let straight = fit(base);
    let checkpoint = scratch(&format!("{tag}.checkpoint"));
    let first = fit(&FitOptions {
        iterations: split,
        checkpoint: Some(Checkpointing {
            path: checkpoint.clone(),
            every: (split / 2).max(1),
        }),
        ..base.clone()
    });
    assert_eq!(first.iterations, split);
    assert_eq!(first.checkpoint.as_deref(), Some(checkpoint.as_path()));
    let resumed = fit(&FitOptions {
        resume: Some(checkpoint),
        ..base.clone()
    });
    assert_eq!(resumed.iterations, straight.iterations, "{tag}");
    assert_eq!(
        resumed.elbo.to_bits(),
        straight.elbo.to_bits(),
        "{tag}: final ELBO"
    );
    (save(&straight, "straight"), save(&resumed, "resumed"))
}

const CASES: [(LikelihoodChoice, Xi); 4] = [
    (LikelihoodChoice::Gaussian, Xi::Natural),
    (LikelihoodChoice::Gaussian, Xi::Expectation),
    (LikelihoodChoice::Gaussian, Xi::MeanCholesky),
    (LikelihoodChoice::StudentT, Xi::Natural),
];

#[test]
fn resumed_fits_in_memory_equal_straight_fits_byte_for_byte() {
    let data = table(1);
    for (likelihood, xi) in CASES {
        let tag = format!("memory-{likelihood:?}-{xi:?}");
        let fit = |o: &FitOptions| tabular::fit(&data, o, &mut []).unwrap();
        let (a, b) = straight_and_resumed(&tag, &fit, &options(likelihood, xi, 200), 100);
        assert!(a == b, "{tag}: the model files differ");
    }
}

#[test]
fn resumed_streamed_fits_equal_straight_fits_byte_for_byte() {
    let data = table(2);
    let path = scratch("data.svgpb");
    write_binary_file(&path, &data.feature_names, "y", |w| {
        for i in 0..data.x.nrows() {
            w.push(&[data.x[(i, 0)], data.x[(i, 1)]], data.y[i])?;
        }
        Ok(())
    })
    .unwrap();
    let file = BinaryFile::open(&path).unwrap();
    // blocks of 50 rows, 2 shuffled together: the resume point falls inside a group
    let stream = StreamOptions {
        config: StreamConfig {
            block_rows: 50,
            blocks_per_shuffle: 2,
        },
        ..StreamOptions::default()
    };
    for (likelihood, xi) in CASES {
        let tag = format!("stream-{likelihood:?}-{xi:?}");
        let fit = |o: &FitOptions| tabular::fit_binary(&file, o, &stream, &mut []).unwrap();
        let (a, b) = straight_and_resumed(&tag, &fit, &options(likelihood, xi, 200), 100);
        assert!(a == b, "{tag}: the model files differ");
    }
}

/// Every multi-latent likelihood resumes exactly: robust-max and softmax (one kernel per latent)
/// on three classes, heteroscedastic (mean and log noise scale) on the regression rows, and two
/// Gaussian outputs (each with its own q = (m, L)). The resumed fit's model file equals the
/// straight fit's byte for byte, and holds the latents (and kernels) the case is about.
#[test]
fn resumed_multi_latent_fits_equal_straight_fits_byte_for_byte() {
    let cases = [
        (
            "robust-max",
            LikelihoodChoice::RobustMax,
            false,
            class_table(6),
            3,
        ),
        (
            "softmax-per-latent",
            LikelihoodChoice::Softmax,
            true,
            class_table(6),
            3,
        ),
        (
            "heteroscedastic",
            LikelihoodChoice::Heteroscedastic,
            false,
            table(7),
            2,
        ),
        (
            "two-outputs",
            LikelihoodChoice::Gaussian,
            false,
            two_output_table(8),
            2,
        ),
    ];
    for (tag, likelihood, per_latent, data, latents) in cases {
        let fit = |o: &FitOptions| tabular::fit(&data, o, &mut []).unwrap();
        let base = FitOptions {
            kernel_per_latent: per_latent,
            ..options(likelihood, Xi::Natural, 200)
        };
        let (a, b) = straight_and_resumed(tag, &fit, &base, 100);
        assert!(a == b, "{tag}: the model files differ");
        let saved = SavedModel::load(scratch(&format!("{tag}-resumed.json"))).unwrap();
        assert_eq!(saved.model.num_latent(), latents, "{tag}");
        let kernels = if per_latent { latents } else { 1 };
        assert_eq!(saved.model.kernels().len(), kernels, "{tag}");
    }
}

/// A resume inside the default γ ramp (the paper's 1e-4 → 1e-1 over [`DEFAULT_RAMP_STEPS`] = 10
/// iterations, which minibatch fits get), for a Gaussian and a Student-t likelihood: a fit of
/// 5 iterations that checkpoints, resumed to 20, writes the straight fit's model file byte for
/// byte, and the iterations took the ramp's γ₁…γ₅, then γ₆…γ₁₀ and 0.1 after the resume: the
/// schedule's position was restored with the iteration count.
#[test]
fn a_resume_inside_the_gamma_ramp_equals_the_straight_fit() {
    let data = table(9);
    let gammas = RefCell::new(Vec::new());
    let fit = |o: &FitOptions| {
        let mut trace = Trace::default();
        let report = tabular::fit(&data, o, &mut [&mut trace]).unwrap();
        let taken = trace.reports.iter().map(|r| (r.iteration, r.update));
        gammas.borrow_mut().push(taken.collect::<Vec<_>>());
        report
    };
    let ramp = Schedule::paper_ramp(DEFAULT_RAMP_STEPS);
    let expected: Vec<_> = (1..=20)
        .map(|t| {
            let gamma = ramp.gamma(t);
            (t, QUpdate::Natural { gamma, halvings: 0 })
        })
        .collect();
    for likelihood in [LikelihoodChoice::Gaussian, LikelihoodChoice::StudentT] {
        let tag = format!("ramp-{likelihood:?}");
        let base = FitOptions {
            gamma: None,
            ..options(likelihood, Xi::Natural, 20)
        };
        let (a, b) = straight_and_resumed(&tag, &fit, &base, 5);
        assert!(a == b, "{tag}: the model files differ");
        let runs = gammas.take(); // the straight fit, the first part, the resumed part
        assert_eq!(runs[0], expected, "{tag}: the straight fit's steps");
        assert_eq!(runs[1], expected[..5], "{tag}: the first part's steps");
        assert_eq!(runs[2], expected[5..], "{tag}: the resumed part's steps");
    }
}

/// A checkpoint is refused, naming `resume`, for other settings or for other data.
#[test]
fn a_checkpoint_is_refused_for_other_settings_or_data() {
    let data = table(3);
    let checkpoint = scratch("refuse.checkpoint");
    let base = options(LikelihoodChoice::Gaussian, Xi::Natural, 20);
    tabular::fit(
        &data,
        &FitOptions {
            checkpoint: Some(Checkpointing {
                path: checkpoint.clone(),
                every: 10,
            }),
            ..base.clone()
        },
        &mut [],
    )
    .unwrap();
    let resume = FitOptions {
        resume: Some(checkpoint.clone()),
        iterations: 40,
        ..base.clone()
    };
    let other_seed = FitOptions {
        seed: 1,
        ..resume.clone()
    };
    let other_data = table(4);
    let mut fewer = data.clone();
    fewer.x = fewer.x.rows(0, 300).into_owned();
    fewer.y = fewer.y.rows(0, 300).into_owned();
    fewer.lines.truncate(300);
    for (what, result) in [
        ("seed", tabular::fit(&data, &other_seed, &mut [])),
        ("rows", tabular::fit(&fewer, &resume, &mut [])),
    ] {
        let err = result.unwrap_err();
        assert!(
            matches!(&err, SvgpError::InvalidParameter { name, .. } if name == "resume"),
            "{what}: {err}"
        );
    }
    // other values in the same shape are not detected by the checkpoint; they train on
    assert!(tabular::fit(&other_data, &resume, &mut []).is_ok());
    let bad = scratch("not-a-checkpoint.json");
    std::fs::write(&bad, "{\"format\": \"svgp-model\"}").unwrap();
    let err = tabular::fit(
        &data,
        &FitOptions {
            resume: Some(bad),
            ..resume
        },
        &mut [],
    )
    .unwrap_err();
    assert!(err.to_string().contains("not-a-checkpoint.json"), "{err}");
}

/// `Trainer::state` restored into a freshly built trainer continues bit for bit, for natural
/// steps and for Adam on q, through a JSON round trip of the state.
#[test]
fn trainer_state_round_trips_through_json_exactly() {
    let data = table(5);
    let (x, y) = (&data.x, &data.y);
    let model = || {
        let kernel = SquaredExponential::new(1.0, vec![1.0, 1.0]).unwrap();
        let z = x.rows(0, 10).into_owned();
        Svgp::new(Box::new(kernel), Box::new(Gaussian::new(0.2).unwrap()), z).unwrap()
    };
    let adam = HyperTraining::Adam(AdamConfig::default());
    for natural in [true, false] {
        let q = || match natural {
            true => QTraining::natural(Xi::Natural, Schedule::Constant(0.3)),
            false => QTraining::Adam,
        };
        let plan = BatchPlan::Seeded {
            batch_size: 50,
            seed: 7,
        };
        let mut straight = Trainer::new(model(), q(), adam);
        let mut source = InMemory::new(x, y, plan.clone()).unwrap();
        straight
            .run(&mut source, 60, StopRules::default(), &mut [])
            .unwrap();

        let mut first = Trainer::new(model(), q(), adam);
        let mut source = InMemory::new(x, y, plan.clone()).unwrap();
        first
            .run(&mut source, 25, StopRules::default(), &mut [])
            .unwrap();
        let json = serde_json::to_string(&first.state()).unwrap();
        let mut second = Trainer::new(model(), q(), adam);
        second
            .restore(&serde_json::from_str(&json).unwrap())
            .unwrap();
        let mut source = InMemory::new(x, y, plan).unwrap();
        source.skip(25).unwrap();
        second
            .run(&mut source, 35, StopRules::default(), &mut [])
            .unwrap();
        assert_eq!(second.iteration(), 60);
        assert_eq!(
            second.model.hyper_params(),
            straight.model.hyper_params(),
            "natural {natural}"
        );
        assert_eq!(second.model.q(), straight.model.q(), "natural {natural}");
        let wrong = Trainer::new(model(), q(), HyperTraining::Frozen).restore(&first.state());
        assert!(
            wrong.is_err(),
            "a state with Adam moments needs a trainer with Adam"
        );
    }
}
