//! The SVGP against golden values from a separate numpy implementation (tests/data/README.md):
//! marginals, minibatch ELBO, q-gradients, the three natural gradients, every hyperparameter and
//! Z gradient, and the full-batch optimum with its SGPR bound. Agreement is expected to ~1e-10
//! relative (both float64, different operation order); we allow 1e-9 relative to the largest
//! entry of each quantity, far below any modelling error (a lost factor shows at O(1)).

use crate::common::all_grads;

use crate::common::rel_diff;
use nalgebra::{DMatrix, DVector};
use serde_json::Value;
use svgp::kernel::SquaredExponential;
use svgp::likelihood::Gaussian;
use svgp::model::{sgpr_bound, Svgp};
use svgp::transform::Positive;
use svgp::variational::{
    Coords, Expectation, MeanCholesky, Natural, Parametrisation, VariationalQ,
};

const TOL: f64 = 1e-9;

fn golden() -> Value {
    let text = std::fs::read_to_string("tests/data/svgp_small_gaussian.json").expect("fixture");
    serde_json::from_str(&text).expect("valid JSON")
}

fn vector(v: &Value) -> DVector<f64> {
    DVector::from_iterator(
        v.as_array().unwrap().len(),
        v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()),
    )
}

fn matrix(v: &Value) -> DMatrix<f64> {
    let rows = v.as_array().unwrap();
    let cols = rows[0].as_array().unwrap().len();
    DMatrix::from_fn(rows.len(), cols, |i, j| rows[i][j].as_f64().unwrap())
}

fn check(name: &str, got: &[f64], expected: &[f64]) {
    let err = rel_diff(got, expected);
    assert!(
        err < TOL,
        "{name}: rel err {err:e}\n got {got:?}\n expected {expected:?}"
    );
}

struct Setup {
    model: Svgp,
    x: DMatrix<f64>,
    y: DVector<f64>,
    xb: DMatrix<f64>,
    yb: DVector<f64>,
    scale: f64,
}

