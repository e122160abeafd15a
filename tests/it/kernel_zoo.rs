//! Every leaf kind of `LeafKind::ALL`, alone, on active columns, and mixed in a sum and a
//! product, against a scalar k(x, x′) written here from each formula (independent of the
//! library's loops) and against central differences; specs round-trip; one natural step is
//! exact with each; edge cases of floors, degrees and codes.

use crate::common::exactness::assert_one_step_exact;
use crate::common::*;
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::RngExt;
use std::f64::consts::PI;
use svgp::kernel::{Active, Kernel, KernelSpec, LeafDescription, LeafKind, Product, Sum};
use svgp::SvgpError;

/// k(x, x′) of one pair, from the constrained values in `param_names` order.
type Reference = Box<dyn Fn(&[f64], &[f64]) -> f64>;

struct Case {
    name: String,
    kernel: Box<dyn Kernel>,
    /// k(x, x′) for x ≠ x′ as points of the matrix.
    reference: Reference,
    /// k(x, x) on the diagonal of K_ff (differs from `reference(x, x)` for white noise only).
    diag: Reference,
}

const DEGREE: u32 = 3;

/// The test's constrained value for a parameter name.
fn value_for(name: &str) -> f64 {
    let index = |n: &str| {
        n.split(['[', ']'])
            .nth(1)
            .map_or(0.0, |d| d.parse().unwrap())
    };
    match name.split('[').next().unwrap() {
        "variance" => 1.3,
        "lengthscale" => 0.8 + 0.3 * index(name),
        "period" => 1.7 + 0.4 * index(name),
        "alpha" => 0.7,
        "offset" => 0.4,
        "rho" => 0.3,
        other => panic!("no test value for {other}"),
    }
}

fn values(kind: LeafKind, dim: usize) -> Vec<f64> {
    kind.param_names(dim).iter().map(|n| value_for(n)).collect()
}

/// k(x, y) for `kind` with constrained values `v`, straight from the formula; the match has no
/// catch-all, so a new kind must be added here.
fn formula(kind: LeafKind, v: &[f64], x: &[f64], y: &[f64]) -> f64 {
    let d = x.len();
    let delta: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
    let r2 = |ls: &[f64]| {
        delta
            .iter()
            .zip(ls)
            .map(|(e, l)| e * e / (l * l))
            .sum::<f64>()
    };
    let dot: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
    match kind {
        LeafKind::Se => v[0] * (-0.5 * r2(&v[1..])).exp(),
        LeafKind::Matern12 => v[0] * (-r2(&v[1..]).sqrt()).exp(),
        LeafKind::Matern32 => {
            let s = (3.0 * r2(&v[1..])).sqrt();
            v[0] * (1.0 + s) * (-s).exp()
        }
        LeafKind::Matern52 => {
            let s = (5.0 * r2(&v[1..])).sqrt();
            v[0] * (1.0 + s + s * s / 3.0) * (-s).exp()
        }
        LeafKind::Periodic => {
            let s: f64 = delta.iter().map(|e| (PI * e / v[1]).sin().powi(2)).sum();
            v[0] * (-0.5 * s / (v[2] * v[2])).exp()
        }
        LeafKind::Rq => v[0] * (1.0 + r2(&v[1..=d]) / (2.0 * v[d + 1])).powf(-v[d + 1]),
        LeafKind::Linear => v[0] * dot + v[1],
        LeafKind::Polynomial => (v[0] * dot + v[1]).powi(DEGREE as i32),
        LeafKind::Constant => v[0],
        LeafKind::White => 0.0,
        LeafKind::Cosine => {
            let t: f64 = delta.iter().zip(&v[1..]).map(|(e, p)| e / p).sum();
            v[0] * (2.0 * PI * t).cos()
        }
        LeafKind::Categorical => {
            let same = if x == y { 1.0 } else { 0.0 };
            v[0] * (v[1] + (1.0 - v[1]) * same)
        }
    }
}

fn degree(kind: LeafKind) -> Option<u32> {
    (kind == LeafKind::Polynomial).then_some(DEGREE)
}

