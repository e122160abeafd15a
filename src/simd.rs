//! Elementwise hot loops compiled for the widest vector unit the CPU has, chosen at run time, and
//! an exponential written so those loops vectorise.
//!
//! A release build targets baseline x86-64 (SSE2, two f64 lanes) so that its binary runs
//! anywhere; [`dispatch`] runs a closure through a copy of it compiled with AVX-512F or AVX2 when
//! the CPU has them. Rust never contracts `a * b + c` into a fused multiply-add on its own and
//! LLVM keeps the order of floating-point sums, so every path performs the same IEEE operations
//! in the same order: results are bitwise the same whichever path runs.

/// Runs `f`, compiled for AVX-512F or AVX2 where the CPU supports them (x86-64), else as is.
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
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { run_avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn run_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn run_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Clears the upper halves of the vector registers (VZEROUPPER) where the CPU has AVX.
///
/// faer's AVX-512 matrix kernels return with those halves dirty. Until they are cleared, every
/// legacy-SSE instruction — all of this crate's code outside [`dispatch`], which a portable
/// build compiles for baseline x86-64 — pays a transition penalty: measured on the 2-core
/// machine, a Student-t fit ran 9× slower (2.3 s against 0.25 s for 300 iterations; README,
/// "What made the iteration lean"). Called after every faer call.
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

/// eˣ for x ≤ 709, within 1 ulp of the correctly rounded value (checked against `f64::exp` in
/// the tests); 0 for x < −708 (where the true value is below 3.3·10⁻³⁰⁸); NaN for NaN.
///
/// Branch-free, so a loop of it vectorises: n = round(x / ln 2) by the 1.5·2⁵² shift,
/// r = x − n ln 2 in two parts (Cody–Waite; n·ln2_hi is exact), eʳ by its Taylor polynomial of
/// degree 13 (remainder below 5·10⁻¹⁸ relative for |r| ≤ ln 2 / 2), times 2ⁿ built in the
/// exponent bits. Every kernel profile calls it with x ≤ 0.
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
    let xc = if x < EXP_FLUSH_BELOW {
        EXP_FLUSH_BELOW
    } else {
        x
    };
    let t = xc * LOG2_E + SHIFT;
    let n = t - SHIFT;
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    let mut p = C[0];
    for c in &C[1..] {
        p = p * r + c;
    }
    let p = (p * r + 1.0) * r + 1.0;
    // t's low mantissa bits hold n + 2⁵¹; move n + 1023 into the exponent field
    let two_n = f64::from_bits(t.to_bits().wrapping_sub(SHIFT.to_bits()).wrapping_add(1023) << 52);
    if x < EXP_FLUSH_BELOW {
        0.0
    } else {
        p * two_n
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

    /// Against the correctly rounded (to within ½ ulp) `f64::exp` of the C library: at most
    /// 1 ulp apart over 10⁶ seeded points of [−708, 709] and 10⁶ of [−40, 0] (the kernels' range).
    #[test]
    fn exp_is_within_one_ulp_of_libm() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut worst = 0;
        for _ in 0..1_000_000 {
            for x in [
                rng.random_range(-708.0..709.0),
                rng.random_range(-40.0..0.0),
            ] {
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
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert!(exp(f64::NAN).is_nan());
        assert!(ulps(exp(709.0), 709f64.exp()) <= 1);
        assert!(ulps(exp(-708.0), (-708f64).exp()) <= 1);
    }

    /// Every vector path this CPU has (AVX-512F, AVX2, and the baseline one [`dispatch`] falls
    /// back to) gives the scalar function's bits for a loop of it.
    #[test]
    fn every_vector_path_matches_scalar_bitwise() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(12);
        let xs: Vec<f64> = (0..4099).map(|_| rng.random_range(-720.0..709.0)).collect();
        let scalar: Vec<u64> = xs.iter().map(|x| exp(*x).to_bits()).collect();
        let run = |path: &str, f: &dyn Fn(&mut Vec<f64>)| {
            let mut v = xs.clone();
            f(&mut v);
            let bits: Vec<u64> = v.iter().map(|e| e.to_bits()).collect();
            assert_eq!(bits, scalar, "{path} path");
        };
        // inlined into each path's copy, so the loop compiles for that path's vector width
        #[inline(always)]
        fn exp_all(v: &mut [f64]) {
            v.iter_mut().for_each(|x| *x = exp(*x));
        }
        run("dispatched", &|v| {
            dispatch(
                #[inline(always)]
                || exp_all(v),
            )
        });
        run("baseline", &|v| exp_all(v));
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 is available, checked just above.
                run("AVX2", &|v| unsafe {
                    run_avx2(
                        #[inline(always)]
                        || exp_all(v),
                    )
                });
            }
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F is available, checked just above.
                run("AVX-512F", &|v| unsafe {
                    run_avx512(
                        #[inline(always)]
                        || exp_all(v),
                    )
                });
            }
        }
    }
}
