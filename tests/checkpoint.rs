//! Checkpoints and exact resume: a fit of 200 iterations and a fit of 100 that checkpoints,
//! then resumes to 200, write byte-identical model files — for a table in memory and a streamed
//! binary table, in every built-in parametrisation, with a Gaussian and a non-conjugate
//! (Student-t) likelihood. A checkpoint is refused for other settings or other data, and a
//! trainer's state restored into another trainer continues bit for bit (also Adam on q).

use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::path::PathBuf;
use svgp::data::{write_binary_file, BinaryFile, StreamConfig, Table};
use svgp::prelude::*;
use svgp::tabular::{self, Checkpointing, StreamOptions};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("svgp-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// 400 seeded rows: x ∈ U(−2, 2)², y = sin x₁ + x₂/2 + noise, with a few outliers (so the
/// Student-t case has something to do).
fn table(seed: u64) -> Table {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = 400;
    let x: DMatrix<f64> = DMatrix::from_fn(n, 2, |_, _| rng.random_range(-2.0..2.0));
    let y = DVector::from_fn(n, |i, _| {
        let outlier = if i % 40 == 0 { 3.0 } else { 0.0 };
        x[(i, 0)].sin() + 0.5 * x[(i, 1)] + 0.1 * rng.random_range(-1.0..1.0) + outlier
    });
    Table {
        x,
        y,
        feature_names: vec!["a".into(), "b".into()],
        target_name: "y".into(),
        extra_targets: Vec::new(),
        path: "(in memory)".into(),
        lines: (2..402).collect(),
        target_column: 3,
        rows_dropped: 0,
        classes: None,
    }
}

fn options(likelihood: LikelihoodChoice, xi: Xi, iterations: u64) -> FitOptions {
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

/// Fits straight and in two parts through `fit`, returning both model files' bytes.
fn straight_and_resumed(
    tag: &str,
    fit: &dyn Fn(&FitOptions) -> tabular::FitReport,
    base: &FitOptions,
) -> (Vec<u8>, Vec<u8>) {
    let save = |report: &tabular::FitReport, name: &str| {
        let path = scratch(&format!("{tag}-{name}.json"));
        report.saved.save(&path).unwrap();
        std::fs::read(path).unwrap()
    };
    let straight = fit(base);
    let checkpoint = scratch(&format!("{tag}.checkpoint"));
    let first = fit(&FitOptions {
        iterations: 100,
        checkpoint: Some(Checkpointing {
            path: checkpoint.clone(),
            every: 50,
        }),
        ..base.clone()
    });
    assert_eq!(first.iterations, 100);
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
        let (a, b) = straight_and_resumed(&tag, &fit, &options(likelihood, xi, 200));
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
        let (a, b) = straight_and_resumed(&tag, &fit, &options(likelihood, xi, 200));
        assert!(a == b, "{tag}: the model files differ");
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