/// The leaf of `kind` reading `columns` of D-column inputs, with its reference.
fn leaf_case(kind: LeafKind, columns: &[usize], input_dim: usize) -> Case {
    let v = values(kind, columns.len());
    let names = kind.param_names(columns.len());
    let named: Vec<(&str, f64)> = names.iter().map(|n| n.as_str()).zip(v.clone()).collect();
    let kernel = kind
        .build_on(columns, input_dim, &named, degree(kind))
        .unwrap();
    let pick = {
        let columns = columns.to_vec();
        move |x: &[f64]| columns.iter().map(|&c| x[c]).collect::<Vec<_>>()
    };
    let (p2, v2) = (pick.clone(), v.clone());
    let diag_value = if kind == LeafKind::White {
        v[0]
    } else {
        f64::NAN
    };
    Case {
        name: format!("{} on {columns:?} of {input_dim}", kind.name()),
        kernel,
        reference: Box::new(move |x, y| formula(kind, &v, &pick(x), &pick(y))),
        diag: Box::new(move |x, _| match kind {
            LeafKind::White => diag_value,
            _ => formula(kind, &v2, &p2(x), &p2(x)),
        }),
    }
}

fn combine(name: &str, parts: Vec<Case>, product: bool) -> Case {
    let kernels: Vec<Box<dyn Kernel>> = parts.iter().map(|c| c.kernel.clone()).collect();
    let (refs, diags): (Vec<_>, Vec<_>) = parts.into_iter().map(|c| (c.reference, c.diag)).unzip();
    let fold = move |fs: &[Reference], x: &[f64], y: &[f64]| -> f64 {
        let vals = fs.iter().map(|f| f(x, y));
        if product {
            vals.product()
        } else {
            vals.sum()
        }
    };
    Case {
        name: name.to_string(),
        kernel: if product {
            Box::new(Product::new(kernels).unwrap())
        } else {
            Box::new(Sum::new(kernels).unwrap())
        },
        reference: Box::new(move |x, y| fold(&refs, x, y)),
        diag: Box::new(move |x, y| fold(&diags, x, y)),
    }
}

/// Every kind on D = 2 columns 0..2 (no wrapper), every kind on columns [2, 0] of D = 3, and on
/// D = 3: linear(col 0) + se(col 0) · periodic(col 0), and a product of rq, cosine and
/// categorical plus white on other columns.
fn all_cases() -> Vec<Case> {
    let mut cases: Vec<Case> = LeafKind::ALL
        .iter()
        .map(|&k| leaf_case(k, &[0, 1], 2))
        .collect();
    cases.extend(LeafKind::ALL.iter().map(|&k| leaf_case(k, &[2, 0], 3)));
    let product = combine(
        "se(0) * periodic(0)",
        vec![
            leaf_case(LeafKind::Se, &[0], 3),
            leaf_case(LeafKind::Periodic, &[0], 3),
        ],
        true,
    );
    let linear = leaf_case(LeafKind::Linear, &[0], 3);
    cases.push(combine(
        "linear(0) + se(0) * periodic(0)",
        vec![linear, product],
        false,
    ));
    let mixed = combine(
        "rq(0, 1) * cosine(1) * categorical(2)",
        vec![
            leaf_case(LeafKind::Rq, &[0, 1], 3),
            leaf_case(LeafKind::Cosine, &[1], 3),
            leaf_case(LeafKind::Categorical, &[2], 3),
        ],
        true,
    );
    let rest = [LeafKind::White, LeafKind::Polynomial, LeafKind::Matern52];
    let mut parts = vec![mixed];
    parts.extend(rest.iter().map(|&k| leaf_case(k, &[1, 2], 3)));
    cases.push(combine("mixed sum", parts, false));
    cases
}

/// Points on a grid of step ½ in [−1, 1.5] (so categorical codes repeat), x1 5×D and x2 4×D
/// with x2's rows 0 and 1 copies of x1's rows 0 and 3 (so whole points coincide too).
fn inputs(seed: u64, d: usize) -> (DMatrix<f64>, DMatrix<f64>) {
    let mut rng = rng(seed);
    let mut grid = |r, c| DMatrix::from_fn(r, c, |_, _| rng.random_range(-2i32..=3) as f64 * 0.5);
    let x1 = grid(5, d);
    let mut x2 = grid(4, d);
    x2.row_mut(0).copy_from(&x1.row(0));
    x2.row_mut(1).copy_from(&x1.row(3));
    (x1, x2)
}

fn row(x: &DMatrix<f64>, i: usize) -> Vec<f64> {
    x.row(i).iter().copied().collect()
}