fn setup(g: &Value) -> Setup {
    let i = &g["inputs"];
    let kernel = SquaredExponential::new(
        i["kernel_variance"].as_f64().unwrap(),
        vector(&i["lengthscales"]).as_slice().to_vec(),
    )
    .unwrap();
    let lik = Gaussian::new(i["noise_variance"].as_f64().unwrap()).unwrap();
    let q = VariationalQ::new(vector(&i["m"]), matrix(&i["L"])).unwrap();
    let model = Svgp::with_q(
        Box::new(kernel),
        Box::new(lik),
        matrix(&i["Z"]),
        q,
        i["jitter"].as_f64().unwrap(),
    )
    .unwrap();
    let x = matrix(&i["X"]);
    let y = vector(&i["y"]);
    let rows: Vec<usize> = i["batch_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_u64().unwrap() as usize)
        .collect();
    let xb = x.select_rows(rows.iter());
    let yb = DVector::from_iterator(rows.len(), rows.iter().map(|&r| y[r]));
    Setup {
        model,
        x,
        y,
        xb,
        yb,
        scale: i["scale_c"].as_f64().unwrap(),
    }
}

#[test]
fn minibatch_quantities_match_golden_values() {
    let g = golden();
    let s = setup(&g);
    let mb = &g["minibatch"];
    let (mu, var) = s.model.conditionals(&s.xb).unwrap()[0].marginals(s.model.q());
    check("mu", mu.as_slice(), vector(&mb["mu"]).as_slice());
    check("var_f", var.as_slice(), vector(&mb["var_f"]).as_slice());
    let grad = all_grads(&s.model, &s.xb, &s.yb, s.scale);
    check("elbo", &[grad.elbo], &[mb["elbo"].as_f64().unwrap()]);
    check(
        "dL/dm",
        grad.dl_dm.as_slice(),
        vector(&mb["dL_dm"]).as_slice(),
    );
    check(
        "dL/dS",
        grad.d_eta.matrix.as_slice(),
        matrix(&mb["dL_dS"]).as_slice(),
    );
    check(
        "dL/deta1",
        grad.d_eta.vector.as_slice(),
        vector(&mb["dL_deta1"]).as_slice(),
    );
    check(
        "dL/deta2",
        grad.d_eta.matrix.as_slice(),
        matrix(&mb["dL_deta2"]).as_slice(),
    );

    check_natural_gradients(s.model.q(), &grad.d_eta, mb);
    check_hyper_gradients(&s.model, &grad.d_hyper, mb);
}

/// The three natural gradients at q from the q-gradient `d_eta` against the golden minibatch `mb`.
fn check_natural_gradients(q: &VariationalQ, d_eta: &Coords, mb: &Value) {
    let nat = Natural::natural_gradient(q, d_eta).unwrap();
    check(
        "natgrad θ₁",
        nat.vector.as_slice(),
        vector(&mb["natgrad_natural"]["theta1"]).as_slice(),
    );
    check(
        "natgrad θ₂",
        nat.matrix.as_slice(),
        matrix(&mb["natgrad_natural"]["theta2"]).as_slice(),
    );
    let exp = Expectation::natural_gradient(q, d_eta).unwrap();
    check(
        "natgrad η₁",
        exp.vector.as_slice(),
        vector(&mb["natgrad_expectation"]["eta1"]).as_slice(),
    );
    check(
        "natgrad η₂",
        exp.matrix.as_slice(),
        matrix(&mb["natgrad_expectation"]["eta2"]).as_slice(),
    );
    let mc = MeanCholesky::natural_gradient(q, d_eta).unwrap();
    check(
        "natgrad m",
        mc.vector.as_slice(),
        vector(&mb["natgrad_meansqrt"]["m"]).as_slice(),
    );
    check(
        "natgrad L",
        mc.matrix.as_slice(),
        matrix(&mb["natgrad_meansqrt"]["L"]).as_slice(),
    );
}

/// The kernel, noise and Z gradients `d` (kernel params, likelihood params, then Z column-major)
/// against the golden minibatch `mb`.
fn check_hyper_gradients(model: &Svgp, d: &DVector<f64>, mb: &Value) {
    // Hyperparameters: ours are with respect to unconstrained p, v = floor + softplus(p), so
    // ∂L/∂v = (∂L/∂p) / sigmoid(p).
    let t = Positive::default();
    let kp = model.kernel().params();
    let lp = model.likelihood().params();
    let to_constrained = |i: usize, p: f64| d[i] / t.derivative(p);
    check(
        "dL/dvariance",
        &[to_constrained(0, kp[0])],
        &[mb["dL_dkernel_variance"].as_f64().unwrap()],
    );
    let dls: Vec<f64> = (1..kp.len()).map(|i| to_constrained(i, kp[i])).collect();
    check(
        "dL/dlengthscales",
        &dls,
        vector(&mb["dL_dlengthscales"]).as_slice(),
    );
    check(
        "dL/dnoise",
        &[to_constrained(kp.len(), lp[0])],
        &[mb["dL_dnoise_variance"].as_f64().unwrap()],
    );
    let dz = DMatrix::from_column_slice(4, 2, &d.as_slice()[kp.len() + lp.len()..]);
    check("dL/dZ", dz.as_slice(), matrix(&mb["dL_dZ"]).as_slice());
}

#[test]
fn full_batch_optimum_matches_golden_values() {
    let g = golden();
    let s = setup(&g);
    let fb = &g["full_batch"];
    let noise = Gaussian::new(g["inputs"]["noise_variance"].as_f64().unwrap())
        .unwrap()
        .noise_variance();
    let fit = sgpr_bound(
        s.model.kernel(),
        noise,
        s.model.z(),
        &s.x,
        &s.y,
        s.model.jitter(),
    )
    .unwrap();
    check(
        "sgpr bound",
        &[fit.bound],
        &[fb["sgpr_bound"].as_f64().unwrap()],
    );
    check(
        "optimal m",
        fit.q.m().as_slice(),
        vector(&fb["optimal_m"]).as_slice(),
    );
    check(
        "optimal S",
        fit.q.s().as_slice(),
        matrix(&fb["optimal_S"]).as_slice(),
    );
    let mut at_opt = s.model.clone();
    at_opt.set_q(fit.q).unwrap();
    let elbo = at_opt.elbo(&s.x, &s.y, 1.0).unwrap();
    check(
        "elbo at optimum",
        &[elbo],
        &[fb["elbo_at_optimum"].as_f64().unwrap()],
    );
}
