//! Every kernel against slow references and finite differences (MATH.md §4, STYLE.md "Tests").
//!
//! `all_kernels` lists every kernel the crate ships, each with a per-entry reference closure
//! written here from the formulas; every test walks that list, so a new kernel cannot be missed.

use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use svgp::kernel::*;
use svgp::SvgpError;

/// k(x, z) for one pair of points, written independently of the library.
type Reference = Box<dyn Fn(&[f64], &[f64]) -> f64>;

/// How a case is built: a leaf kernel, or copies of the parts of a `Sum` or `Product`.
enum Parts {
    Leaf,
    Sum(Vec<Box<dyn Kernel>>),
    Product(Vec<Box<dyn Kernel>>),
}

struct Case {
    name: &'static str,
    kernel: Box<dyn Kernel>,
    reference: Reference,
    parts: Parts,
}

/// σ² g(r²) with r² = Σ_d (x_d − z_d)²/ℓ_d², g given as a function of r.
fn stationary_ref(variance: f64, ls: Vec<f64>, g: fn(f64) -> f64) -> Reference {
    Box::new(move |x, z| {
        let mut r2 = 0.0;
        for d in 0..ls.len() {
            r2 += (x[d] - z[d]).powi(2) / ls[d].powi(2);
        }
        variance * g(r2.sqrt())
    })
}

fn g_se(r: f64) -> f64 {
    (-0.5 * r * r).exp()
}
fn g_m12(r: f64) -> f64 {
    (-r).exp()
}
fn g_m32(r: f64) -> f64 {
    let s = 3f64.sqrt() * r;
    (1.0 + s) * (-s).exp()
}
fn g_m52(r: f64) -> f64 {
    let s = 5f64.sqrt() * r;
    (1.0 + s + 5.0 * r * r / 3.0) * (-s).exp()
}

/// The four stationary kernels with the given D, variances and lengthscales varied per kernel.
fn stationary_cases(d: usize) -> Vec<Case> {
    let ls = |scale: f64| {
        (0..d)
            .map(|i| scale * (0.7 + 0.45 * i as f64))
            .collect::<Vec<_>>()
    };
    let (v_se, v_12, v_32, v_52) = (1.3, 0.8, 2.1, 0.55);
    vec![
        Case {
            name: "SquaredExponential",
            kernel: Box::new(SquaredExponential::new(v_se, ls(1.0)).unwrap()),
            reference: stationary_ref(v_se, ls(1.0), g_se),
            parts: Parts::Leaf,
        },
        Case {
            name: "Matern12",
            kernel: Box::new(Matern12::new(v_12, ls(1.3)).unwrap()),
            reference: stationary_ref(v_12, ls(1.3), g_m12),
            parts: Parts::Leaf,
        },
        Case {
            name: "Matern32",
            kernel: Box::new(Matern32::new(v_32, ls(0.9)).unwrap()),
            reference: stationary_ref(v_32, ls(0.9), g_m32),
            parts: Parts::Leaf,
        },
        Case {
            name: "Matern52",
            kernel: Box::new(Matern52::new(v_52, ls(1.1)).unwrap()),
            reference: stationary_ref(v_52, ls(1.1), g_m52),
            parts: Parts::Leaf,
        },
    ]
}

fn sum_case(name: &'static str, parts: Vec<Case>) -> Case {
    let (kernels, refs): (Vec<_>, Vec<_>) =
        parts.into_iter().map(|c| (c.kernel, c.reference)).unzip();
    Case {
        name,
        kernel: Box::new(Sum::new(kernels.clone()).unwrap()),
        reference: Box::new(move |x, z| refs.iter().map(|r| r(x, z)).sum()),
        parts: Parts::Sum(kernels),
    }
}

fn product_case(name: &'static str, parts: Vec<Case>) -> Case {
    let (kernels, refs): (Vec<_>, Vec<_>) =
        parts.into_iter().map(|c| (c.kernel, c.reference)).unzip();
    Case {
        name,
        kernel: Box::new(Product::new(kernels.clone()).unwrap()),
        reference: Box::new(move |x, z| refs.iter().map(|r| r(x, z)).product()),
        parts: Parts::Product(kernels),
    }
}