/// |a − b| ≤ 1e-12 of the largest reference entry: the library and the formula round
/// differently (powf vs exp·ln_1p, sums in another order), ~1e-15 each, and a cosine entry
/// near a zero crossing has no relative accuracy of its own.
fn assert_matches(what: &str, got: &DMatrix<f64>, expected: &DMatrix<f64>) {
    let scale = expected.amax().max(1e-300);
    let err = (got - expected).amax();
    assert!(
        err <= 1e-12 * scale,
        "{what}: {got} vs reference {expected}"
    );
}

#[test]
fn matrix_and_diag_match_the_formulas() {
    for (c, case) in all_cases().iter().enumerate() {
        let (x1, x2) = inputs(10 + c as u64, case.kernel.input_dim());
        for (b, what) in [(&x2, "K(x1, x2)"), (&x1, "K(x1, x1)")] {
            let expected = DMatrix::from_fn(5, b.nrows(), |i, j| {
                (case.reference)(&row(&x1, i), &row(b, j))
            });
            assert_matches(
                &format!("{} {what}", case.name),
                &case.kernel.matrix(&x1, b),
                &expected,
            );
        }
        let expected = DMatrix::from_fn(5, 1, |i, _| (case.diag)(&row(&x1, i), &row(&x1, i)));
        let diag = DMatrix::from_column_slice(5, 1, case.kernel.diag(&x1).as_slice());
        assert_matches(&format!("{} diag", case.name), &diag, &expected);
    }
}

/// Central difference along coordinate i, h = 1e-5·max(1, |pᵢ|).
fn central(p: &[f64], i: usize, f: &mut dyn FnMut(&[f64]) -> f64) -> f64 {
    let h = 1e-5 * p[i].abs().max(1.0);
    let (mut up, mut down) = (p.to_vec(), p.to_vec());
    up[i] += h;
    down[i] -= h;
    (f(&up) - f(&down)) / (2.0 * h)
}

/// abs 1e-6 + rel 1e-5: truncation h²|f‴| and rounding ε|f|/h are ~1e-10 at these scales
/// (polynomial entries reach ~250), while a lost factor or sign moves a gradient by O(1).
fn assert_grad(what: &str, analytic: &[f64], fd: &[f64]) {
    for (k, (a, f)) in analytic.iter().zip(fd).enumerate() {
        assert!(
            (a - f).abs() <= 1e-6 + 1e-5 * f.abs(),
            "{what} [{k}]: {a:e} vs FD {f:e}"
        );
    }
}

/// Central differences of p ↦ Σ k̄ ∘ K(x1, x2) at the kernel's parameters.
fn fd_params(
    kernel: &dyn Kernel,
    x1: &DMatrix<f64>,
    x2: &DMatrix<f64>,
    k_bar: &DMatrix<f64>,
) -> Vec<f64> {
    let p0 = kernel.params();
    let mut f = |p: &[f64]| {
        let mut k = kernel.box_clone();
        k.set_params(p).unwrap();
        k.matrix(x1, x2).component_mul(k_bar).sum()
    };
    (0..p0.len()).map(|i| central(&p0, i, &mut f)).collect()
}

#[test]
fn vjp_params_and_x1_match_central_differences() {
    for (c, case) in all_cases().iter().enumerate() {
        let k = case.kernel.as_ref();
        let d = k.input_dim();
        let mut rng = rng(100 + c as u64);
        let (x1, x2) = inputs(200 + c as u64, d);
        let k_bar = DMatrix::from_fn(5, 4, |_, _| rng.random_range(-1.0..1.0));
        let fd = fd_params(k, &x1, &x2, &k_bar);
        assert_grad(
            &format!("{} vjp_params", case.name),
            k.vjp_params(&x1, &x2, &k_bar).as_slice(),
            &fd,
        );
        let flat: Vec<f64> = x1.iter().copied().collect();
        let mut f = |v: &[f64]| {
            let x = DMatrix::from_column_slice(5, d, v);
            k.matrix(&x, &x2).component_mul(&k_bar).sum()
        };
        let fd_x: Vec<f64> = (0..flat.len()).map(|i| central(&flat, i, &mut f)).collect();
        let x1_bar = k.vjp_x1(&x1, &x2, &k_bar);
        assert_eq!(x1_bar.shape(), (5, d), "{}", case.name);
        assert_grad(&format!("{} vjp_x1", case.name), x1_bar.as_slice(), &fd_x);
    }
}

