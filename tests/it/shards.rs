//! A batch split into shards (the data-parallel form of training): each shard's data terms
//! (c Σᵢ veᵢ and its gradients in m, S and the hyperparameters, evaluated with the whole batch's
//! scale) add up to the whole batch's, and a trainer stepping on [`Shards`] trains the model a
//! trainer stepping on the whole batch trains. Only the order of the sums over rows differs, so
//! the tolerances are rounding-level: 1e-12 relative for one evaluation, 1e-10 after 40
//! iterations (the bound for distributed training).

use crate::common::*;
use nalgebra::{DMatrix, DVector};
use rand::RngExt;
use svgp::kernel::Matern52;
use svgp::likelihood::{RobustMax, StudentT};
use svgp::model::{DataTerms, GradScope, Marginals, Svgp, Workspace};
use svgp::optim::{
    AdamConfig, BatchPlan, Batches, Evaluator, HyperTraining, NatGrad, QTraining, Schedule, Shards,
    Trainer,
};
use svgp::variational::{Natural, VariationalQ};
use svgp::SvgpError;

/// N rows of 2 inputs with Student-t-friendly regression targets, and a model of `likelihood`.
fn regression(n: usize, seed: u64) -> (DMatrix<f64>, DVector<f64>, Svgp) {
    let mut rng = rng(seed);
    let x: DMatrix<f64> = DMatrix::from_fn(n, 2, |_, _| rng.random_range(-2.0..2.0));
    let y = DVector::from_fn(n, |i, _| (2.0 * x[(i, 0)]).sin() * x[(i, 1)])
        + normal_vector(&mut rng, n) * 0.2;
    let kernel = Matern52::new(1.0, vec![1.0, 1.0]).unwrap();
    let likelihood = StudentT::new(0.3, 3.0, false).unwrap();
    let z = x.rows(0, 12).into_owned();
    let model = Svgp::new(Box::new(kernel), Box::new(likelihood), z).unwrap();
    (x, y, model)
}

/// Three classes over 2 inputs, a robust-max model with ε learned and random q's.
fn three_classes(n: usize, seed: u64) -> (DMatrix<f64>, DVector<f64>, Svgp) {
    let mut rng = rng(seed);
    let x: DMatrix<f64> = DMatrix::from_fn(n, 2, |_, _| rng.random_range(-2.0..2.0));
    let y = DVector::from_fn(n, |i, _| (((x[(i, 0)] + 2.0) * 0.75).floor()).min(2.0));
    let kernel = Matern52::new(1.0, vec![1.0, 1.0]).unwrap();
    let likelihood = RobustMax::new(3, 0.01, true).unwrap();
    let z = x.rows(0, 10).into_owned();
    let qs: Vec<VariationalQ> = (0..3).map(|_| random_q(&mut rng, 10)).collect();
    let mut model = Svgp::new(Box::new(kernel), Box::new(likelihood), z).unwrap();
    model.set_qs(qs).unwrap();
    (x, y, model)
}

/// A workspace holding rows `rows` of (x, y) with scale `scale`, set for `model`.
fn shard(
    model: &Svgp,
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    rows: &[usize],
    scale: f64,
) -> Workspace {
    let mut ws = Workspace::new();
    let ys = DVector::from_iterator(rows.len(), rows.iter().map(|&i| y[i]));
    ws.set_batch(model, &x.select_rows(rows.iter()), &ys, scale)
        .unwrap();
    ws
}

/// Every number of a `DataTerms`, flattened in a fixed order.
fn flat_terms(t: &DataTerms) -> Vec<f64> {
    let mut out = vec![t.ve];
    for m in t.d_m.iter().flatten() {
        out.extend(m.iter());
    }
    for s in t.d_s.iter().flatten() {
        out.extend(s.iter());
    }
    out.extend(t.d_hyper.iter().flatten());
    out
}