/// Every kernel: SE, M12, M32, M52 with D = 1 and D = 3, a Sum and a Product of mixed kernels,
/// and a nested Sum(Product(…), …). Add new kernels here.
fn all_kernels() -> Vec<Case> {
    let d3 = || -> [Case; 4] {
        match stationary_cases(3).try_into() {
            Ok(a) => a,
            Err(_) => unreachable!("four stationary kernels"),
        }
    };
    let mut cases = stationary_cases(1);
    cases.extend(stationary_cases(3));
    let [se, m12, m32, m52] = d3();
    cases.push(sum_case("Sum(SE, M12)", vec![se, m12]));
    cases.push(product_case("Product(M32, M52)", vec![m32, m52]));
    let [se, m12, _, m52] = d3();
    cases.push(product_case("Product(SE, M12, M52)", vec![se, m12, m52]));
    let [se, m12, m32, m52] = d3();
    let prod = product_case("Product(SE, M12, M52)", vec![se, m12, m52]);
    cases.push(sum_case("Sum(Product(SE, M12, M52), M32)", vec![prod, m32]));
    cases
}

/// `n` points in [−2, 2]^D, N×D, every pair at least 0.3 apart (no coincident points, so
/// Matérn ½ is differentiable at every pair and FD curvature stays moderate).
fn separated_points(rng: &mut StdRng, n: usize, d: usize, avoid: &[Vec<f64>]) -> DMatrix<f64> {
    let mut pts: Vec<Vec<f64>> = avoid.to_vec();
    let start = pts.len();
    while pts.len() < start + n {
        let p: Vec<f64> = (0..d).map(|_| rng.random_range(-2.0..2.0)).collect();
        let far = pts
            .iter()
            .all(|q| p.iter().zip(q).map(|(a, b)| (a - b).powi(2)).sum::<f64>() > 0.09);
        if far {
            pts.push(p);
        }
    }
    DMatrix::from_fn(n, d, |i, j| pts[start + i][j])
}

fn rows(x: &DMatrix<f64>) -> Vec<Vec<f64>> {
    (0..x.nrows())
        .map(|i| x.row(i).iter().copied().collect())
        .collect()
}

/// x1 (5×D) and x2 (4×D), no point of one within 0.3 of any other point.
fn inputs(seed: u64, d: usize) -> (DMatrix<f64>, DMatrix<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x1 = separated_points(&mut rng, 5, d, &[]);
    let x2 = separated_points(&mut rng, 4, d, &rows(&x1));
    (x1, x2)
}

fn uniform_matrix(rng: &mut StdRng, r: usize, c: usize) -> DMatrix<f64> {
    DMatrix::from_fn(r, c, |_, _| rng.random_range(-1.0..1.0))
}

/// Central difference of f at p along coordinate i, h = 1e-5·max(1, |pᵢ|).
fn central_diff(p: &[f64], i: usize, f: &mut dyn FnMut(&[f64]) -> f64) -> f64 {
    let h = 1e-5 * p[i].abs().max(1.0);
    let mut q = p.to_vec();
    q[i] = p[i] + h;
    let fp = f(&q);
    q[i] = p[i] - h;
    let fm = f(&q);
    (fp - fm) / (2.0 * h)
}

/// Tolerance abs 1e-6 + rel 1e-5: central differences with h = 1e-5 carry truncation
/// ~h²|f'''| and rounding ~ε|f|/h, both ~1e-11 at unit scale, so this leaves ample room yet
/// still catches a lost factor 2 or a flipped sign.
fn assert_grad_close(what: &str, analytic: f64, fd: f64) {
    assert!(
        (analytic - fd).abs() <= 1e-6 + 1e-5 * fd.abs(),
        "{what}: analytic {analytic:e} vs finite difference {fd:e}"
    );
}

#[test]
fn matrix_matches_double_loop_reference() {
    for (c, case) in all_kernels().iter().enumerate() {
        let d = case.kernel.input_dim();
        let (x1, x2) = inputs(10 + c as u64, d);
        let k = case.kernel.matrix(&x1, &x2);
        assert_eq!(k.shape(), (5, 4), "{}", case.name);
        let (r1, r2) = (rows(&x1), rows(&x2));
        for i in 0..5 {
            for j in 0..4 {
                let r = (case.reference)(&r1[i], &r2[j]);
                assert!(
                    (k[(i, j)] - r).abs() <= 1e-14 * r.abs(),
                    "{} D={d} ({i},{j}): {} vs reference {r}",
                    case.name,
                    k[(i, j)]
                );
            }
        }
        // x1 = x2 (Kuu, r = 0 on the diagonal) and x1 against itself shifted by 1e-7 (r ≈ 1e-7:
        // the ‖x‖² + ‖z‖² − 2xzᵀ expansion would put ~1e-8 relative errors in Matérn ½ here)
        let near = x1.add_scalar(1e-7);
        let r_near = rows(&near);
        for (other, r_other) in [(&x1, &r1), (&near, &r_near)] {
            let kxx = case.kernel.matrix(&x1, other);
            for i in 0..5 {
                for j in 0..5 {
                    let r = (case.reference)(&r1[i], &r_other[j]);
                    assert!(
                        (kxx[(i, j)] - r).abs() <= 1e-14 * r.abs(),
                        "{} near/Kuu ({i},{j}): {} vs {r}",
                        case.name,
                        kxx[(i, j)]
                    );
                }
            }
        }
    }
}

