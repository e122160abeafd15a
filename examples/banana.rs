//! Banana classification (datasets/banana_5300.csv, seeded 80/20 split, standardised inputs):
//! SVGP with a probit likelihood, M = 50 inducing inputs by k-means++, B = 256. Compares natural
//! gradients on q (the default ramp 1e-4 → 1e-1) + Adam on the hyperparameters against Adam on
//! everything, at two Adam learning rates, and prints how many iterations natgrad + Adam needs to
//! reach the full-training ELBO that Adam alone has after 1000, with test metrics.
//!
//! Run: `cargo run --release --example banana`

use nalgebra::DVector;
use std::error::Error;
use svgp::data::{read_csv, train_test_split, Standardiser};
use svgp::kernel::SquaredExponential;
use svgp::likelihood::{Bernoulli, BinaryLink};
use svgp::model::inducing::InducingInit;
use svgp::model::Svgp;
use svgp::optim::{
    AdamConfig, BatchPlan, ElboCheckpoints, HyperTraining, InMemory, NatGrad, QTraining, Schedule,
    StopRules, Trainer,
};
use svgp::variational::Natural;

fn main() -> Result<(), Box<dyn Error>> {
    let table = read_csv("datasets/banana_5300.csv", None, None)?;
    let (train, test) = train_test_split(table.x.nrows(), 0.2, 0);
    let pick = |rows: &[usize]| {
        (
            table.x.select_rows(rows.iter()),
            DVector::from_iterator(rows.len(), rows.iter().map(|&i| table.y[i])),
        )
    };
    let ((xtr, ytr), (xte, yte)) = (pick(&train), pick(&test));
    let scaler = Standardiser::fit(&xtr);
    let (xtr, xte) = (scaler.transform(&xtr), scaler.transform(&xte));
    let z = InducingInit::default().choose(&xtr, 50, 0)?;
    let base = Svgp::new(
        Box::new(SquaredExponential::new(1.0, vec![1.0; 2])?),
        Box::new(Bernoulli::new(BinaryLink::Probit)),
        z,
    )?;
    let plan = || BatchPlan::Seeded {
        batch_size: 256,
        seed: 1,
    };
    println!(
        "banana: {} train / {} test points, M = 50, B = 256",
        xtr.nrows(),
        xte.nrows()
    );

    for learning_rate in [0.001, 0.01] {
        let adam = AdamConfig {
            learning_rate,
            ..AdamConfig::default()
        };
        let mut adam_only = Trainer::new(base.clone(), QTraining::Adam, HyperTraining::Adam(adam));
        adam_only.run(
            &mut InMemory::new(&xtr, &ytr, plan())?,
            1000,
            StopRules::default(),
            &mut [],
        )?;
        let target = adam_only.model.elbo(&xtr, &ytr, 1.0)?;

        let schedule = Schedule::default_for(base.likelihood(), false);
        let q_training = QTraining::NatGrad {
            step: Box::new(NatGrad::<Natural>::default()),
            schedule,
        };
        let mut nat = Trainer::new(base.clone(), q_training, HyperTraining::Adam(adam));
        // One continuous run, the full-data ELBO checked every 10 iterations.
        let mut checkpoints = ElboCheckpoints::new(&xtr, &ytr, 0, 10, 1000);
        nat.run(
            &mut InMemory::new(&xtr, &ytr, plan())?,
            1000,
            StopRules::default(),
            &mut [&mut checkpoints],
        )?;
        let reached = checkpoints.first_at_least(target);
        let shortened = checkpoints.shortened;
        let (m_nat, m_adam) = (
            nat.model.evaluate(&xte, &yte)?,
            adam_only.model.evaluate(&xte, &yte)?,
        );
        println!("Adam learning rate {learning_rate}:");
        println!(
            "  Adam alone, 1000 iterations: ELBO {target:.1}, test accuracy {:.4}, NLPD {:.4}",
            m_adam.accuracy.unwrap_or(f64::NAN),
            m_adam.nlpd
        );
        println!(
            "  natgrad + Adam: reaches that ELBO after {} iterations; after 1000: ELBO {:.1}, test accuracy {:.4}, NLPD {:.4}, Brier {:.4}; {shortened} steps shortened",
            reached.map_or("more than 1000".to_string(), |r| r.to_string()),
            nat.model.elbo(&xtr, &ytr, 1.0)?,
            m_nat.accuracy.unwrap_or(f64::NAN),
            m_nat.nlpd,
            m_nat.brier.unwrap_or(f64::NAN)
        );
    }
    Ok(())
}
