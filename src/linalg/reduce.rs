//! Reductions over slices of `f64` written so that they vectorise: eight partial results in a
//! fixed order, run through [`crate::simd::dispatch`], so every path gives the same bits.

use crate::simd::dispatch;

/// Partial results per reduction: one AVX-512 register of f64, two AVX2 ones.
const LANES: usize = 8;

/// Σᵢ aᵢ bᵢ for slices of equal length: lane k sums the products at i ≡ k (mod 8) in order,
/// then the lanes and the tail are added in order.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len(), "dot needs slices of equal length");
    dispatch(
        #[inline(always)]
        || {
            let (xs, ys) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
            let tail: f64 = xs
                .remainder()
                .iter()
                .zip(ys.remainder())
                .map(|(x, y)| x * y)
                .sum();
            let mut acc = [0.0; LANES];
            for (x, y) in xs.zip(ys) {
                for k in 0..LANES {
                    acc[k] += x[k] * y[k];
                }
            }
            acc.iter().sum::<f64>() + tail
        },
    )
}

/// Σᵢ f(xᵢ) over eight lanes, for an `f` that maps every finite value to a finite one.
#[inline(always)]
fn lane_sum(xs: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let chunks = xs.chunks_exact(LANES);
    let tail: f64 = chunks.remainder().iter().map(|&x| f(x)).sum();
    let mut acc = [0.0; LANES];
    for c in chunks {
        for k in 0..LANES {
            acc[k] += f(c[k]);
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// True when no entry is NaN or ±∞ (0·x is ±0 for finite x, NaN otherwise).
pub(crate) fn all_finite(xs: &[f64]) -> bool {
    dispatch(
        #[inline(always)]
        || lane_sum(xs, |x| 0.0 * x) == 0.0,
    )
}

/// True when every entry is ±0 (a NaN or ±∞ entry makes the sum of |x| non-zero).
pub(crate) fn all_zero(xs: &[f64]) -> bool {
    dispatch(
        #[inline(always)]
        || lane_sum(xs, f64::abs) == 0.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_the_sequential_sum_to_rounding() {
        for n in [0, 1, 7, 8, 9, 100, 1001] {
            let a: Vec<f64> = (0..n)
                .map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0)
                .collect();
            let b: Vec<f64> = (0..n)
                .map(|i| ((i * 53 % 97) as f64 - 48.0) / 3.0)
                .collect();
            let direct: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            let scale: f64 = a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum();
            // n products summed in another order: |difference| ≤ 2 n ε Σ|aᵢ bᵢ|.
            let bound = 2.0 * n as f64 * f64::EPSILON * scale;
            assert!((dot(&a, &b) - direct).abs() <= bound, "n = {n}");
        }
    }

    #[test]
    fn finiteness_and_zeros_are_found_in_every_lane_and_the_tail() {
        for n in [1, 8, 13, 64] {
            assert!(
                all_finite(&vec![1e308; n]) && all_zero(&vec![-0.0; n]),
                "n = {n}"
            );
            for at in 0..n {
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    let mut xs = vec![1.0; n];
                    xs[at] = bad;
                    assert!(!all_finite(&xs), "n = {n}, {bad} at {at}");
                }
                for nonzero in [f64::MIN_POSITIVE / 4.0, -1.0, f64::NAN, f64::INFINITY] {
                    let mut xs = vec![0.0; n];
                    xs[at] = nonzero;
                    assert!(!all_zero(&xs), "n = {n}, {nonzero} at {at}");
                }
            }
        }
    }
}
