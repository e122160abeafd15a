//! Residual and oracle checks for the linear-algebra layer. Tolerances are residual bounds of the
//! form c·n·ε·‖A‖ (faer's own tests use 8·n·ε), which a wrong triangle or a transposed solve
//! misses by orders of magnitude.

use super::*;
use num_dual::Dual64;

/// A deterministic SPD matrix: B Bᵀ + n I with B from a simple congruential sequence.
fn spd(n: usize, seed: u64) -> DMatrix<f64> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let b = DMatrix::from_fn(n, n, |_, _| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    });
    let mut a = &b * b.transpose() + DMatrix::identity(n, n) * (n as f64);
    symmetrise_in_place(&mut a);
    a
}

fn max_abs(a: &DMatrix<f64>) -> f64 {
    a.iter().fold(0.0, |m, x| m.max(x.abs()))
}

#[test]
fn cholesky_reconstructs_and_is_lower_triangular() {
    // n = 1000 takes faer's parallel factorisation (N ≥ 966) wherever rayon has two threads.
    for n in [1, 2, 7, 64, 300, 1000] {
        let a = spd(n, n as u64);
        let l = cholesky(&a, "A", Parallelism::default()).unwrap();
        let resid = max_abs(&(&l * l.transpose() - &a));
        assert!(
            resid <= 8.0 * n as f64 * f64::EPSILON * max_abs(&a),
            "n={n}: {resid:e}"
        );
        assert!((0..n).all(|i| l[(i, i)] > 0.0));
        assert!((1..n).all(|j| (0..j).all(|i| l[(i, j)] == 0.0)));
    }
}

#[test]
fn cholesky_names_the_failing_pivot_and_the_jitter() {
    let mut a = DMatrix::identity(4, 4);
    a[(2, 2)] = -1.0;
    assert_eq!(
        cholesky(&a, "Kuu", Parallelism::default()),
        Err(SvgpError::NotPositiveDefinite {
            matrix: "Kuu",
            pivot: 2,
            jitter: 0.0
        })
    );
    a[(2, 2)] = 1.0;
    a[(3, 1)] = f64::NAN;
    assert!(matches!(
        cholesky(&a, "Kuu", Parallelism::default()),
        Err(SvgpError::NotPositiveDefinite { pivot: 1, .. })
    ));
    // A rank-one PSD matrix fails bare and succeeds with the jitter the caller asks for.
    let v = DMatrix::from_column_slice(3, 1, &[1.0, 2.0, 3.0]);
    let singular = &v * v.transpose();
    assert!(matches!(
        cholesky(&singular, "K", Parallelism::default()),
        Err(SvgpError::NotPositiveDefinite { pivot: 1, .. })
    ));
    let l = cholesky_with_jitter(&singular, 1e-6, "K", Parallelism::default()).unwrap();
    let expected = singular + DMatrix::identity(3, 3) * 1e-6;
    assert!(max_abs(&(&l * l.transpose() - expected)) < 1e-13);
    let mut negative = DMatrix::identity(2, 2);
    negative[(1, 1)] = -1.0;
    assert_eq!(
        cholesky_with_jitter(&negative, 1e-6, "K", Parallelism::default()),
        Err(SvgpError::NotPositiveDefinite {
            matrix: "K",
            pivot: 1,
            jitter: 1e-6
        })
    );
}