#[test]
fn vjp_params_for_kuu_and_diag_match_central_differences() {
    for (c, case) in all_cases().iter().enumerate() {
        let k = case.kernel.as_ref();
        let mut rng = rng(300 + c as u64);
        let (x, _) = inputs(400 + c as u64, k.input_dim());
        let b = DMatrix::from_fn(5, 5, |_, _| rng.random_range(-1.0..1.0));
        let k_bar = &b + b.transpose(); // symmetric, as K̄uu is
        let fd = fd_params(k, &x, &x, &k_bar);
        assert_grad(
            &format!("{} Kuu", case.name),
            k.vjp_params(&x, &x, &k_bar).as_slice(),
            &fd,
        );
        let d_bar = DVector::from_fn(5, |_, _| rng.random_range(-1.0..1.0));
        let p0 = k.params();
        let mut f = |p: &[f64]| {
            let mut kk = k.box_clone();
            kk.set_params(p).unwrap();
            kk.diag(&x).dot(&d_bar)
        };
        let fd: Vec<f64> = (0..p0.len()).map(|i| central(&p0, i, &mut f)).collect();
        assert_grad(
            &format!("{} diag", case.name),
            k.vjp_diag_params(&x, &d_bar).as_slice(),
            &fd,
        );
    }
}

/// `vjp` and `vjp_given_matrix` (sizes over several column chunks, on the parallel split too)
/// agree with (`vjp_params`, `vjp_x1`), checked above: to 1e-12 of the largest entry, since
/// the squared exponential takes g from K there (rounding only); the others agree exactly.
#[test]
fn vjp_and_vjp_given_matrix_agree_with_the_separate_calls() {
    for (c, case) in all_cases().iter().enumerate() {
        let k = case.kernel.as_ref();
        let mut rng = rng(500 + c as u64);
        for (n1, n2) in [(7, 3), (40, 100)] {
            let x1 = normal_matrix(&mut rng, n1, k.input_dim()).map(|v| (v * 2.0).round() * 0.5);
            let x2 = normal_matrix(&mut rng, n2, k.input_dim()).map(|v| (v * 2.0).round() * 0.5);
            let k_bar = normal_matrix(&mut rng, n1, n2);
            let (p, x) = (k.vjp_params(&x1, &x2, &k_bar), k.vjp_x1(&x1, &x2, &k_bar));
            let (p1, x1b) = k.vjp(&x1, &x2, &k_bar);
            let km = k.matrix(&x1, &x2);
            let par = svgp::Parallelism::default();
            let (p2, x2b) = k.vjp_given_matrix(&x1, &x2, &km, &k_bar, par);
            for (got, want) in [(&p1, &p), (&p2, &p)] {
                assert!(
                    rel_diff(got.as_slice(), want.as_slice()) <= 1e-12,
                    "{} params",
                    case.name
                );
            }
            for got in [&x1b, &x2b] {
                assert!(
                    rel_diff(got.as_slice(), x.as_slice()) <= 1e-12,
                    "{} x1",
                    case.name
                );
            }
        }
    }
}

#[test]
fn specs_round_trip_exactly_through_json() {
    for case in all_cases() {
        let spec = case.kernel.spec();
        let text = serde_json::to_string(&spec).unwrap();
        let back: KernelSpec = serde_json::from_str(&text).unwrap();
        assert_eq!(back, spec, "{}", case.name);
        let rebuilt = back.build().unwrap();
        assert_eq!(rebuilt.params(), case.kernel.params(), "{}", case.name);
        assert_eq!(
            rebuilt.param_names(),
            case.kernel.param_names(),
            "{}",
            case.name
        );
        let (x1, x2) = inputs(7, case.kernel.input_dim());
        assert_eq!(
            rebuilt.matrix(&x1, &x2),
            case.kernel.matrix(&x1, &x2),
            "{}",
            case.name
        );
        assert_eq!(rebuilt.diag(&x1), case.kernel.diag(&x1), "{}", case.name);
    }
}