#[test]
fn sum_and_product_equal_combinations_of_their_parts() {
    let mut checked = 0;
    for (c, case) in all_kernels().iter().enumerate() {
        let (x, z) = inputs(20 + c as u64, case.kernel.input_dim());
        let expected = match &case.parts {
            Parts::Leaf => continue,
            Parts::Sum(parts) => parts
                .iter()
                .fold(DMatrix::zeros(5, 4), |acc, p| acc + p.matrix(&x, &z)),
            Parts::Product(parts) => parts
                .iter()
                .fold(DMatrix::from_element(5, 4, 1.0), |acc, p| {
                    acc.component_mul(&p.matrix(&x, &z))
                }),
        };
        let k = case.kernel.matrix(&x, &z);
        assert!(
            (&k - &expected).amax() <= 1e-15 * expected.amax(),
            "{}: {k} vs {expected}",
            case.name
        );
        checked += 1;
    }
    assert_eq!(checked, 4, "two sums (one nested) and two products");
}

#[test]
fn diag_equals_diagonal_of_matrix() {
    for (c, case) in all_kernels().iter().enumerate() {
        let (x, _) = inputs(30 + c as u64, case.kernel.input_dim());
        let diag = case.kernel.diag(&x);
        let full = case.kernel.matrix(&x, &x).diagonal();
        assert_eq!(diag.len(), 5, "{}", case.name);
        assert!(
            (&diag - &full).amax() <= 1e-15 * full.amax(),
            "{}: {diag} vs {full}",
            case.name
        );
    }
}

/// Σᵢⱼ k̄ᵢⱼ Kᵢⱼ with the kernel's parameters set to `p` (on a copy).
fn weighted_sum(
    kernel: &dyn Kernel,
    p: &[f64],
    x1: &DMatrix<f64>,
    x2: &DMatrix<f64>,
    k_bar: &DMatrix<f64>,
) -> f64 {
    let mut k = kernel.box_clone();
    k.set_params(p).unwrap();
    k.matrix(x1, x2).component_mul(k_bar).sum()
}

fn check_vjp_params(
    case: &Case,
    x1: &DMatrix<f64>,
    x2: &DMatrix<f64>,
    k_bar: &DMatrix<f64>,
    what: &str,
) {
    let kernel = case.kernel.as_ref();
    let p0 = kernel.params();
    let grad = kernel.vjp_params(x1, x2, k_bar);
    assert_eq!(grad.len(), kernel.num_params(), "{}", case.name);
    let names = kernel.param_names();
    for i in 0..p0.len() {
        let fd = central_diff(&p0, i, &mut |p| weighted_sum(kernel, p, x1, x2, k_bar));
        assert_grad_close(
            &format!("{} {what} ∂/∂{}", case.name, names[i]),
            grad[i],
            fd,
        );
    }
}

#[test]
fn vjp_params_matches_central_differences() {
    for (c, case) in all_kernels().iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(40 + c as u64);
        let (x1, x2) = inputs(50 + c as u64, case.kernel.input_dim());
        let k_bar = uniform_matrix(&mut rng, 5, 4);
        check_vjp_params(case, &x1, &x2, &k_bar, "Kuf");
    }
}

#[test]
fn vjp_params_matches_central_differences_for_kuu() {
    // x1 = x2: r = 0 on the diagonal (Matérn ½'s subgradient there must not pollute the sum)
    for (c, case) in all_kernels().iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(60 + c as u64);
        let (x, _) = inputs(70 + c as u64, case.kernel.input_dim());
        let b = uniform_matrix(&mut rng, 5, 5);
        let k_bar = &b + b.transpose(); // symmetric, as K̄uu is
        check_vjp_params(case, &x, &x, &k_bar, "Kuu");
    }
}