#[test]
fn triangular_solves_leave_small_residuals() {
    let n = 50;
    let l = cholesky(&spd(n, 9), "A", Parallelism::default()).unwrap();
    let b = DMatrix::from_fn(n, 13, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
    let mut x = b.clone();
    solve_lower_in_place(&l, &mut x, Parallelism::default());
    let bound = 8.0 * n as f64 * f64::EPSILON * max_abs(&l) * max_abs(&x);
    assert!(max_abs(&(&l * &x - &b)) <= bound);
    let mut y = b.clone();
    solve_lower_transpose_in_place(&l, &mut y, Parallelism::default());
    assert!(
        max_abs(&(l.transpose() * &y - &b))
            <= 8.0 * n as f64 * f64::EPSILON * max_abs(&l) * max_abs(&y)
    );
    // the two solves differ, so confusing them fails the residual by O(1)
    assert!(max_abs(&(&x - &y)) > 1e-3);
}

/// `out` += A B against the plain product added (faer sequential at 20×30×7, on rayon's threads at
/// 300×400×300; the dual numbers' default), to rounding of the K-term sums.
#[test]
fn accumulated_products_match_the_plain_sum() {
    for (r, k, c) in [(20, 30, 7), (300, 400, 300)] {
        let (a, b, c0) = (dense(r, k, 1), dense(k, c, 2), dense(r, c, 3));
        let mut out = c0.clone();
        matmul_add_into(&a, &b, &mut out, Parallelism::default());
        let direct = &c0 + &a * &b;
        let bound = 8.0 * k as f64 * f64::EPSILON * (1.0 + 0.25 * k as f64);
        assert!(max_abs(&(&out - &direct)) <= bound, "{r}×{k}×{c}");
        let mut dual = c0.map(Dual64::from);
        matmul_add_into(
            &a.map(Dual64::from),
            &b.map(Dual64::from),
            &mut dual,
            Parallelism::default(),
        );
        assert!(
            max_abs(&(dual.map(|d| d.re) - &direct)) <= bound,
            "{r}×{k}×{c}, dual"
        );
    }
}

/// X L = B from the right, on faer's transposed view (sequential at N = 50, on rayon's threads
/// at N = 400, K = 400: N²K ≥ 5·10⁷) and by the dual numbers' default (transpositions around
/// Lᵀ Xᵀ = Bᵀ); and sym(L⁻ᵀ X L⁻¹) against products with L⁻¹, exactly symmetric.
#[test]
fn right_solves_and_inverse_congruences_leave_small_residuals() {
    for (n, k) in [(50, 13), (400, 400)] {
        let l = cholesky(&spd(n, 9), "A", Parallelism::default()).unwrap();
        let b = dense(k, n, 3);
        let mut x = b.clone();
        solve_right_lower_in_place(&l, &mut x, Parallelism::default());
        let bound = 8.0 * n as f64 * f64::EPSILON * max_abs(&l) * max_abs(&x);
        assert!(max_abs(&(&x * &l - &b)) <= bound, "N = {n}");
        let mut xd = b.map(Dual64::from);
        solve_right_lower_in_place(&l.map(Dual64::from), &mut xd, Parallelism::default());
        assert!(max_abs(&(xd.map(|d| d.re) - &x)) <= bound, "N = {n}, dual");

        let sym = spd(n, 4);
        let mut c = sym.clone();
        inverse_congruence_in_place(&l, &mut c, Parallelism::default());
        let linv = lower_inverse(&l, Parallelism::default());
        let direct = linv.transpose() * &sym * &linv;
        let scale = max_abs(&linv).powi(2) * max_abs(&sym);
        assert!(
            max_abs(&(&c - &direct)) <= 8.0 * n as f64 * f64::EPSILON * scale,
            "N = {n}"
        );
        assert_eq!(c, c.transpose());
    }
}

#[test]
fn inverses_from_factors() {
    // n = 460 takes the parallel triangular inverse (N ≥ 449) wherever rayon has two threads,
    // n = 40 the sequential one.
    for n in [40, 460] {
        let a = spd(n, 4);
        let l = cholesky(&a, "A", Parallelism::default()).unwrap();
        let inv = spd_inverse_from_factor(&l, Parallelism::default());
        let eye = DMatrix::<f64>::identity(n, n);
        assert!(max_abs(&(&inv * &a - &eye)) < 100.0 * n as f64 * f64::EPSILON);
        assert_eq!(inv, inv.transpose());
        // chol(P⁻¹) without forming P⁻¹: lower, positive diagonal, and (L Lᵀ) P = I.
        let lc = cholesky_of_inverse(&a, "P", Parallelism::default()).unwrap();
        let lower = (1..n).all(|j| (0..j).all(|i| lc[(i, j)] == 0.0));
        assert!(lower && (0..n).all(|i| lc[(i, i)] > 0.0), "n={n}");
        let resid = max_abs(&(outer_factor(&lc, Parallelism::default()) * &a - &eye));
        assert!(resid < 100.0 * n as f64 * f64::EPSILON, "n={n}: {resid:e}");
    }
    let n = 40;
    let a = spd(n, 4);
    let mut bad = a.clone();
    bad[(n - 1, n - 1)] = -1.0;
    assert!(
        matches!(cholesky_of_inverse(&bad, "P", Parallelism::default()), Err(SvgpError::NotPositiveDefinite { pivot, .. }) if pivot == n - 1)
    );
}

#[test]
fn phi_log_det_and_symmetrise() {
    let x = DMatrix::from_row_slice(2, 2, &[2.0, 3.0, 4.0, 6.0]);
    assert_eq!(
        phi(x.clone()),
        DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 4.0, 3.0])
    );
    let a = spd(6, 2);
    let l = cholesky(&a, "A", Parallelism::default()).unwrap();
    let from_eigen: f64 = a
        .clone()
        .symmetric_eigen()
        .eigenvalues
        .iter()
        .map(|v| v.ln())
        .sum();
    assert!((log_det_from_factor(&l) - from_eigen).abs() < 1e-12 * from_eigen.abs());
    let mut s = x.clone();
    symmetrise_in_place(&mut s);
    assert_eq!(s, DMatrix::from_row_slice(2, 2, &[2.0, 3.5, 3.5, 6.0]));
}