#[test]
fn set_params_refuses_bad_input_and_leaves_the_kernel_unchanged() {
    for mut case in all_cases() {
        let before = case.kernel.params();
        let n = before.len();
        for len in [0, n - 1, n + 1] {
            let e = case.kernel.set_params(&vec![0.3; len]).unwrap_err();
            assert!(
                matches!(e, SvgpError::ShapeMismatch { expected, found, .. }
                    if expected.rows == n && found.rows == len),
                "{} len {len}: {e:?}",
                case.name
            );
        }
        let names = case.kernel.param_names();
        for i in 0..n {
            let mut p: Vec<f64> = before.iter().map(|v| v + 0.25).collect();
            p[i] = f64::NAN;
            let e = case.kernel.set_params(&p).unwrap_err();
            assert!(
                matches!(&e, SvgpError::InvalidParameter { name, .. } if *name == names[i]),
                "{} entry {i}: {e:?}",
                case.name
            );
        }
        assert_eq!(case.kernel.params(), before, "{}", case.name);
    }
}

/// Each kind's names and defaults, the builder's named values read back by `LeafDescription`
/// (to 1e-12 relative: softplus and its inverse round), with columns and degree; bad names,
/// repeated names and out-of-domain values are refused by name.
#[test]
fn leaf_kinds_build_from_names_and_read_back() {
    for kind in LeafKind::ALL {
        assert_eq!(LeafKind::from_name(kind.name()), Some(kind));
        assert_eq!(
            kind.defaults(3).len(),
            kind.param_names(3).len(),
            "{kind:?}"
        );
        assert_eq!(kind.num_params(3), kind.param_names(3).len(), "{kind:?}");
        let case = leaf_case(kind, &[2, 0], 3);
        let back = LeafDescription::of(case.kernel.as_ref()).unwrap();
        assert_eq!((back.kind, back.degree), (kind, degree(kind)));
        assert_eq!((back.columns, back.input_dim), (vec![2, 0], 3));
        for (name, v) in &back.values {
            let want = value_for(name);
            assert!(
                (v - want).abs() <= 1e-12 * want,
                "{kind:?} {name}: {v} vs {want}"
            );
        }
        let defaults =
            LeafDescription::of(kind.build(2, &[], degree(kind)).unwrap().as_ref()).unwrap();
        let got: Vec<f64> = defaults.values.iter().map(|(_, v)| *v).collect();
        assert!(
            rel_diff(&got, &kind.defaults(2)) <= 1e-12,
            "{kind:?} defaults {got:?}"
        );
        let e = kind
            .build(2, &[("varaince", 1.0)], degree(kind))
            .unwrap_err();
        assert!(matches!(&e, SvgpError::InvalidParameter { name, .. } if name == "varaince"));
        let twice = [("variance", 1.0), ("variance", 2.0)];
        assert!(kind.build(2, &twice, degree(kind)).is_err(), "{kind:?}");
        let e = kind
            .build(2, &[("variance", -1.0)], degree(kind))
            .unwrap_err();
        assert!(matches!(&e, SvgpError::InvalidParameter { name, .. } if name == "variance"));
    }
    let e = LeafKind::Categorical
        .build(1, &[("rho", 1.0)], None)
        .unwrap_err();
    assert!(
        matches!(&e, SvgpError::InvalidParameter { name, .. } if name == "rho"),
        "{e:?}"
    );
    assert!(LeafDescription::of(all_cases().pop().unwrap().kernel.as_ref()).is_none());
}

/// N = 40 points on D = 3 (column 2 holds codes 0, 1, 2), M = 10 of them as Z, and y a smooth
/// function plus N(0, 0.1²) noise.
fn exactness_data() -> (DMatrix<f64>, DVector<f64>, DMatrix<f64>) {
    let mut rng = rng(900);
    let x = DMatrix::from_fn(40, 3, |i, j| match j {
        2 => (i % 3) as f64,
        _ => rng.random_range(-1.5..1.5),
    });
    let noise = normal_vector(&mut rng, 40) * 0.1;
    let y = DVector::from_fn(40, |i, _| x[(i, 0)].sin() + 0.5 * x[(i, 1)] + x[(i, 2)]) + noise;
    let z = x.rows(0, 10).into_owned();
    (x, y, z)
}