#[test]
fn vjp_diag_params_matches_central_differences() {
    for (c, case) in all_kernels().iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(80 + c as u64);
        let kernel = case.kernel.as_ref();
        let (x, _) = inputs(90 + c as u64, kernel.input_dim());
        let d_bar = DVector::from_fn(5, |_, _| rng.random_range(-1.0..1.0));
        let p0 = kernel.params();
        let grad = kernel.vjp_diag_params(&x, &d_bar);
        assert_eq!(grad.len(), kernel.num_params(), "{}", case.name);
        let names = kernel.param_names();
        for i in 0..p0.len() {
            let fd = central_diff(&p0, i, &mut |p| {
                let mut k = kernel.box_clone();
                k.set_params(p).unwrap();
                k.diag(&x).dot(&d_bar)
            });
            assert_grad_close(&format!("{} diag ∂/∂{}", case.name, names[i]), grad[i], fd);
        }
    }
}

#[test]
fn vjp_x1_matches_central_differences() {
    for (c, case) in all_kernels().iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(100 + c as u64);
        let kernel = case.kernel.as_ref();
        let d = kernel.input_dim();
        let (x1, x2) = inputs(110 + c as u64, d);
        let k_bar = uniform_matrix(&mut rng, 5, 4);
        let x1_bar = kernel.vjp_x1(&x1, &x2, &k_bar);
        assert_eq!(x1_bar.shape(), (5, d), "{}", case.name);
        // x1 flattened column-major, perturbed one entry at a time
        let flat: Vec<f64> = x1.iter().copied().collect();
        for idx in 0..flat.len() {
            let fd = central_diff(&flat, idx, &mut |v| {
                let x = DMatrix::from_column_slice(5, d, v);
                kernel.matrix(&x, &x2).component_mul(&k_bar).sum()
            });
            let (i, j) = (idx % 5, idx / 5);
            assert_grad_close(&format!("{} ∂/∂x1[{i},{j}]", case.name), x1_bar[(i, j)], fd);
        }
    }
}

/// `vjp_given_matrix` (which the trainer calls with the conditional's Kuf and Kuu) agrees with
/// `vjp` (checked against central differences above): for the squared exponential it takes
/// g and g′ from K instead of from r², which moves results by rounding only, so relative 1e-12
/// of the largest entry; the other kernels ignore K and must agree exactly. Sizes span several
/// column chunks (32 columns each), on one thread and with the parallel split.
#[test]
fn vjp_given_matrix_agrees_with_vjp() {
    for (c, case) in all_kernels().iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(200 + c as u64);
        let kernel = case.kernel.as_ref();
        let d = kernel.input_dim();
        for (n1, n2) in [(7, 3), (40, 100), (600, 700)] {
            let x1 = uniform_matrix(&mut rng, n1, d) * 2.0;
            let x2 = uniform_matrix(&mut rng, n2, d) * 2.0;
            let k_bar = uniform_matrix(&mut rng, n1, n2);
            let k = kernel.matrix(&x1, &x2);
            let (p_ref, x_ref) = kernel.vjp(&x1, &x2, &k_bar);
            let (p, x) =
                kernel.vjp_given_matrix(&x1, &x2, &k, &k_bar, svgp::Parallelism::default());
            let close = |a: &[f64], b: &[f64], what: &str| {
                let scale = b.iter().fold(0.0f64, |s, v| s.max(v.abs()));
                for (u, v) in a.iter().zip(b) {
                    assert!(
                        (u - v).abs() <= 1e-12 * scale,
                        "{} {n1}×{n2} {what}: {u:e} vs {v:e}",
                        case.name
                    );
                }
            };
            close(p.as_slice(), p_ref.as_slice(), "parameter VJP");
            close(x.as_slice(), x_ref.as_slice(), "x1 VJP");
        }
    }
}

