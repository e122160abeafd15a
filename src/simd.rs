//! Elementwise hot loops compiled for the widest vector unit the CPU has, chosen at run time, and
//! an exponential written so those loops vectorise.
//!
//! A release build targets baseline x86-64 (SSE2, two f64 lanes) so that its binary runs
//! anywhere; [`dispatch`] runs a closure through a copy of it compiled with AVX-512F or AVX2 and
//! FMA when the CPU has them. Rust never contracts `a * b + c` into a fused multiply-add on its
//! own, the hot loops ask for one explicitly (`f64::mul_add`, one rounding: an FMA instruction in
//! the dispatched copies, the C library's correctly rounded `fma` in the baseline one), and LLVM
//! keeps the order of floating-point sums, so every path performs the same IEEE operations in the
//! same order: results are bitwise the same whichever path runs.

/// Runs `f`, compiled for AVX-512F or AVX2 with FMA where the CPU supports them (x86-64), else
/// as is.
/// Loops in `f` vectorise to the chosen width when `f` is inlined into the dispatched copy: mark
/// the closure and the functions it calls `#[inline(always)]`.
#[inline]
pub(crate) fn dispatch<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { run_avx512(f) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return unsafe { run_avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn run_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Clears the upper halves of the vector registers (VZEROUPPER) where the CPU has AVX.
///
/// faer's AVX-512 matrix kernels return with those halves dirty. Until they are cleared, every
/// legacy-SSE instruction — all of this crate's code outside [`dispatch`], which a portable
/// build compiles for baseline x86-64 — pays a transition penalty: measured on a 2-core Intel
/// Xeon, a Student-t fit (concrete, M = 30, B = 128) took 7.8 ms per iteration against 0.75 ms
/// with the halves cleared. Called after every faer call.
#[inline]
pub(crate) fn clear_upper_state() {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX, checked just above.
        unsafe { zero_upper() }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn zero_upper() {
    std::arch::x86_64::_mm256_zeroupper()
}

/// Below this the exponential flushes to 0: e^−708 ≈ 3.3·10⁻³⁰⁸ is the smallest value the
/// scaling by 2ⁿ keeps normal.
const EXP_FLUSH_BELOW: f64 = -708.0;

/// Above this the exponential overflows (ln f64::MAX ≈ 709.78), so x is clamped here: n stays at
/// 1024 and the scaling below rounds the result to +∞.
const EXP_CLAMP_ABOVE: f64 = 710.0;

/// eˣ within 1 ulp of the correctly rounded value for −708 ≤ x ≤ ln f64::MAX ≈ 709.78 (checked
/// against `f64::exp` in the tests); 0 for x < −708 (where the true value is below
/// 3.3·10⁻³⁰⁸) and for −∞; +∞ above ln f64::MAX and for +∞; NaN for NaN.
///
/// Branch-free, so a loop of it vectorises: n = round(x / ln 2) by the 1.5·2⁵² shift,
/// r = x − n ln 2 in two parts (Cody–Waite; n·ln2_hi is exact), eʳ by its Taylor polynomial of
/// degree 13 (remainder below 5·10⁻¹⁸ relative for |r| ≤ ln 2 / 2) in Horner's scheme of fused
/// multiply-adds (half the instructions of separate ones where the CPU has FMA), times 2ⁿ
/// applied as (2p)·2ⁿ⁻¹, so that n = 1024 (x in (709.09, 710]) still has a finite power of two
/// and the one rounding of the product overflows to +∞ exactly when eˣ does. Every kernel
/// profile calls it with x ≤ 0.
#[inline(always)]
pub(crate) fn exp(x: f64) -> f64 {
    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    // fdlibm's split of ln 2: the high part has 21 trailing zero bits, so n·LN2_HI is exact
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000); // 6.93147180369123816490e-1
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76); // 1.90821492927058770002e-10
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5·2⁵²: adding it rounds to an integer
                                                // 1/k! for k = 13 down to 2
    const C: [f64; 12] = [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
    ];
    let xc = x.clamp(EXP_FLUSH_BELOW, EXP_CLAMP_ABOVE); // NaN stays NaN
    let t = xc.mul_add(LOG2_E, SHIFT);
    let n = t - SHIFT;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, xc));
    let mut p = C[0];
    for c in &C[1..] {
        p = p.mul_add(r, *c);
    }
    let p = p.mul_add(r, 1.0).mul_add(r, 1.0);
    // t's low mantissa bits hold n + 2⁵¹; move n + 1022 (in 1 ..= 2046 for −1021 ≤ n ≤ 1024)
    // into the exponent field. 2p is exact, and (2p)·2ⁿ⁻¹ rounds once, as p·2ⁿ would.
    let two_n_minus_1 =
        f64::from_bits(t.to_bits().wrapping_sub(SHIFT.to_bits()).wrapping_add(1022) << 52);
    if x < EXP_FLUSH_BELOW {
        0.0
    } else {
        (p + p) * two_n_minus_1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// Distance in units in the last place between two positive finite doubles.
    fn ulps(a: f64, b: f64) -> u64 {
        a.to_bits().abs_diff(b.to_bits())
    }

    /// ln f64::MAX: eˣ overflows above it.
    const LN_MAX: f64 = 709.782_712_893_384;

    /// Inputs above ln f64::MAX and the infinite ones, with eˣ there: +∞ above ln f64::MAX and
    /// at +∞, 0 at −∞ (709.5 and just below ln f64::MAX are finite, checked against libm).
    const OVERFLOW_CASES: [(f64, f64); 6] = [
        (709.79, f64::INFINITY),
        (710.0, f64::INFINITY),
        (1e3, f64::INFINITY),
        (1e300, f64::INFINITY),
        (f64::INFINITY, f64::INFINITY),
        (f64::NEG_INFINITY, 0.0),
    ];

    /// Against the correctly rounded (to within ½ ulp) `f64::exp` of the C library: at most
    /// 1 ulp apart over 10⁶ seeded points of [−708, 709], 10⁶ of [−40, 0] (the kernels' range)
    /// and 10⁵ of [709, ln f64::MAX] (where 2ⁿ itself would overflow: n = 1024 above 709.09).
    #[test]
    fn exp_is_within_one_ulp_of_libm() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut worst = 0;
        for k in 0..1_000_000 {
            let mut xs = vec![
                rng.random_range(-708.0..709.0),
                rng.random_range(-40.0..0.0),
            ];
            if k % 10 == 0 {
                xs.push(rng.random_range(709.0..LN_MAX));
            }
            for x in xs {
                let u = ulps(exp(x), x.exp());
                assert!(u <= 1, "exp({x:e}) = {:e}, libm {:e}", exp(x), x.exp());
                worst = worst.max(u);
            }
        }
        assert!(worst <= 1);
    }

    #[test]
    fn exp_edge_values() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-0.0), 1.0);
        assert!(ulps(exp(1.0), std::f64::consts::E) <= 1);
        assert_eq!(exp(-708.5), 0.0);
        assert!(exp(f64::NAN).is_nan());
        assert!(ulps(exp(709.0), 709f64.exp()) <= 1);
        assert!(ulps(exp(-708.0), (-708f64).exp()) <= 1);
    }

    /// Above 709.09 the power of two alone would overflow; up to ln f64::MAX the result is
    /// finite (within 1 ulp of libm), beyond it +∞, as libm gives; −∞ gives 0 and NaN stays NaN.
    #[test]
    fn exp_overflows_to_infinity_exactly_where_libm_does() {
        for x in [709.5, 709.78, LN_MAX] {
            let (got, libm) = (exp(x), x.exp());
            assert!(libm.is_finite() && libm > 1e308, "libm e^{x} = {libm:e}");
            assert!(ulps(got, libm) <= 1, "exp({x}) = {got:e}, libm {libm:e}");
        }
        for (x, expected) in OVERFLOW_CASES {
            assert_eq!(exp(x), expected, "exp({x:e})");
            assert_eq!(x.exp(), expected, "libm e^{x:e}");
        }
        // the first double above ln f64::MAX at which libm overflows: ours overflows there too,
        // and the double before it is the largest finite value within 1 ulp
        let mut x = LN_MAX;
        while x.exp().is_finite() {
            x = x.next_up();
        }
        assert_eq!(exp(x), f64::INFINITY, "exp({x:e})");
        let below = x.next_down();
        assert!(exp(below).is_finite() && ulps(exp(below), below.exp()) <= 1);
        assert!(exp(f64::NAN).is_nan());
    }

    /// `exp` over `xs` by every vector path this CPU has (AVX-512F, AVX2 with FMA, the baseline one
    /// [`dispatch`] falls back to, and whichever `dispatch` picks), each loop compiled for its
    /// path's vector width.
    fn exp_by_every_path(xs: &[f64]) -> Vec<(&'static str, Vec<f64>)> {
        // inlined into each path's copy, so the loop compiles for that path's vector width
        #[inline(always)]
        fn exp_all(v: &mut [f64]) {
            v.iter_mut().for_each(|x| *x = exp(*x));
        }
        let run = |f: &dyn Fn(&mut Vec<f64>)| {
            let mut v = xs.to_vec();
            f(&mut v);
            v
        };
        let mut out = vec![
            (
                "dispatched",
                run(&|v| {
                    dispatch(
                        #[inline(always)]
                        || exp_all(v),
                    )
                }),
            ),
            ("baseline", run(&|v| exp_all(v))),
        ];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: AVX2 and FMA are available, checked just above.
                let v = run(&|v| unsafe {
                    run_avx2(
                        #[inline(always)]
                        || exp_all(v),
                    )
                });
                out.push(("AVX2", v));
            }
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F is available, checked just above.
                let v = run(&|v| unsafe {
                    run_avx512(
                        #[inline(always)]
                        || exp_all(v),
                    )
                });
                out.push(("AVX-512F", v));
            }
        }
        out
    }

    /// Every vector path gives the scalar function's bits for a loop of it, over [−720, 720]
    /// (both flush and overflow ranges) and the non-finite inputs.
    #[test]
    fn every_vector_path_matches_scalar_bitwise() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(12);
        let mut xs: Vec<f64> = (0..4099).map(|_| rng.random_range(-720.0..720.0)).collect();
        xs.extend([f64::INFINITY, f64::NEG_INFINITY, 709.5, 1e3, -1e3]);
        let scalar: Vec<u64> = xs.iter().map(|x| exp(*x).to_bits()).collect();
        for (path, v) in exp_by_every_path(&xs) {
            let bits: Vec<u64> = v.iter().map(|e| e.to_bits()).collect();
            assert_eq!(bits, scalar, "{path} path");
        }
    }

    /// The vectorised loops (every path, at every lane position: each case is repeated across
    /// 17 slots, more than one AVX-512 vector plus a remainder) give +∞ above ln f64::MAX and at
    /// +∞, 0 at −∞, NaN for NaN, and 709.5 finite and within 1 ulp of libm.
    #[test]
    fn vector_paths_overflow_to_infinity_and_keep_nan() {
        let mut cases = OVERFLOW_CASES.to_vec();
        cases.push((709.5, 709.5f64.exp()));
        cases.push((f64::NAN, f64::NAN));
        for (x, expected) in cases {
            let xs: Vec<f64> = (0..17)
                .map(|k| if k % 3 == 0 { x } else { -1.0 - k as f64 })
                .collect();
            for (path, v) in exp_by_every_path(&xs) {
                for (k, got) in v.iter().enumerate() {
                    if k % 3 != 0 {
                        assert!(ulps(*got, (-1.0 - k as f64).exp()) <= 1, "{path} slot {k}");
                    } else if expected.is_nan() {
                        assert!(got.is_nan(), "{path}: exp(NaN) = {got:e}");
                    } else if expected.is_finite() && expected > 0.0 {
                        assert!(ulps(*got, expected) <= 1, "{path}: exp({x}) = {got:e}");
                    } else {
                        assert_eq!(*got, expected, "{path}: exp({x:e}) slot {k}");
                    }
                }
            }
        }
    }
}