/// MATH.md §3 exactness with every case's kernel on D = 3 (the D = 2 leaves read columns 0, 1
/// through an active wrapper). Low-rank kernels (constant, linear, cosine, categorical) make
/// K_uu singular but for the jitter, so the jitter is 1e-3 here: the step's exactness does not
/// depend on it, since the collapsed bound uses the same K_uu.
#[test]
fn one_natural_step_is_exact_with_every_kernel() {
    let (x, y, z) = exactness_data();
    let mut rng = rng(901);
    for case in all_cases() {
        let make = || -> Box<dyn Kernel> {
            match case.kernel.input_dim() {
                3 => case.kernel.clone(),
                _ => Box::new(Active::new(vec![0, 1], 3, case.kernel.clone()).unwrap()),
            }
        };
        assert_one_step_exact(&case.name, &make, &x, &y, &z, 0.1, 1e-3, &mut rng);
    }
}

/// Every entry of K, diag and the VJPs finite.
fn assert_all_finite(what: &str, k: &dyn Kernel, x: &DMatrix<f64>) {
    let k_bar = DMatrix::from_element(x.nrows(), x.nrows(), 1.0);
    let (p, xb) = k.vjp(x, x, &k_bar);
    let d = k.vjp_diag_params(x, &DVector::from_element(x.nrows(), 1.0));
    let all = k
        .matrix(x, x)
        .iter()
        .chain(k.diag(x).iter())
        .chain(p.iter())
        .chain(xb.iter())
        .chain(d.iter())
        .all(|v| v.is_finite());
    assert!(all, "{what}: a non-finite value");
}

/// Periods and lengthscales pushed to their floor (unconstrained −40: floor + 4e-18) keep
/// every value and gradient finite; a constrained value at the floor is refused by name.
#[test]
fn periods_and_lengthscales_at_their_floors_stay_finite() {
    let (x, _) = inputs(5, 2);
    for kind in [
        LeafKind::Periodic,
        LeafKind::Rq,
        LeafKind::Cosine,
        LeafKind::Se,
    ] {
        let mut k = kind.build(2, &[], None).unwrap();
        let names = k.param_names();
        let p: Vec<f64> = names
            .iter()
            .zip(k.params())
            .map(|(n, v)| {
                if n.starts_with("period") || n.starts_with("lengthscale") {
                    -40.0
                } else {
                    v
                }
            })
            .collect();
        k.set_params(&p).unwrap();
        assert_all_finite(kind.name(), k.as_ref(), &x);
        let at_floor = svgp::kernel::default_transform().floor;
        let e = kind
            .build(2, &[(names[1].as_str(), at_floor)], None)
            .unwrap_err();
        assert!(
            matches!(&e, SvgpError::InvalidParameter { name, .. } if *name == names[1]),
            "{e:?}"
        );
    }
}

/// A polynomial of degree 0 is refused (from the builder and from a stored spec), as is a
/// degree given to another kind; degree 1 reads back as the linear kernel.
#[test]
fn polynomial_degree_zero_is_refused() {
    for e in [
        LeafKind::Polynomial.build(2, &[], Some(0)).unwrap_err(),
        KernelSpec::Polynomial {
            dim: 1,
            degree: 0,
            params: vec![0.0, 0.0],
            floor: 1e-6,
        }
        .build()
        .unwrap_err(),
        LeafKind::Linear.build(2, &[], Some(2)).unwrap_err(),
        LeafKind::Se.build(2, &[], Some(2)).unwrap_err(),
    ] {
        assert!(
            matches!(&e, SvgpError::InvalidParameter { name, .. } if name == "degree"),
            "{e:?}"
        );
    }
    let one = LeafKind::Polynomial.build(2, &[], Some(1)).unwrap();
    assert_eq!(
        LeafDescription::of(one.as_ref()).unwrap().kind,
        LeafKind::Linear
    );
}

/// Every row holding one code: K = σ² everywhere (ρ plays no part, its gradient is 0 like its
/// central difference), and the derivative in x is 0.
#[test]
fn categorical_with_all_equal_codes_is_constant() {
    let k = LeafKind::Categorical
        .build(1, &[("variance", 1.7), ("rho", 0.2)], None)
        .unwrap();
    let x = DMatrix::from_element(4, 1, 2.0);
    let km = k.matrix(&x, &x);
    assert!(km.iter().all(|&v| (v - 1.7).abs() <= 1e-14), "{km}");
    let k_bar = DMatrix::from_element(4, 4, 1.0);
    let (g, xb) = k.vjp(&x, &x, &k_bar);
    assert_eq!(g[1], 0.0, "∂/∂rho");
    assert!(
        (g[0] - fd_params(k.as_ref(), &x, &x, &k_bar)[0]).abs() <= 1e-6,
        "∂/∂variance"
    );
    assert!(xb.iter().all(|&v| v == 0.0));
}