#[test]
fn set_params_refuses_wrong_length_and_leaves_kernel_unchanged() {
    for mut case in all_kernels() {
        let (x1, x2) = inputs(120, case.kernel.input_dim());
        let before = case.kernel.params();
        let k_before = case.kernel.matrix(&x1, &x2);
        let n = case.kernel.num_params();
        for len in [0, n - 1, n + 1] {
            let p = vec![0.3; len];
            let e = case.kernel.set_params(&p).unwrap_err();
            assert!(
                matches!(e, SvgpError::ShapeMismatch { expected, found, .. }
                    if expected.rows == n && found.rows == len),
                "{} len {len}: {e:?}",
                case.name
            );
            assert_eq!(case.kernel.params(), before, "{}", case.name);
        }
        assert_eq!(case.kernel.matrix(&x1, &x2), k_before, "{}", case.name);
    }
}

#[test]
fn set_params_refuses_non_finite_and_leaves_kernel_unchanged() {
    for mut case in all_kernels() {
        let (x1, x2) = inputs(130, case.kernel.input_dim());
        let before = case.kernel.params();
        let k_before = case.kernel.matrix(&x1, &x2);
        let names = case.kernel.param_names();
        for i in 0..before.len() {
            for bad in [f64::NAN, f64::INFINITY] {
                // every other entry changed too, so a partial write would show
                let mut p: Vec<f64> = before.iter().map(|v| v + 0.25).collect();
                p[i] = bad;
                let e = case.kernel.set_params(&p).unwrap_err();
                assert!(
                    matches!(&e, SvgpError::InvalidParameter { name, .. } if *name == names[i]),
                    "{} entry {i}: {e:?}",
                    case.name
                );
                assert_eq!(case.kernel.params(), before, "{} entry {i}", case.name);
            }
        }
        assert_eq!(case.kernel.matrix(&x1, &x2), k_before, "{}", case.name);
    }
}

#[test]
fn params_round_trip_through_set_params() {
    for (c, mut case) in all_kernels().into_iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(140 + c as u64);
        let (x1, x2) = inputs(150, case.kernel.input_dim());
        let names = case.kernel.param_names();
        assert_eq!(names.len(), case.kernel.num_params(), "{}", case.name);
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            names.len(),
            "{}: duplicate names {names:?}",
            case.name
        );

        let original = case.kernel.params();
        let k_original = case.kernel.matrix(&x1, &x2);
        let new: Vec<f64> = original
            .iter()
            .map(|v| v + rng.random_range(-0.5..0.5))
            .collect();
        case.kernel.set_params(&new).unwrap();
        assert_eq!(case.kernel.params(), new, "{}", case.name);
        assert_ne!(
            case.kernel.matrix(&x1, &x2),
            k_original,
            "{}: set_params had no effect",
            case.name
        );
        case.kernel.set_params(&original).unwrap();
        assert_eq!(case.kernel.params(), original, "{}", case.name);
        assert_eq!(case.kernel.matrix(&x1, &x2), k_original, "{}", case.name);
    }
}

