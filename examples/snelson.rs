//! Fits the Snelson 1-D data (datasets/snelson1d.csv) with an SVGP, M = 20 inducing inputs from
//! seeded k-means++, full batch: natural gradients on q (θ, γ = 1, exact for a Gaussian
//! likelihood) alternating with Adam (lr 0.01) on the kernel, the noise and Z; then the same with
//! Adam alone on everything. Prints the final ELBOs, the SGPR bound at the learned
//! hyperparameters, and how many iterations each method needed to come within 0.1 nats of its
//! own final ELBO.
//!
//! Run: `cargo run --release --example snelson`

use std::error::Error;
use svgp::data::read_csv;
use svgp::kernel::SquaredExponential;
use svgp::likelihood::Gaussian;
use svgp::model::inducing::InducingInit;
use svgp::model::Svgp;
use svgp::optim::{
    AdamConfig, BatchPlan, HyperTraining, InMemory, NatGrad, QTraining, Schedule, StopRules, Trace,
    Trainer,
};
use svgp::variational::Natural;

const ITERATIONS: u64 = 5000;
const NUM_INDUCING: usize = 20;

fn main() -> Result<(), Box<dyn Error>> {
    let data = read_csv("datasets/snelson1d.csv", None, None)?;
    let (x, y) = (&data.x, &data.y);
    let z = InducingInit::default().choose(x, NUM_INDUCING, 0)?;
    let model = Svgp::new(
        Box::new(SquaredExponential::new(1.0, vec![1.0])?),
        Box::new(Gaussian::new(0.1)?),
        z,
    )?;
    let full_batch = || BatchPlan::Seeded {
        batch_size: x.nrows(),
        seed: 0,
    };
    let adam = AdamConfig {
        learning_rate: 0.01,
        ..AdamConfig::default()
    };

    let natgrad = QTraining::NatGrad {
        step: Box::new(NatGrad::<Natural>::default()),
        schedule: Schedule::Constant(1.0),
    };
    let mut nat = Trainer::new(model.clone(), natgrad, HyperTraining::Adam(adam));
    let mut nat_trace = Trace::default();
    nat.run(
        &mut InMemory::new(x, y, full_batch())?,
        ITERATIONS,
        StopRules::default(),
        &mut [&mut nat_trace],
    )?;

    let mut adam_only = Trainer::new(model, QTraining::Adam, HyperTraining::Adam(adam));
    let mut adam_trace = Trace::default();
    adam_only.run(
        &mut InMemory::new(x, y, full_batch())?,
        ITERATIONS,
        StopRules::default(),
        &mut [&mut adam_trace],
    )?;

    let nat_elbo = nat.model.elbo(x, y, 1.0)?;
    let adam_elbo = adam_only.model.elbo(x, y, 1.0)?;
    let bound = nat.model.sgpr_bound(x, y)?.bound;
    println!(
        "Snelson 1-D, N = {}, M = {NUM_INDUCING}, {ITERATIONS} full-batch iterations",
        x.nrows()
    );
    println!(
        "natgrad + Adam: final ELBO {nat_elbo:.4}  (SGPR bound at its hyperparameters {bound:.4})"
    );
    println!("Adam only:      final ELBO {adam_elbo:.4}");
    println!(
        "iterations to come within 0.1 nats of the final ELBO: natgrad + Adam {}, Adam only {}",
        nat_trace.first_within_of_final(0.1).unwrap_or(0),
        adam_trace.first_within_of_final(0.1).unwrap_or(0)
    );
    Ok(())
}
