//! A user-defined parametrisation: the log-Cholesky ξ of examples/log_cholesky.rs, whose natural
//! gradient comes from the library's generic dual-number pass (MATH.md §3). That pass against
//! the independent Fisher-solve oracle (tests/common/fisher.rs), and the example's two claims.

#[allow(dead_code)] // the example's `main` and printing constants are not called here
#[path = "../../examples/log_cholesky.rs"]
mod example;

use crate::common::fisher::{fisher_solve, fisher_solve_with, log_cholesky_mean_cov, reduce, Xi};
use crate::common::*;
use example::LogCholesky;
use nalgebra::DVector;
use svgp::variational::{natural_gradient_dual, Coords, Parametrisation, VariationalQ};

/// ξ at q in the oracle's reduced coordinates, from the definition (m, L with log diagonal),
/// not through the example's maps.
fn log_cholesky_point(q: &VariationalQ) -> DVector<f64> {
    let mut l = q.l().clone();
    for j in 0..l.nrows() {
        l[(j, j)] = l[(j, j)].ln();
    }
    reduce(&Coords::new(q.m().clone(), l).unwrap())
}

/// The natural gradient `LogCholesky` gets by default (one dual-number pass through its
/// θ ↦ ξ) equals F_ξ⁻¹ ∇_ξ L by the oracle, which builds F_ξ from its own map ξ ↦ (m, S).
/// Coordinates: (m, lower entries of log-Cholesky L). M = 1, 2, 3, six seeded (q, v) each.
/// Tolerance 1e-8 relative, as for the built-in ξ (tests/it/natgrad_oracle.rs): the oracle is exact
/// up to rounding in one LU solve of a Fisher matrix with condition number ≲ 1e4 for these q, so
/// rounding stays below 1e-11 while a wrong term shows at O(1).
#[test]
fn log_cholesky_natural_gradient_equals_fisher_solve_oracle() {
    let mut rng = rng(20261201);
    let mut worst = 0.0f64;
    for n in 1..=3 {
        for trial in 0..6 {
            let q = random_q(&mut rng, n);
            let v = random_direction(&mut rng, n);
            let at = log_cholesky_point(&q);
            // the example's ξ(q) goes through θ and back: equal up to rounding
            let via_theta = reduce(&LogCholesky::from_q(&q).unwrap());
            assert!(
                rel_diff(via_theta.as_slice(), at.as_slice()) < 1e-12,
                "ξ(q), M={n}"
            );
            let oracle = fisher_solve_with(log_cholesky_mean_cov, &at, &v);
            let by_duals = LogCholesky::natural_gradient(&q, &v).unwrap();
            assert_eq!(
                by_duals,
                natural_gradient_dual::<LogCholesky>(&q, &v).unwrap()
            );
            let got = reduce(&by_duals);
            let err = rel_diff(got.as_slice(), oracle.as_slice());
            worst = worst.max(err);
            assert!(
                err < 1e-8,
                "M={n} trial {trial}: rel err {err:e}\ndual {got}\noracle {oracle}"
            );
        }
    }
    eprintln!("log-Cholesky natural gradient vs Fisher solve: worst rel err {worst:.1e}");
}

/// The oracle can tell log-Cholesky from (m, L): at q with diagonal of L in [0.5, 1.5] the two
/// natural gradients differ on the diagonal by the factor Lⱼⱼ, so by far more than 1e-2.
#[test]
fn oracle_tells_log_cholesky_from_mean_cholesky() {
    let mut rng = rng(8);
    let q = random_q(&mut rng, 3);
    let v = random_direction(&mut rng, 3);
    let log_chol = fisher_solve_with(log_cholesky_mean_cov, &log_cholesky_point(&q), &v);
    let mean_chol = fisher_solve(Xi::MeanChol, &reduce(&q.mean_chol()), &v);
    assert!(rel_diff(log_chol.as_slice(), mean_chol.as_slice()) > 1e-2);
}

/// What the example prints and checks: 40 natural steps of γ = 0.3 in log-Cholesky
/// coordinates reach the closed-form optimum (m*, S*) within `OPTIMUM_TOL`, with no step
/// shortened and the distance shrinking; and the dual-number natural gradient equals the (m, L)
/// tangent rule mapped through the log within `GRADIENT_TOL` relative (tolerances and their
/// reasons beside the constants in the example).
#[test]
fn example_claims_hold() {
    let target = example::conjugate_target();
    let rows = example::train(&target).unwrap();
    assert_eq!(rows.len(), example::STEPS);
    let dist = |r: &example::StepRow| r.dm.max(r.ds);
    for r in &rows {
        assert_eq!(
            (r.gamma, r.halvings),
            (example::GAMMA, 0),
            "step {} was shortened",
            r.step
        );
    }
    let (first, last) = (dist(&rows[0]), dist(&rows[rows.len() - 1]));
    eprintln!(
        "distance to the optimum: {first:.2e} after step 1, {last:.2e} after step {}",
        rows.len()
    );
    assert!(
        first > 1e-2,
        "started at the optimum ({first:e}): the claim would be vacuous"
    );
    assert!(
        last < example::OPTIMUM_TOL,
        "ended {last:e} from the optimum"
    );

    let (diff, size) = example::duals_against_mapped_rule(&target).unwrap();
    eprintln!("dual numbers vs mapped (m, L) rule: {diff:.1e} of {size:.1e}");
    assert!(
        size > 1e-2,
        "a near-zero natural gradient would make the comparison vacuous"
    );
    assert!(
        diff <= example::GRADIENT_TOL * size,
        "differ by {diff:e} (entries up to {size:e})"
    );
}