#[test]
fn shard_terms_add_up_to_the_whole_batch() {
    let (x, y, model) = three_classes(90, 3);
    let all: Vec<usize> = (0..90).collect();
    let scale = 900.0 / 90.0;
    let whole = shard(&model, &x, &y, &all, scale)
        .data_terms(&model, GradScope::All, Marginals::Compute)
        .unwrap();
    let parts = [&all[..31], &all[31..64], &all[64..]];
    let mut shards = Shards::new(
        parts
            .iter()
            .map(|r| shard(&model, &x, &y, r, scale))
            .collect(),
    )
    .unwrap();
    let summed = shards
        .data_terms(&model, GradScope::All, Marginals::Compute)
        .unwrap();
    let diff = rel_diff(&flat_terms(&whole), &flat_terms(&summed));
    eprintln!("3 shards against the whole batch, relative: {diff:e}");
    assert!(diff < 1e-12, "shards against the whole batch: {diff:e}");
    // The KL terms are added once, after the sum: the ELBO and every gradient agree too.
    let (a, b) = (
        whole.into_elbo_grad(model.qs(), model.parallelism()),
        summed.into_elbo_grad(model.qs(), model.parallelism()),
    );
    assert!((a.elbo - b.elbo).abs() < 1e-12 * a.elbo.abs());
    let d_eta = |g: &svgp::model::ElboGrad| -> Vec<f64> {
        g.d_eta.iter().flatten().flat_map(flat).collect()
    };
    assert!(rel_diff(&d_eta(&a), &d_eta(&b)) < 1e-12);
    // The candidate ELBO a natural step checks is the same sum.
    let qs: Vec<VariationalQ> = {
        let mut rng = rng(9);
        (0..3).map(|_| random_q(&mut rng, 10)).collect()
    };
    let mut one = shard(&model, &x, &y, &all, scale);
    let ve_whole = Evaluator::candidates(&mut one, &model).0(&qs).unwrap();
    let ve_shards = Evaluator::candidates(&mut shards, &model).0(&qs).unwrap();
    assert!((ve_whole - ve_shards).abs() < 1e-12 * ve_whole.abs());
}

/// Trains `model` for `iterations` on seeded batches of 48 rows, each split into `parts` shards
/// (parts = 1: the whole batch in the trainer's own workspace, through `Trainer::step`).
fn train(parts: usize, iterations: u64) -> Trainer {
    let (x, y, model) = regression(240, 5);
    let q = QTraining::NatGrad {
        step: Box::new(NatGrad::<Natural>::default()),
        schedule: Schedule::Constant(0.3),
    };
    let mut trainer = Trainer::new(model, q, HyperTraining::Adam(AdamConfig::default()));
    let plan = BatchPlan::Seeded {
        batch_size: 48,
        seed: 11,
    };
    let mut batches = Batches::new(plan, 240).unwrap();
    for _ in 0..iterations {
        let rows = batches.next_batch().unwrap();
        let scale = 240.0 / rows.len() as f64;
        if parts == 1 {
            let ys = DVector::from_iterator(rows.len(), rows.iter().map(|&i| y[i]));
            trainer
                .step(&x.select_rows(rows.iter()), &ys, scale)
                .unwrap();
            continue;
        }
        let chunk = rows.len().div_ceil(parts);
        let shards = rows
            .chunks(chunk)
            .map(|r| shard(&trainer.model, &x, &y, r, scale))
            .collect();
        trainer
            .step_with(&mut Shards::new(shards).unwrap())
            .unwrap();
    }
    trainer
}

/// Every number of a model: its q's (m, L) and its hyperparameters (kernel, likelihood, Z).
fn flat_model(model: &Svgp) -> Vec<f64> {
    let mut out: Vec<f64> = model.hyper_params().iter().copied().collect();
    for q in model.qs() {
        out.extend(q.m().iter());
        out.extend(q.l().iter());
    }
    out
}

#[test]
fn training_on_shards_trains_the_same_model() {
    let one = train(1, 40);
    for parts in [2, 3] {
        let sharded = train(parts, 40);
        let diff = rel_diff(&flat_model(&one.model), &flat_model(&sharded.model));
        eprintln!("{parts} shards after 40 iterations, relative: {diff:e}");
        assert!(diff < 1e-10, "{parts} shards after 40 iterations: {diff:e}");
        assert_eq!(sharded.iteration(), 40);
    }
}

#[test]
fn mismatched_shards_are_refused() {
    let (x, y, model) = three_classes(40, 4);
    let rows: Vec<usize> = (0..40).collect();
    let mut ws = shard(&model, &x, &y, &rows, 1.0);
    let mut eta = ws
        .data_terms(&model, GradScope::Eta, Marginals::Compute)
        .unwrap();
    let all = ws
        .data_terms(&model, GradScope::All, Marginals::Compute)
        .unwrap();
    let before = eta.clone();
    let err = eta.add(&all).unwrap_err();
    assert!(matches!(err, SvgpError::ShapeMismatch { .. }), "{err}");
    let mut fewer = all.clone();
    fewer.d_m.as_mut().unwrap().pop();
    let mut all2 = all.clone();
    let err = all2.add(&fewer).unwrap_err();
    assert!(matches!(err, SvgpError::ShapeMismatch { .. }), "{err}");
    assert_eq!(all2, all, "a refused sum leaves the terms as they were");
    assert_eq!(eta, before);
    let none: Vec<Workspace> = Vec::new();
    assert!(matches!(
        Shards::new(none),
        Err(SvgpError::InvalidParameter { .. })
    ));
}
