//! The Snelson example's claim, as a test: on datasets/snelson1d.csv (M = 20 by seeded
//! k-means++, full batch, Adam lr 0.01 on hyperparameters and Z), natural gradients on q come
//! within 0.1 nats of their final ELBO in fewer iterations than Adam alone, and end at least as
//! high. (`cargo run --release --example snelson`: 391 iterations against about 1000 for Adam
//! alone, over 5000.)

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

fn train(
    model: &Svgp,
    q_training: QTraining,
    x: &nalgebra::DMatrix<f64>,
    y: &nalgebra::DVector<f64>,
) -> (f64, Trace) {
    let mut t = Trainer::new(
        model.clone(),
        q_training,
        HyperTraining::Adam(AdamConfig::default()),
    );
    let mut trace = Trace::default();
    let plan = BatchPlan::Seeded {
        batch_size: x.nrows(),
        seed: 0,
    };
    t.run(
        &mut InMemory::new(x, y, plan).unwrap(),
        3000,
        StopRules::default(),
        &mut [&mut trace],
    )
    .unwrap();
    (t.model.elbo(x, y, 1.0).unwrap(), trace)
}

#[test]
fn natural_gradients_converge_in_fewer_iterations_than_adam() {
    let data = read_csv("datasets/snelson1d.csv", None, None).unwrap();
    let z = InducingInit::default().choose(&data.x, 20, 0).unwrap();
    let model = Svgp::new(
        Box::new(SquaredExponential::new(1.0, vec![1.0]).unwrap()),
        Box::new(Gaussian::new(0.1).unwrap()),
        z,
    )
    .unwrap();
    let natgrad = QTraining::NatGrad {
        step: Box::new(NatGrad::<Natural>::default()),
        schedule: Schedule::Constant(1.0),
    };
    let (nat_elbo, nat) = train(&model, natgrad, &data.x, &data.y);
    let (adam_elbo, adam) = train(&model, QTraining::Adam, &data.x, &data.y);
    let (n_nat, n_adam) = (
        nat.first_within_of_final(0.1).unwrap(),
        adam.first_within_of_final(0.1).unwrap(),
    );
    assert!(
        n_nat < n_adam,
        "natgrad {n_nat} vs Adam {n_adam} iterations"
    );
    assert!(
        nat_elbo >= adam_elbo - 1e-3,
        "natgrad {nat_elbo} vs Adam {adam_elbo}"
    );
}
