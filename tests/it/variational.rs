//! q(v) parametrisations: round trips, the KL to the whitened prior and its gradients, and the
//! checked natural-gradient step (MATH.md §1–3, §6).

use crate::common::*;
use nalgebra::{DMatrix, DVector};
use svgp::optim::{InvalidStepPolicy, NatGrad};
use svgp::variational::{
    prior_kl, prior_kl_grad, Coords, Expectation, MeanCholesky, Natural, Parametrisation, Spare,
    VariationalQ,
};
use svgp::SvgpError;

/// (m, L) → ξ → (m, L) for one parametrisation; returns the relative error of m and of L.
fn round_trip<P: Parametrisation>(q: &VariationalQ) -> (f64, f64) {
    let back = P::to_mean_chol(&P::from_q(q).unwrap()).unwrap();
    (
        rel_diff(back.vector.as_slice(), q.m().as_slice()),
        rel_diff(back.matrix.as_slice(), q.l().as_slice()),
    )
}

fn round_trip_all(q: &VariationalQ) -> [(&'static str, (f64, f64)); 3] {
    [
        (Natural::NAME, round_trip::<Natural>(q)),
        (Expectation::NAME, round_trip::<Expectation>(q)),
        (MeanCholesky::NAME, round_trip::<MeanCholesky>(q)),
    ]
}

/// Well-conditioned S (cond ≲ 100): each map is a few O(M³) products, triangular solves and one
/// Cholesky, so the round trip loses ~M·ε·cond ≲ 1e-12 relative at M = 50.
#[test]
fn round_trips_are_exact_for_well_conditioned_s() {
    let mut rng = rng(3);
    for n in [1, 2, 5, 20, 50] {
        let q = random_q(&mut rng, n);
        for (name, (em, el)) in round_trip_all(&q) {
            assert!(em < 1e-12 && el < 1e-12, "{name} M={n}: m {em:e}, L {el:e}");
        }
    }
}

/// S = U diag(λ) Uᵀ with λ log-spaced from 1 to 1e-8 (cond(S) = 1e8), U a random rotation.
fn ill_conditioned_q(rng: &mut rand::rngs::StdRng, n: usize) -> VariationalQ {
    let u = normal_matrix(rng, n, n).qr().q();
    let lambda = DVector::from_fn(n, |i, _| 10f64.powf(-8.0 * i as f64 / (n - 1) as f64));
    let mut s = &u * DMatrix::from_diagonal(&lambda) * u.transpose();
    svgp::linalg::symmetrise_in_place(&mut s);
    let l = svgp::linalg::cholesky(&s, "S", svgp::Parallelism::default()).unwrap();
    VariationalQ::new(normal_vector(rng, n), l).unwrap()
}

/// cond(S) = 1e8: going through S⁻¹ (θ) or through S + m mᵀ (η) loses accuracy in proportion to
/// cond(S)·ε ≈ 2.2e-8. Measured (seed 5): worst 2.0e-9 relative (θ, M = 5; η ≤ 6.4e-12), so we
/// allow 1·cond(S)·ε, and check separately that (m, L) itself round-trips exactly.
#[test]
fn round_trips_lose_at_most_a_small_multiple_of_cond_eps_for_ill_conditioned_s() {
    let bound = 1e8 * f64::EPSILON;
    let mut rng = rng(5);
    for n in [5, 20, 50] {
        let q = ill_conditioned_q(&mut rng, n);
        for (name, (em, el)) in round_trip_all(&q) {
            assert!(
                em < bound && el < bound,
                "{name} M={n}: m {em:e}, L {el:e}, bound {bound:e}"
            );
        }
        assert_eq!(round_trip::<MeanCholesky>(&q), (0.0, 0.0));
    }
}

/// The KL against a direct formula with log|S| from the eigenvalues of S (not from L), and its
/// gradients against central differences (abs 1e-6 + rel 1e-5, STYLE.md: truncation and rounding
/// are both ~1e-11 at unit scale, so a lost factor 2 or sign is caught).
/// The natural step's candidate built in buffers (`to_q_at`: S⁻¹ = −2 (θ₂ + γ v₂) from the lower
/// triangles, then mirrored) is `to_q(θ + γ v)` bit for bit when θ₂ and v₂ are exactly symmetric,
/// as they are in training (θ₂ from the exactly symmetric S⁻¹, v₂ from `symmetric`). The oracle
/// is the plain map on the moved point: a missed mirror or a wrong triangle changes every bit.
#[test]
fn natural_candidate_in_buffers_is_to_q_of_the_moved_point() {
    let mut rng = rng(29);
    for n in [1, 7, 40] {
        let q = random_q(&mut rng, n);
        let theta = Natural::from_q(&q).unwrap();
        let v = random_direction(&mut rng, n);
        let gamma = 1e-3; // small enough that −2 (θ₂ + γ v₂) stays positive definite
        let at = Natural::to_q_at(&theta, gamma, &v, &mut Spare::new()).unwrap();
        let direct = Natural::to_q(&theta.add_scaled(gamma, &v)).unwrap();
        assert_eq!((at.m(), at.l()), (direct.m(), direct.l()), "M={n}");
        assert_ne!(at.l(), q.l(), "M={n}: the step moved q");
    }
}

#[test]
fn kl_matches_eigenvalue_formula_and_differences() {
    let mut rng = rng(11);
    for n in [1, 3, 8, 20] {
        let q = random_q(&mut rng, n);
        let s = q.s();
        let eig = s.clone().symmetric_eigen();
        let direct = 0.5
            * (s.trace() + q.m().norm_squared()
                - n as f64
                - eig.eigenvalues.iter().map(|l| l.ln()).sum::<f64>());
        let kl = prior_kl(&q);
        assert!(
            (kl - direct).abs() < 1e-12 * direct.abs().max(1.0),
            "M={n}: {kl} vs {direct}"
        );

        let grad = prior_kl_grad(&q);
        let h = 1e-5;
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6 + 1e-5 * b.abs();
        for i in 0..n {
            let shifted = |d: f64| {
                let mut m = q.m().clone();
                m[i] += d;
                prior_kl(&VariationalQ::new(m, q.l().clone()).unwrap())
            };
            let fd = (shifted(h) - shifted(-h)) / (2.0 * h);
            assert!(close(grad.dm[i], fd), "dm[{i}]: {} vs {fd}", grad.dm[i]);
        }
        for j in 0..n {
            for i in j..n {
                let shifted = |d: f64| {
                    let mut l = q.l().clone();
                    l[(i, j)] += d;
                    prior_kl(&VariationalQ::new(q.m().clone(), l).unwrap())
                };
                let fd = (shifted(h) - shifted(-h)) / (2.0 * h);
                assert!(
                    close(grad.dl[(i, j)], fd),
                    "dL[{i},{j}]: {} vs {fd}",
                    grad.dl[(i, j)]
                );
                // ∂KL/∂S through the chain rule ∂KL/∂L = 2 (∂KL/∂S) L (S symmetric).
                let via_s = 2.0 * (&grad.ds * q.l())[(i, j)];
                assert!(close(via_s, fd), "dS→dL[{i},{j}]: {via_s} vs {fd}");
            }
        }
    }
}

/// S = 0.01 I (θ₂ = −50 I) and a strongly curved target v₂ = 30 I: with γ = 2 the natural step
/// gives θ₂ = +10 I, not negative definite, in every parametrisation (they share the natural
/// gradient's geometry to first order, and here θ₂ moves past zero). γ = 1 gives θ₂ = −20 I in θ.
fn leaving_the_cone() -> (VariationalQ, Coords) {
    let n = 3;
    let q =
        VariationalQ::new(DVector::from_element(n, 0.5), DMatrix::identity(n, n) * 0.1).unwrap();
    let d_eta = Coords::new(DVector::zeros(n), DMatrix::identity(n, n) * 30.0).unwrap();
    (q, d_eta)
}

#[test]
fn a_step_that_leaves_the_cone_is_refused_with_its_step_size() {
    let (q, d_eta) = leaving_the_cone();
    let refuse = NatGrad::<Natural>::new(InvalidStepPolicy::Refuse);
    match refuse.step(&q, &d_eta, 2.0) {
        Err(SvgpError::StepRejected {
            gamma, attempts, ..
        }) => {
            assert_eq!((gamma, attempts), (2.0, 1));
        }
        other => panic!("expected StepRejected, got {other:?}"),
    }
}

#[test]
fn a_step_that_leaves_the_cone_is_retried_with_halved_gamma_and_reported() {
    let (q, d_eta) = leaving_the_cone();
    let halve = NatGrad::<Natural>::new(InvalidStepPolicy::Halve { max_halvings: 5 });
    let step = halve.step(&q, &d_eta, 2.0).unwrap();
    assert_eq!((step.gamma, step.halvings), (1.0, 1));
    // θ₂ = −50 I + 1·30 I = −20 I, so S = I/40 exactly (to rounding).
    let s = step.q.s();
    assert!(
        (s[(0, 0)] - 1.0 / 40.0).abs() < 1e-15 && s[(1, 0)].abs() < 1e-15,
        "S = {s}"
    );

    let no_room = NatGrad::<Natural>::new(InvalidStepPolicy::Halve { max_halvings: 0 });
    assert!(matches!(
        no_room.step(&q, &d_eta, 2.0),
        Err(SvgpError::StepRejected { attempts: 1, .. })
    ));
}

/// Each ξ has its own way out of the valid set: θ₂ crossing zero (v₂ = +30 I grows S without
/// bound), or S (η) and the diagonal of L ((m, L)) crossing zero (v₂ = −30 I shrinks S). A large
/// γ = 1e3 leaves it in every case; halving must then find a valid step and report the count.
#[test]
fn every_parametrisation_guards_its_step() {
    let (q, grow) = leaving_the_cone();
    let shrink = Coords::new(grow.vector.clone(), -grow.matrix.clone()).unwrap();
    let gamma = 1e3;
    let refuse = InvalidStepPolicy::Refuse;
    let halve = InvalidStepPolicy::Halve { max_halvings: 30 };
    let refused = |r: svgp::Result<svgp::optim::NatGradStep>| {
        matches!(r, Err(SvgpError::StepRejected { .. }))
    };
    assert!(refused(
        NatGrad::<Natural>::new(refuse).step(&q, &grow, gamma)
    ));
    assert!(refused(
        NatGrad::<Expectation>::new(refuse).step(&q, &shrink, gamma)
    ));
    assert!(refused(
        NatGrad::<MeanCholesky>::new(refuse).step(&q, &shrink, gamma)
    ));
    for step in [
        NatGrad::<Natural>::new(halve)
            .step(&q, &grow, gamma)
            .unwrap(),
        NatGrad::<Expectation>::new(halve)
            .step(&q, &shrink, gamma)
            .unwrap(),
        NatGrad::<MeanCholesky>::new(halve)
            .step(&q, &shrink, gamma)
            .unwrap(),
    ] {
        assert!(step.halvings > 0, "no halving reported");
        assert_eq!(step.gamma, gamma / 2f64.powi(step.halvings as i32));
    }
}

#[test]
fn non_finite_gradients_and_step_sizes_are_refused() {
    let (q, mut d_eta) = leaving_the_cone();
    let ng = NatGrad::<Natural>::default();
    assert!(matches!(
        ng.step(&q, &d_eta, f64::NAN),
        Err(SvgpError::InvalidParameter { .. })
    ));
    assert!(matches!(
        ng.step(&q, &d_eta, 0.0),
        Err(SvgpError::InvalidParameter { .. })
    ));
    d_eta.vector[1] = f64::INFINITY;
    assert!(matches!(
        ng.step(&q, &d_eta, 0.1),
        Err(SvgpError::NonFiniteValue { .. })
    ));
}

/// A natural step in θ with γ = 1 on the linear objective L(η) = v₁·η₁ + tr(v₂ η₂) moves θ by
/// exactly v, whatever the parametrisation: here checked for θ itself against the closed form.
#[test]
fn natural_step_moves_theta_by_gamma_v() {
    let mut rng = rng(13);
    let q = random_q(&mut rng, 4);
    let theta = Natural::from_q(&q).unwrap();
    let mut v = random_direction(&mut rng, 4);
    v.matrix *= 0.01; // keep θ₂ + γ v₂ negative definite
    let gamma = 0.5;
    let step = NatGrad::<Natural>::new(InvalidStepPolicy::Refuse)
        .step(&q, &v, gamma)
        .unwrap();
    let theta_new = Natural::from_q(&step.q).unwrap();
    let expected = theta.add_scaled(gamma, &v);
    let err = rel_diff(&flat(&theta_new), &flat(&expected));
    assert!(err < 1e-12, "rel err {err:e}");
}

/// A natural step in θ built in a [`Spare`] pool that holds stale buffers (of refused candidates,
/// an earlier q, an earlier step's ends, and a matrix of another shape) gives bit for bit the q
/// of a step from fresh buffers, with and without halvings, and the pool never holds more than
/// its bound.
#[test]
fn a_step_from_spare_buffers_equals_a_fresh_one() {
    let mut rng = rng(21);
    let m = 6;
    let halve = NatGrad::<Natural>::new(InvalidStepPolicy::Halve { max_halvings: 20 });
    let mut spare = Spare::new();
    spare.keep_matrix(DMatrix::from_element(m + 1, m + 1, f64::NAN));
    for round in 0..4 {
        let q = random_q(&mut rng, m);
        let v1 = normal_vector(&mut rng, m);
        // a large step (halved, refusing candidates) in even rounds, a small one in odd rounds
        let size = if round % 2 == 0 { 50.0 } else { 1e-4 };
        let d_eta = Coords::new(v1, symmetric(&mut rng, m) * size).unwrap();
        let fresh = halve.step(&q, &d_eta, 1.0).unwrap();
        assert_eq!(
            fresh.halvings > 0,
            round % 2 == 0,
            "round {round}: halvings as designed"
        );
        let pooled = halve
            .step_checked_in(&q, &d_eta, 1.0, &mut |_| true, &mut spare)
            .unwrap();
        assert_eq!(
            (pooled.gamma, pooled.halvings),
            (fresh.gamma, fresh.halvings),
            "round {round}"
        );
        assert_eq!(pooled.q, fresh.q, "round {round}: (m, L)");
        assert_eq!(pooled.q.s_inv(), fresh.q.s_inv(), "round {round}: S⁻¹");
        // S is formed in a buffer the step took from the pool (stale contents): the same bits
        assert_eq!(pooled.q.s(), fresh.q.s(), "round {round}: S");
        spare.keep_q(pooled.q);
        spare.keep_matrix(DMatrix::from_element(m, m, f64::NAN));
    }
    // the pool hands out what it kept (stale, non-zero contents) before it allocates zeros
    let kept = (0..20)
        .filter(|_| spare.matrix(m, m).iter().any(|v| *v != 0.0))
        .count();
    assert!(
        kept <= 8,
        "the pool kept {kept} M×M matrices, more than its bound"
    );
}

/// `VariationalQ::new` refuses a non-finite entry of m or L, a non-zero entry above L's
/// diagonal and a non-positive diagonal entry, naming the parameter and the offending value, at
/// sizes whose entries fill whole vector lanes and leave a tail.
#[test]
fn new_refuses_invalid_entries_and_names_them() {
    for n in [3, 8, 13] {
        let ok = || {
            (
                DVector::from_element(n, 0.5),
                DMatrix::<f64>::identity(n, n),
            )
        };
        assert!(VariationalQ::new(ok().0, ok().1).is_ok(), "n = {n}");
        for (i, j) in [(0, 0), (n - 1, 0), (n - 1, n - 1), (n / 2, n / 3)] {
            let (m, mut l) = ok();
            l[(i, j)] = f64::INFINITY;
            let e = VariationalQ::new(m, l).unwrap_err();
            assert!(
                matches!(&e, SvgpError::InvalidParameter { name, value, .. }
                    if name == "L" && *value == f64::INFINITY),
                "n = {n}, ({i}, {j}): {e:?}"
            );
        }
        let (mut m, l) = ok();
        m[n - 1] = f64::NAN;
        let e = VariationalQ::new(m, l).unwrap_err();
        assert!(
            matches!(&e, SvgpError::InvalidParameter { name, value, .. } if name == "m" && value.is_nan()),
            "n = {n}: {e:?}"
        );
        let (m, mut l) = ok();
        l[(0, n - 1)] = -1e-300;
        let e = VariationalQ::new(m, l).unwrap_err();
        assert!(
            matches!(&e, SvgpError::InvalidParameter { name, value, reason }
                if name == "L" && *value == -1e-300 && reason.contains("lower triangular")),
            "n = {n}: {e:?}"
        );
        let (m, mut l) = ok();
        l[(n - 1, n - 1)] = 0.0;
        let e = VariationalQ::new(m, l).unwrap_err();
        assert!(
            matches!(&e, SvgpError::NotPositiveDefinite { matrix: "L", pivot, .. } if *pivot == n - 1),
            "n = {n}: {e:?}"
        );
    }
}