/// The dual-number Cholesky carries the closed-form tangent dL = L Φ(L⁻¹ V L⁻ᵀ) (MATH.md §3),
/// and its real part equals faer's factor to rounding.
#[test]
fn dual_cholesky_matches_faer_and_the_tangent_rule() {
    let n = 12;
    let a = spd(n, 5);
    let mut v = spd(n, 6) - DMatrix::identity(n, n) * 3.0;
    symmetrise_in_place(&mut v);
    let dual = a.zip_map(&v, Dual64::new);
    let ld = cholesky(&dual, "A", Parallelism::default()).unwrap();
    let l = cholesky(&a, "A", Parallelism::default()).unwrap();
    let re = ld.map(|d| d.re);
    assert!(max_abs(&(&re - &l)) < 1e-13 * max_abs(&l));
    let linv = lower_inverse(&l, Parallelism::default());
    let dl = &l * phi(&linv * &v * linv.transpose());
    let eps = ld.map(|d| d.eps);
    assert!(
        max_abs(&(&eps - &dl)) < 1e-12 * max_abs(&dl),
        "{:e}",
        max_abs(&(&eps - &dl))
    );
    // and the dual Cholesky names its failing pivot too
    let mut bad = dual.clone();
    bad[(3, 3)] = Dual64::from(-1.0);
    assert!(matches!(
        cholesky(&bad, "A", Parallelism::default()),
        Err(SvgpError::NotPositiveDefinite { pivot: 3, .. })
    ));
}

/// A deterministic N×K matrix with entries in [−0.5, 0.5).
fn dense(n: usize, k: usize, seed: u64) -> DMatrix<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    DMatrix::from_fn(n, k, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    })
}

/// Every structured product (faer's triangular kernels) against the plain dense formula, at
/// sizes below and above faer's blocking (7, 70, 300). Entries are sums of at most K products of
/// numbers ≤ 1 in size, so the rounding bound is K·ε·max|A|·max|B|·K; 4·K²·ε leaves that room and
/// still fails by orders of magnitude for a wrong triangle or transpose.
#[test]
fn structured_products_match_dense_formulas() {
    for (n, k) in [(7, 5), (70, 33), (300, 257)] {
        let tol = 4.0 * (n.max(k) as f64).powi(2) * f64::EPSILON;
        let mut l = dense(n, n, 1);
        zero_upper_in_place(&mut l);
        let b = dense(n, k, 2);
        let c = dense(n, k, 3);
        let w = dense(k, 1, 4).column(0).into_owned();
        let close = |x: &DMatrix<f64>, y: &DMatrix<f64>| max_abs(&(x - y)) <= tol;
        assert!(
            close(
                &lower_tr_mul(&l, &b, Parallelism::default()),
                &(l.transpose() * &b)
            ),
            "n={n}: Lᵀ B"
        );
        // the `_into` forms into buffers of stale entries (as reused buffers hold) and of a wrong
        // shape: the same result as into fresh ones, the stale upper triangle cleared
        let mut stale = DMatrix::from_element(n, k, f64::NAN);
        lower_mul_into(&l, &b, &mut stale, Parallelism::default());
        assert!(close(&stale, &(&l * &b)), "n={n}: L B");
        let mut lower = DMatrix::from_element(n, n, f64::NAN);
        lower_of_matmul_nt_into(&b, &c, &mut lower, Parallelism::default());
        assert_eq!(
            lower,
            lower_of_matmul_nt(&b, &c, Parallelism::default()),
            "n={n}: tril(B Cᵀ) into a reused buffer"
        );
        let mut full = &b * c.transpose();
        zero_upper_in_place(&mut full);
        assert!(close(&lower, &full), "n={n}: tril(B Cᵀ)");
        let mut wrong_shape = DMatrix::from_element(2, 3, f64::NAN);
        lower_tr_mul_into(&l, &b, &mut wrong_shape, Parallelism::default());
        assert_eq!(
            wrong_shape,
            lower_tr_mul(&l, &b, Parallelism::default()),
            "n={n}: Lᵀ B into a buffer of another shape"
        );
        // the symmetric rank-k update B diag(w) Bᵀ: lower half, then mirrored
        let bw = DMatrix::from_fn(n, k, |i, j| b[(i, j)] * w[j]);
        let mut syrk = lower_of_matmul_nt(&bw, &b, Parallelism::default());
        mirror_lower_in_place(&mut syrk);
        assert_eq!(
            syrk,
            syrk.transpose(),
            "n={n}: mirrored result is symmetric"
        );
        assert!(
            close(&syrk, &(&b * DMatrix::from_diagonal(&w) * b.transpose())),
            "n={n}: syrk"
        );
        assert!(
            close(
                &outer_factor(&l, Parallelism::default()),
                &(&l * l.transpose())
            ),
            "n={n}: L Lᵀ"
        );
        // the generic (dual-number) default gives the same products
        let ld = l.map(Dual64::from);
        let bd = b.map(Dual64::from);
        let generic = lower_tr_mul(&ld, &bd, Parallelism::default()).map(|d| d.re);
        assert!(
            close(&generic, &lower_tr_mul(&l, &b, Parallelism::default())),
            "n={n}: dual default"
        );
    }
    // the triangular inverse: L L⁻¹ = I for a well-conditioned L (unit-ish diagonal)
    for n in [1, 9, 150] {
        let mut l = dense(n, n, 5) * (1.0 / n as f64);
        zero_upper_in_place(&mut l);
        for i in 0..n {
            l[(i, i)] = 1.0 + l[(i, i)].abs();
        }
        let inv = lower_inverse(&l, Parallelism::default());
        assert!((1..n).all(|j| (0..j).all(|i| inv[(i, j)] == 0.0)));
        let eye = DMatrix::<f64>::identity(n, n);
        assert!(
            max_abs(&(&l * &inv - eye)) <= 8.0 * n as f64 * f64::EPSILON,
            "n={n}"
        );
    }
}