/// Product(SE, Matérn 3/2) on D = 2 where neither part underflows: inputs within [−0.6, 0.5]²
/// and lengthscales 1.2–2.0, so every entry of each part lies in [0.3, 1.2] and of the product
/// in [0.1, 1.5] (asserted, so the checks below cannot pass on vanishing values). Every x1
/// coordinate exceeds every x2 coordinate and k̄ > 0, so no gradient entry cancels to near 0:
/// each is asserted above 1e-3 in magnitude. Value against the product of the independent
/// references to 1e-14 relative; parameter and x1 gradients against central differences to
/// 1e-6 relative — truncation ~h²|f'''| and rounding ~ε|f|/h are ~1e-11 at unit scale, under
/// 1e-7 of a gradient above 1e-3, while a dropped part of the product rule moves a gradient
/// by O(1).
#[test]
fn product_of_unit_scale_parts_matches_reference_and_differences() {
    let (v_se, ls_se) = (1.2, vec![1.5, 2.0]);
    let (v_32, ls_32) = (0.9, vec![1.8, 1.2]);
    let parts: Vec<Box<dyn Kernel>> = vec![
        Box::new(SquaredExponential::new(v_se, ls_se.clone()).unwrap()),
        Box::new(Matern32::new(v_32, ls_32.clone()).unwrap()),
    ];
    let refs = [
        stationary_ref(v_se, ls_se, g_se),
        stationary_ref(v_32, ls_32, g_m32),
    ];
    let kernel = Product::new(parts.clone()).unwrap();
    let x1 = DMatrix::from_row_slice(3, 2, &[0.1, 0.2, 0.4, -0.1, 0.3, 0.5]);
    let x2 = DMatrix::from_row_slice(2, 2, &[-0.5, -0.6, -0.3, -0.4]);
    let mut rng = StdRng::seed_from_u64(301);
    let k_bar = DMatrix::from_fn(3, 2, |_, _| rng.random_range(0.5..1.5));

    let k = kernel.matrix(&x1, &x2);
    let (r1, r2) = (rows(&x1), rows(&x2));
    for i in 0..3 {
        for j in 0..2 {
            for (p, part) in parts.iter().enumerate() {
                let v = part.matrix(&x1, &x2)[(i, j)];
                assert!((0.3..=1.2).contains(&v), "part {p} ({i},{j}) = {v}");
            }
            let r: f64 = refs.iter().map(|f| f(&r1[i], &r2[j])).product();
            assert!((0.1..=1.5).contains(&r), "product ({i},{j}) = {r}");
            assert!(
                (k[(i, j)] - r).abs() <= 1e-14 * r,
                "({i},{j}): {} vs reference {r}",
                k[(i, j)]
            );
        }
    }

    let check = |what: String, analytic: f64, fd: f64| {
        assert!(fd.abs() > 1e-3, "{what}: {fd:e} is too small to test");
        assert!(
            (analytic - fd).abs() <= 1e-6 * fd.abs(),
            "{what}: analytic {analytic:e} vs finite difference {fd:e}"
        );
    };
    let p0 = kernel.params();
    let names = kernel.param_names();
    let grad = kernel.vjp_params(&x1, &x2, &k_bar);
    assert_eq!(
        (grad.len(), p0.len()),
        (6, 6),
        "two variances, four lengthscales"
    );
    for i in 0..p0.len() {
        let fd = central_diff(&p0, i, &mut |p| weighted_sum(&kernel, p, &x1, &x2, &k_bar));
        check(format!("∂/∂{}", names[i]), grad[i], fd);
    }
    let x1_bar = kernel.vjp_x1(&x1, &x2, &k_bar);
    let flat: Vec<f64> = x1.iter().copied().collect();
    for idx in 0..flat.len() {
        let fd = central_diff(&flat, idx, &mut |v| {
            let x = DMatrix::from_column_slice(3, 2, v);
            kernel.matrix(&x, &x2).component_mul(&k_bar).sum()
        });
        let (i, j) = (idx % 3, idx / 3);
        check(format!("∂/∂x1[{i},{j}]"), x1_bar[(i, j)], fd);
    }
}

/// `+` and `*` build what they denote: `a + b * c` is Sum[a, Product[b, c]] (products bind
/// tighter), chains flatten (`a + b + c` has three parts, so three parts' parameters in order),
/// and the values equal the combinations of the parts' matrices (the same IEEE operations in the
/// same order, so to 1e-15 relative). Parts of different input dimensions are an error from
/// `build`, not a panic.
#[test]
fn kernel_operators_build_sums_and_products() {
    let se = || SquaredExponential::new(1.3, vec![0.7, 1.1]).unwrap();
    let m12 = || Matern12::new(0.6, vec![1.5, 0.9]).unwrap();
    let m32 = || Matern32::new(0.9, vec![0.8, 1.2]).unwrap();
    let (x, z) = inputs(40, 2);
    let expected = se().matrix(&x, &z) + m12().matrix(&x, &z).component_mul(&m32().matrix(&x, &z));
    let k = (se() + m12() * m32()).build().unwrap();
    assert!((k.matrix(&x, &z) - &expected).amax() <= 1e-15 * expected.amax());
    assert_eq!(k.num_params(), 9);
    assert!(
        k.param_names()[3].starts_with("sum[1].product[0]."),
        "{:?}",
        k.param_names()
    );

    let chain = (se() + m12() + m32()).build().unwrap();
    let names = chain.param_names();
    assert_eq!(names.len(), 9);
    assert!(
        names[0].starts_with("sum[0].") && names[8].starts_with("sum[2]."),
        "{names:?}"
    );
    let boxed: Box<dyn Kernel> = Box::new(se());
    let product = (boxed * m12()).build().unwrap();
    let expected = se().matrix(&x, &z).component_mul(&m12().matrix(&x, &z));
    assert!((product.matrix(&x, &z) - &expected).amax() <= 1e-15 * expected.amax());

    let one_dim = SquaredExponential::new(1.0, vec![1.0]).unwrap();
    let err = (se() + one_dim).build().unwrap_err();
    assert!(matches!(err, SvgpError::ShapeMismatch { .. }), "{err}");
}