/// White noise: zeros in every matrix, also k(X, X); σ² only on the diagonal; no derivative in
/// x or through `vjp_params`.
#[test]
fn white_noise_lives_on_the_diagonal_only() {
    let k = LeafKind::White
        .build(2, &[("variance", 0.3)], None)
        .unwrap();
    let (x, z) = inputs(3, 2);
    assert!(k
        .matrix(&x, &x)
        .iter()
        .chain(k.matrix(&x, &z).iter())
        .all(|&v| v == 0.0));
    assert!(k.diag(&x).iter().all(|&v| (v - 0.3).abs() <= 1e-15));
    let k_bar = DMatrix::from_element(5, 5, 1.0);
    let (g, xb) = k.vjp(&x, &x, &k_bar);
    assert!(g.iter().chain(xb.iter()).all(|&v| v == 0.0));
    assert!(k.vjp_diag_params(&x, &DVector::from_element(5, 1.0))[0] > 0.0);
}

/// Active refuses an empty, repeated or out-of-range column list by name, and an inner kernel
/// of the wrong width.
#[test]
fn active_refuses_bad_columns() {
    let se = |d| LeafKind::Se.build(d, &[], None).unwrap();
    for (columns, value) in [(vec![], 0.0), (vec![1, 1], 1.0), (vec![0, 3], 3.0)] {
        let e = Active::new(columns, 3, se(2)).unwrap_err();
        assert!(
            matches!(&e, SvgpError::InvalidParameter { name, value: v, .. }
                if name == "columns" && *v == value),
            "{e:?}"
        );
    }
    let e = Active::new(vec![0], 3, se(2)).unwrap_err();
    assert!(matches!(e, SvgpError::ShapeMismatch { .. }), "{e:?}");
}

/// se(col 0) + categorical(col 1) on codes 0–3, Z by k-means keeping column 1 as codes: 20
/// iterations of natural steps and Adam on the hyperparameters and Z move Z's column 0 but
/// leave column 1 bit for bit as chosen (its gradient is exactly 0, and Adam's step on a
/// coordinate whose gradient has always been 0 is 0/(0 + ε) = 0).
#[test]
fn adam_leaves_the_code_column_of_z_unchanged() {
    use svgp::prelude::{AdamConfig, BatchPlan, Gaussian, HyperTraining, InMemory, InducingInit};
    use svgp::prelude::{QTraining, Schedule, StopRules, Svgp, Trainer, Xi};
    let mut rng = rng(950);
    let x = DMatrix::from_fn(60, 2, |i, j| match j {
        0 => rng.random_range(-2.0..2.0),
        _ => (i % 4) as f64,
    });
    let y = DVector::from_fn(60, |i, _| x[(i, 0)].sin() + 0.3 * x[(i, 1)]);
    let z = InducingInit::default()
        .choose_keeping_codes(&x, 8, 0, &[1])
        .unwrap();
    assert!(
        z.column(1).iter().all(|v| [0.0, 1.0, 2.0, 3.0].contains(v)),
        "{z}"
    );
    let se = LeafKind::Se.build_on(&[0], 2, &[], None).unwrap();
    let codes = LeafKind::Categorical.build_on(&[1], 2, &[], None).unwrap();
    let kernel = (se + codes).build().unwrap();
    let model = Svgp::new(kernel, Box::new(Gaussian::new(0.1).unwrap()), z.clone()).unwrap();
    let q = QTraining::natural(Xi::Natural, Schedule::Constant(1.0));
    let mut trainer = Trainer::new(model, q, HyperTraining::Adam(AdamConfig::default()));
    let plan = BatchPlan::Seeded {
        batch_size: 60,
        seed: 0,
    };
    let mut batches = InMemory::new(&x, &y, plan).unwrap();
    trainer
        .run(&mut batches, 20, StopRules::default(), &mut [])
        .unwrap();
    let after = trainer.model.z();
    assert_eq!(after.column(1), z.column(1));
    assert!(after.column(0) != z.column(0), "Z's column 0 must train");
}