/// The tiled in-place transpose, mirror and symmetrise against nalgebra's transpose, exactly,
/// at sizes that end inside, on and past a 32×32 tile; and chol(P⁻¹) across tiles.
#[test]
fn tiled_in_place_ops_match_plain_transposes() {
    for n in [1, 31, 32, 33, 70, 100] {
        let a = dense(n, n, n as u64);
        let mut t = a.clone();
        transpose_in_place(&mut t);
        assert_eq!(t, a.transpose(), "n={n}: transpose");
        let mut m = a.clone();
        mirror_lower_in_place(&mut m);
        let lower = DMatrix::from_fn(n, n, |i, j| a[(i.max(j), i.min(j))]);
        assert_eq!(m, lower, "n={n}: mirror");
        let mut s = a.clone();
        symmetrise_in_place(&mut s);
        let half = DMatrix::from_fn(n, n, |i, j| {
            let (hi, lo) = (i.max(j), i.min(j));
            if hi == lo {
                a[(hi, lo)]
            } else {
                (a[(hi, lo)] + a[(lo, hi)]) * 0.5
            }
        });
        assert_eq!(s, half, "n={n}: symmetrise");
    }
    let (n, eye) = (70, DMatrix::<f64>::identity(70, 70));
    let a = spd(n, 9);
    let lc = cholesky_of_inverse(&a, "P", Parallelism::default()).unwrap();
    assert!((1..n).all(|j| (0..j).all(|i| lc[(i, j)] == 0.0)));
    assert!(
        max_abs(&(outer_factor(&lc, Parallelism::default()) * &a - &eye))
            < 100.0 * n as f64 * f64::EPSILON
    );
}

/// The solve and the Gram product in two column halves: the unsplit solve's and product's
/// values to c·n·ε (they differ only in the order of rounding), bitwise the same joined or one
/// after the other, and a Gram product with a strict upper triangle of zeros even in buffers
/// that held something else. B odd and B = 1 split unevenly; B = 0 leaves an empty half.
#[test]
fn halves_match_the_whole_and_do_not_depend_on_joining() {
    for (m, b) in [(30, 64), (30, 65), (7, 1), (5, 0)] {
        let l = cholesky(&spd(m, 9), "A", Parallelism::default()).unwrap();
        let a = dense(m, b, 3);
        let mut whole = a.clone();
        solve_lower_in_place(&l, &mut whole, Parallelism::default());
        let mut parts = [a.clone(), a.clone()];
        for (p, join) in parts.iter_mut().zip([false, true]) {
            solve_lower_in_column_halves(&l, p, join);
        }
        assert_eq!(parts[0], parts[1], "M = {m}, B = {b}");
        let tol = 8.0 * m as f64 * f64::EPSILON * max_abs(&whole).max(1.0);
        assert!(max_abs(&(&parts[0] - &whole)) <= tol, "M = {m}, B = {b}");
        let direct = lower_of_matmul_nt(&whole, &whole, Parallelism::default());
        let mut grams = [DMatrix::from_element(m, m, 7.0), DMatrix::zeros(1, 1)];
        for (g, join) in grams.iter_mut().zip([false, true]) {
            let mut scratch = DMatrix::from_element(m, m, -3.0);
            lower_gram_in_column_halves(&whole, g, &mut scratch, join);
        }
        assert_eq!(grams[0], grams[1], "M = {m}, B = {b}");
        let tol = 8.0 * b.max(1) as f64 * f64::EPSILON * max_abs(&direct).max(1.0);
        assert!(max_abs(&(&grams[0] - &direct)) <= tol, "M = {m}, B = {b}");
    }
}
