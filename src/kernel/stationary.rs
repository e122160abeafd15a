//! Stationary ARD kernels k(x, z) = σ² g(r²), r² = Σ_d (x_d − z_d)²/ℓ_d² (MATH.md §4).
//!
//! One generic [`Stationary`] carries the parameters and the bulk loops; a zero-sized [`Profile`]
//! supplies g and dg/d(r²), so each kernel is monomorphised and no call is virtual per entry.
//! Aliases: [`SquaredExponential`], [`Matern12`], [`Matern32`], [`Matern52`].

use super::{bulk, Kernel, KernelFamily, KernelSpec};
use crate::error::{check_shape, Result, Shape, SvgpError};
use crate::parallel::Parallelism;
use crate::transform::{check_finite, Positive};
use nalgebra::{DMatrix, DVector};
use std::fmt::Debug;
use std::marker::PhantomData;

/// The radial profile g of a stationary kernel, as a function of the scaled squared distance r².
///
/// Every profile has the form g(r²) = p(r²)·e^{a(r²)} with an exponent a ≤ 0: a profile gives
/// a, and g and dg/d(r²) from r² and e = e^{a}. The exponential is the crate's vectorisable one,
/// so the kernels' bulk loops run at the CPU's vector width (see `crate::simd`); `g`, `dg` and
/// `g_dg` are built from the same parts and agree with the bulk loops bit for bit.
///
/// Invariants: g(0) = 1; `g` and `dg` are finite for every finite r² ≥ 0 (where g′ is unbounded
/// at r² = 0, `dg(0.0)` returns a finite subgradient; see [`Matern12Profile`]).
pub trait Profile: Debug + Clone + Copy + Default + Send + Sync + 'static {
    /// The family's name in model files and on the command line.
    const FAMILY: KernelFamily;
    /// c with dg/d(r²) = c·g for every r², when the profile has one (the squared exponential:
    /// c = −½): a VJP given K then needs neither r² nor the exponential.
    const DG_OVER_G: Option<f64> = None;
    /// The exponent a(r²) ≤ 0.
    fn exponent(r2: f64) -> f64;
    /// g(r²) from r² and e = e^{a(r²)}.
    fn g_given(r2: f64, e: f64) -> f64;
    /// dg/d(r²) from r² and e = e^{a(r²)}.
    fn dg_given(r2: f64, e: f64) -> f64;
    /// g(r²).
    #[inline(always)]
    fn g(r2: f64) -> f64 {
        Self::g_given(r2, crate::simd::exp(Self::exponent(r2)))
    }
    /// dg/d(r²).
    #[inline(always)]
    fn dg(r2: f64) -> f64 {
        Self::dg_given(r2, crate::simd::exp(Self::exponent(r2)))
    }
    /// (g(r²), dg/d(r²)) together, sharing the exponential; equal to (`g`, `dg`) bit for bit.
    #[inline(always)]
    fn g_dg(r2: f64) -> (f64, f64) {
        let e = crate::simd::exp(Self::exponent(r2));
        (Self::g_given(r2, e), Self::dg_given(r2, e))
    }
}

/// Squared exponential: g = exp(−r²/2), dg/dr² = −g/2.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeProfile;

impl Profile for SeProfile {
    const FAMILY: KernelFamily = KernelFamily::SquaredExponential;
    const DG_OVER_G: Option<f64> = Some(-0.5);

    #[inline(always)]
    fn exponent(r2: f64) -> f64 {
        -0.5 * r2
    }
    #[inline(always)]
    fn g_given(_r2: f64, e: f64) -> f64 {
        e
    }
    #[inline(always)]
    fn dg_given(_r2: f64, e: f64) -> f64 {
        -0.5 * e
    }
}

/// Matérn ½ (exponential): g = exp(−r), dg/dr² = −exp(−r)/(2r).
///
/// dg/dr² is infinite at r = 0. Every use of it there is multiplied by some (x_d − z_d) = 0, so
/// `dg(0.0)` returns 0: the gradient treats coincident points as contributing nothing (a
/// subgradient choice; k is not differentiable in x or ℓ at r = 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Matern12Profile;

impl Profile for Matern12Profile {
    const FAMILY: KernelFamily = KernelFamily::Matern12;

    #[inline(always)]
    fn exponent(r2: f64) -> f64 {
        -r2.sqrt()
    }
    #[inline(always)]
    fn g_given(_r2: f64, e: f64) -> f64 {
        e
    }
    #[inline(always)]
    fn dg_given(r2: f64, e: f64) -> f64 {
        if r2 == 0.0 {
            0.0
        } else {
            -e / (2.0 * r2.sqrt())
        }
    }
}

/// Matérn 3/2: g = (1 + √3 r) e^{−√3 r}, dg/dr² = −(3/2) e^{−√3 r}.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Matern32Profile;

impl Profile for Matern32Profile {
    const FAMILY: KernelFamily = KernelFamily::Matern32;

    #[inline(always)]
    fn exponent(r2: f64) -> f64 {
        -(3.0 * r2).sqrt()
    }
    #[inline(always)]
    fn g_given(r2: f64, e: f64) -> f64 {
        (1.0 + (3.0 * r2).sqrt()) * e
    }
    #[inline(always)]
    fn dg_given(_r2: f64, e: f64) -> f64 {
        -1.5 * e
    }
}

/// Matérn 5/2: g = (1 + √5 r + 5r²/3) e^{−√5 r}, dg/dr² = −(5/6)(1 + √5 r) e^{−√5 r}.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Matern52Profile;

impl Profile for Matern52Profile {
    const FAMILY: KernelFamily = KernelFamily::Matern52;

    #[inline(always)]
    fn exponent(r2: f64) -> f64 {
        -(5.0 * r2).sqrt()
    }
    #[inline(always)]
    fn g_given(r2: f64, e: f64) -> f64 {
        let s = (5.0 * r2).sqrt();
        (1.0 + s + s * s / 3.0) * e
    }
    #[inline(always)]
    fn dg_given(r2: f64, e: f64) -> f64 {
        -(5.0 / 6.0) * (1.0 + (5.0 * r2).sqrt()) * e
    }
}

/// Squared-exponential (RBF) kernel with ARD lengthscales.
pub type SquaredExponential = Stationary<SeProfile>;
/// Matérn ½ (exponential) kernel with ARD lengthscales.
pub type Matern12 = Stationary<Matern12Profile>;
/// Matérn 3/2 kernel with ARD lengthscales.
pub type Matern32 = Stationary<Matern32Profile>;
/// Matérn 5/2 kernel with ARD lengthscales.
pub type Matern52 = Stationary<Matern52Profile>;

/// k(x, z) = σ² g(r²), r² = Σ_d (x_d − z_d)²/ℓ_d², with ARD lengthscales ℓ (length D ≥ 1).
///
/// σ² and every ℓ_d are stored unconstrained through one [`Positive`] transform. Parameter order
/// (1 + D entries): `variance`, `lengthscale[0]`, …, `lengthscale[D-1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stationary<P: Profile> {
    /// Unconstrained p with σ² = transform.forward(p).
    variance: f64,
    /// Unconstrained pₗ with ℓ_d = transform.forward(pₗ[d]), length D.
    lengthscales: Vec<f64>,
    transform: Positive,
    profile: PhantomData<P>,
}

impl<P: Profile> Stationary<P> {
    /// A kernel with constrained `variance` σ² and `lengthscales` ℓ (length D ≥ 1), using the
    /// default transform (softplus with floor 1e-6, [`super::default_transform`]).
    ///
    /// # Errors
    /// `InvalidParameter` naming `variance` or `lengthscale[d]` if a value is not finite or not
    /// above the floor, or naming `lengthscales` if ℓ is empty.
    pub fn new(variance: f64, lengthscales: Vec<f64>) -> Result<Self> {
        Self::with_transform(variance, lengthscales, super::default_transform())
    }

    /// As [`Stationary::new`], with the given transform for every parameter (for example
    /// `Positive::with_floor(0.0)`, plain softplus, for GPflow parity).
    ///
    /// # Errors
    /// As [`Stationary::new`]; also `InvalidParameter` naming `floor` if the transform's floor is
    /// negative or not finite.
    pub fn with_transform(
        variance: f64,
        lengthscales: Vec<f64>,
        transform: Positive,
    ) -> Result<Self> {
        if !(transform.floor.is_finite() && transform.floor >= 0.0) {
            return Err(SvgpError::InvalidParameter {
                name: "floor".to_string(),
                value: transform.floor,
                reason: "transform floor must be finite and non-negative",
            });
        }
        if lengthscales.is_empty() {
            return Err(SvgpError::InvalidParameter {
                name: "lengthscales".to_string(),
                value: 0.0,
                reason: "at least one lengthscale (input dimension) is required",
            });
        }
        let variance = transform.inverse("variance", variance)?;
        let lengthscales = lengthscales
            .iter()
            .enumerate()
            .map(|(d, &l)| transform.inverse(&format!("lengthscale[{d}]"), l))
            .collect::<Result<Vec<_>>>()?;
        Ok(Stationary {
            variance,
            lengthscales,
            transform,
            profile: PhantomData,
        })
    }

    /// Constrained variance σ² (> floor).
    pub fn variance(&self) -> f64 {
        self.transform.forward(self.variance)
    }

    /// Constrained lengthscales ℓ, length D (each > floor).
    pub fn lengthscales(&self) -> Vec<f64> {
        self.lengthscales
            .iter()
            .map(|&p| self.transform.forward(p))
            .collect()
    }

    /// The transform mapping the stored unconstrained values to σ² and ℓ.
    pub fn transform(&self) -> Positive {
        self.transform
    }

    /// One VJP pass over k(x1, x2) (`x1`: N1×D, `x2`: N2×D, `k_bar`: N1×N2): r², g and g′ once
    /// per entry, giving both Σ k̄ ∂K/∂p (length 1 + D) and X̄₁ (N1×D). Given K (N1×N2) and a
    /// profile with g′ = c·g, g and g′ come from K and r² is not formed.
    fn vjp_both(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k: Option<&DMatrix<f64>>,
        k_bar: &DMatrix<f64>,
        par: Parallelism,
    ) -> (DVector<f64>, DMatrix<f64>) {
        debug_assert_eq!(
            k_bar.shape(),
            (x1.nrows(), x2.nrows()),
            "k_bar must be N1×N2"
        );
        debug_assert!(
            k.is_none_or(|k| k.shape() == k_bar.shape()),
            "K must be N1×N2"
        );
        let (n1, dim) = (x1.nrows(), x1.ncols());
        let ls = self.lengthscales();
        let var = self.variance();
        if n1 == 0 {
            return (DVector::zeros(self.num_params()), DMatrix::zeros(0, dim));
        }
        let inputs = VjpInputs {
            x1,
            x2,
            ls: &ls,
            var,
            k,
            k_bar,
        };
        let partials = bulk::map_chunks(n1, x2.nrows(), par, |j0, cols| {
            crate::simd::dispatch(
                #[inline(always)]
                || Self::vjp_chunk(&inputs, j0, cols),
            )
        });
        let mut total = vec![0.0; 1 + dim + n1 * dim];
        for p in &partials {
            total.iter_mut().zip(p).for_each(|(t, v)| *t += v);
        }
        let mut grad = DVector::zeros(self.num_params());
        grad[0] = total[0] * self.transform.derivative(self.variance); // Σ k̄ g · dσ²/dp
        let mut x1_bar = DMatrix::from_column_slice(n1, dim, &total[1 + dim..]); // N1×D
        for (d, &l) in ls.iter().enumerate() {
            // ∂r²/∂ℓ_d = −2 (x_d − z_d)²/ℓ_d³, then dℓ_d/dp
            grad[1 + d] =
                -2.0 * total[1 + d] / (l * l * l) * self.transform.derivative(self.lengthscales[d]);
            x1_bar.column_mut(d).scale_mut(2.0 / (l * l)); // ∂r²/∂x1ᵢd = 2 (x1ᵢd − x2ⱼd)/ℓ_d²
        }
        (grad, x1_bar)
    }

    /// The VJP sums of the columns j0..j0 + cols of k(x1, x2), laid out as
    /// [Σ k̄ g, then for each d Σ wᵢⱼ (x1ᵢd − x2ⱼd)², then X̄₁ before scaling (N1×D)] with
    /// w = k̄ σ² g′. Shapes as [`Stationary::vjp_both`].
    #[inline(always)]
    fn vjp_chunk(inputs: &VjpInputs, j0: usize, cols: usize) -> Vec<f64> {
        let VjpInputs {
            x1,
            x2,
            ls,
            var,
            k,
            k_bar,
        } = *inputs;
        let (n1, dim) = (x1.nrows(), x1.ncols());
        let mut out = vec![0.0; 1 + dim + n1 * dim];
        let mut w = vec![0.0; n1 * cols]; // N1×cols: k̄ σ² g′
        let block = j0 * n1..(j0 + cols) * n1;
        let kb = &k_bar.as_slice()[block.clone()];
        // per-row partial sums: the loops run down columns and vectorise
        let mut row_acc = vec![0.0; n1];
        if let (Some(c), Some(k)) = (P::DG_OVER_G, k) {
            // σ² g = K and σ² g′ = c K
            let kc = &k.as_slice()[block];
            for ((wj, kbj), kj) in w
                .chunks_exact_mut(n1)
                .zip(kb.chunks_exact(n1))
                .zip(kc.chunks_exact(n1))
            {
                for (((wij, &kbij), &kij), a) in
                    wj.iter_mut().zip(kbj).zip(kj).zip(row_acc.iter_mut())
                {
                    *a += kbij * kij;
                    *wij = c * kbij * kij;
                }
            }
            out[0] = row_acc.iter().sum::<f64>() / var; // Σ k̄ g = Σ k̄ K / σ²
        } else {
            bulk::sq_dist_block(x1, x2, ls, j0, 0, &mut w); // r² for now
            for (wj, kbj) in w.chunks_exact_mut(n1).zip(kb.chunks_exact(n1)) {
                for ((wij, &kbij), a) in wj.iter_mut().zip(kbj).zip(row_acc.iter_mut()) {
                    let (g, dg) = P::g_dg(*wij);
                    *a += kbij * g;
                    *wij = kbij * var * dg;
                }
            }
            out[0] = row_acc.iter().sum();
        }
        let (sums, bar) = out[1..].split_at_mut(dim);
        let mut zd = vec![0.0; cols];
        for d in 0..dim {
            zd.iter_mut()
                .enumerate()
                .for_each(|(c, z)| *z = x2[(j0 + c, d)]);
            let x1d = &x1.as_slice()[d * n1..(d + 1) * n1];
            let bar_d = &mut bar[d * n1..(d + 1) * n1];
            weighted_differences(&w, &zd, x1d, bar_d, &mut row_acc);
            sums[d] = row_acc.iter().sum();
        }
        out
    }
}

/// Rows of a column handled together by the VJP's blocked loop (one AVX-512 register of f64, two
/// AVX2 ones), so that a row block's partial sums stay in registers across the columns instead of
/// going through memory once per column.
const ROW_BLOCK: usize = 8;

/// For one dimension d of a column chunk: with δᵢⱼ = x1ᵢd − zⱼ (`x1d`: N1, `zd`: the chunk's
/// cols values x2ⱼd) and `w` (N1×cols, column-major), `bar`ᵢ = Σⱼ wᵢⱼ δᵢⱼ and `acc`ᵢ =
/// Σⱼ wᵢⱼ δᵢⱼ², each summed over j in order from 0 (`bar`, `acc`: N1, overwritten). Row blocks
/// keep their sums in registers across the columns.
#[inline(always)]
fn weighted_differences(w: &[f64], zd: &[f64], x1d: &[f64], bar: &mut [f64], acc: &mut [f64]) {
    let n1 = x1d.len();
    let blocks = n1 / ROW_BLOCK * ROW_BLOCK;
    for i0 in (0..blocks).step_by(ROW_BLOCK) {
        let x = &x1d[i0..i0 + ROW_BLOCK];
        let (mut b, mut a) = ([0.0; ROW_BLOCK], [0.0; ROW_BLOCK]);
        for (c, &z) in zd.iter().enumerate() {
            let wc = &w[c * n1 + i0..][..ROW_BLOCK];
            for k in 0..ROW_BLOCK {
                let delta = x[k] - z;
                let wt = wc[k] * delta;
                b[k] += wt;
                a[k] = wt.mul_add(delta, a[k]);
            }
        }
        bar[i0..i0 + ROW_BLOCK].copy_from_slice(&b);
        acc[i0..i0 + ROW_BLOCK].copy_from_slice(&a);
    }
    for i in blocks..n1 {
        let (mut b, mut a) = (0.0, 0.0);
        for (c, &z) in zd.iter().enumerate() {
            let delta = x1d[i] - z;
            let wt = w[c * n1 + i] * delta;
            b += wt;
            a = wt.mul_add(delta, a);
        }
        bar[i] = b;
        acc[i] = a;
    }
}

/// What every column chunk of the stationary kernels' VJP reads: inputs x1 (N1×D) and x2
/// (N2×D), the D lengthscales, the variance σ², K = k(x1, x2) when the profile reuses it, and
/// the adjoint k̄ (N1×N2).
#[derive(Clone, Copy)]
struct VjpInputs<'a> {
    x1: &'a DMatrix<f64>,
    x2: &'a DMatrix<f64>,
    ls: &'a [f64],
    var: f64,
    k: Option<&'a DMatrix<f64>>,
    k_bar: &'a DMatrix<f64>,
}

impl<P: Profile> Kernel for Stationary<P> {
    fn input_dim(&self) -> usize {
        self.lengthscales.len()
    }

    fn num_params(&self) -> usize {
        1 + self.lengthscales.len()
    }

    fn param_names(&self) -> Vec<String> {
        std::iter::once("variance".to_string())
            .chain((0..self.lengthscales.len()).map(|d| format!("lengthscale[{d}]")))
            .collect()
    }

    fn params(&self) -> Vec<f64> {
        std::iter::once(self.variance)
            .chain(self.lengthscales.iter().copied())
            .collect()
    }

    fn set_params(&mut self, params: &[f64]) -> Result<()> {
        let n = self.num_params();
        check_shape(
            "Stationary::set_params params",
            Shape::new(n, 1),
            Shape::new(params.len(), 1),
        )?;
        check_finite(&self.param_names(), params)?;
        self.variance = params[0];
        self.lengthscales.copy_from_slice(&params[1..]);
        Ok(())
    }

    fn matrix(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>) -> DMatrix<f64> {
        let mut k = DMatrix::zeros(x1.nrows(), x2.nrows()); // N1×N2
        self.matrix_into(x1, x2, &mut k, Parallelism::default());
        k
    }

    /// k(X, X) (`x1` and `x2` the same matrix) is formed from its lower triangle, mirrored: the
    /// same bits, since (a − b)² = (b − a)² exactly.
    fn matrix_into(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k: &mut DMatrix<f64>,
        par: Parallelism,
    ) {
        let var = self.variance();
        let ls = self.lengthscales();
        let n1 = x1.nrows();
        let symmetric = std::ptr::eq(x1, x2);
        crate::linalg::reshape_buffer(k, n1, x2.nrows()); // N1×N2
        bulk::fill_chunks(k.as_mut_slice(), n1, par, |j0, block| {
            let r0 = if symmetric { j0 } else { 0 }; // rows above the chunk are mirrored
            crate::simd::dispatch(
                #[inline(always)]
                || {
                    bulk::sq_dist_block(x1, x2, &ls, j0, r0, block); // r²
                    for col in block.chunks_exact_mut(n1.max(1)) {
                        col[r0..].iter_mut().for_each(|v| *v = var * P::g(*v)); // σ² g(r²)
                    }
                },
            )
        });
        if symmetric {
            crate::linalg::mirror_lower_in_place(k);
        }
    }

    fn diag(&self, x: &DMatrix<f64>) -> DVector<f64> {
        DVector::from_element(x.nrows(), self.variance() * P::g(0.0))
    }

    fn vjp_params(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k_bar: &DMatrix<f64>,
    ) -> DVector<f64> {
        self.vjp_both(x1, x2, None, k_bar, Parallelism::default()).0
    }

    fn vjp_diag_params(&self, x: &DMatrix<f64>, diag_bar: &DVector<f64>) -> DVector<f64> {
        debug_assert_eq!(x.nrows(), diag_bar.len(), "diag_bar must have length N");
        let mut grad = DVector::zeros(self.num_params());
        // diag = σ² g(0): only σ² moves it
        grad[0] = diag_bar.sum() * P::g(0.0) * self.transform.derivative(self.variance);
        grad
    }

    fn vjp_x1(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>, k_bar: &DMatrix<f64>) -> DMatrix<f64> {
        self.vjp_both(x1, x2, None, k_bar, Parallelism::default()).1
    }

    fn vjp(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k_bar: &DMatrix<f64>,
    ) -> (DVector<f64>, DMatrix<f64>) {
        self.vjp_both(x1, x2, None, k_bar, Parallelism::default())
    }

    fn vjp_given_matrix(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k: &DMatrix<f64>,
        k_bar: &DMatrix<f64>,
        par: Parallelism,
    ) -> (DVector<f64>, DMatrix<f64>) {
        self.vjp_both(x1, x2, Some(k), k_bar, par)
    }

    fn box_clone(&self) -> Box<dyn Kernel> {
        Box::new(self.clone())
    }

    fn spec(&self) -> KernelSpec {
        let mut params = vec![self.variance];
        params.extend(&self.lengthscales);
        KernelSpec::Stationary {
            family: P::FAMILY,
            params,
            floor: self.transform.floor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dg/dr² vs central differences of g, relative 1e-7 (h = 1e-6·r², truncation and
    /// rounding both ≲ 1e-9 relative at these r²).
    fn check_profile<P: Profile>() {
        let name = P::default();
        for &r2 in &[0.01, 0.3, 1.0, 2.5, 9.0] {
            let h = 1e-6 * r2;
            let fd = (P::g(r2 + h) - P::g(r2 - h)) / (2.0 * h);
            let an = P::dg(r2);
            assert!(
                (fd - an).abs() <= 1e-7 * an.abs(),
                "{name:?} r² = {r2}: fd {fd} vs {an}"
            );
        }
        for &r2 in &[0.0, 0.01, 0.3, 1.0, 2.5, 9.0] {
            assert_eq!(
                P::g_dg(r2),
                (P::g(r2), P::dg(r2)),
                "{name:?} r² = {r2}: g_dg"
            );
        }
        assert_eq!(P::g(0.0), 1.0, "{name:?}: g(0) must be 1");
        assert!(P::dg(0.0).is_finite(), "{name:?}: dg(0) must be finite");
    }

    #[test]
    fn profile_derivatives_match_differences() {
        check_profile::<SeProfile>();
        check_profile::<Matern12Profile>();
        check_profile::<Matern32Profile>();
        check_profile::<Matern52Profile>();
        assert_eq!(Matern12Profile::dg(0.0), 0.0);
    }

    #[test]
    fn known_values() {
        // x = 0, z = (1, 2), ℓ = (1, 2): r² = 1 + 1 = 2, r = √2; σ² = 1.5
        let x = DMatrix::from_row_slice(1, 2, &[0.0, 0.0]);
        let z = DMatrix::from_row_slice(1, 2, &[1.0, 2.0]);
        let r = 2f64.sqrt();
        let cases: [(Box<dyn Kernel>, f64); 4] = [
            (
                Box::new(SquaredExponential::new(1.5, vec![1.0, 2.0]).unwrap()),
                (-1.0f64).exp(),
            ),
            (
                Box::new(Matern12::new(1.5, vec![1.0, 2.0]).unwrap()),
                (-r).exp(),
            ),
            (
                Box::new(Matern32::new(1.5, vec![1.0, 2.0]).unwrap()),
                (1.0 + 6f64.sqrt()) * (-(6f64.sqrt())).exp(),
            ),
            (
                Box::new(Matern52::new(1.5, vec![1.0, 2.0]).unwrap()),
                (1.0 + 10f64.sqrt() + 10.0 / 3.0) * (-(10f64.sqrt())).exp(),
            ),
        ];
        for (k, g) in cases {
            let v = k.matrix(&x, &z)[(0, 0)];
            assert!(
                (v - 1.5 * g).abs() <= 1e-15 * v,
                "{k:?}: {v} vs {}",
                1.5 * g
            );
        }
    }

    #[test]
    fn constructor_stores_unconstrained_and_names_bad_parameter() {
        let k = Matern32::new(2.0, vec![0.5, 3.0]).unwrap();
        assert!((k.variance() - 2.0).abs() < 1e-14);
        let ls = k.lengthscales();
        assert!((ls[0] - 0.5).abs() < 1e-14 && (ls[1] - 3.0).abs() < 1e-14);
        assert_eq!(
            k.param_names(),
            ["variance", "lengthscale[0]", "lengthscale[1]"]
        );
        // plain softplus (floor 0): p = log(eᵛ − 1)
        let k0 =
            SquaredExponential::with_transform(1.0, vec![1.0], Positive::with_floor(0.0)).unwrap();
        let p = k0.params();
        assert!((p[0] - 1f64.exp_m1().ln()).abs() < 1e-15, "{p:?}");

        let e = Matern52::new(1.0, vec![1.0, -0.5]).unwrap_err();
        assert!(
            matches!(&e, SvgpError::InvalidParameter { name, value, .. }
                if name == "lengthscale[1]" && *value == -0.5),
            "{e:?}"
        );
        let e = Matern52::new(f64::NAN, vec![1.0]).unwrap_err();
        assert!(matches!(&e, SvgpError::InvalidParameter { name, .. } if name == "variance"));
        let e = Matern52::new(1.0, vec![]).unwrap_err();
        assert!(matches!(&e, SvgpError::InvalidParameter { name, .. } if name == "lengthscales"));
        let e = Matern52::with_transform(1.0, vec![1.0], Positive::with_floor(-1.0)).unwrap_err();
        assert!(matches!(&e, SvgpError::InvalidParameter { name, .. } if name == "floor"));
    }

    #[test]
    fn matern12_gradients_finite_at_coincident_points() {
        let k = Matern12::new(1.3, vec![0.7, 1.1]).unwrap();
        let x = DMatrix::from_row_slice(2, 2, &[0.1, 0.2, -0.4, 0.5]);
        let k_bar = DMatrix::from_element(2, 2, 1.0);
        assert!(k.vjp_params(&x, &x, &k_bar).iter().all(|v| v.is_finite()));
        assert!(k.vjp_x1(&x, &x, &k_bar).iter().all(|v| v.is_finite()));
    }

    /// k(X, X), formed from its lower triangle and mirrored, equals bit for bit the matrix of X
    /// against a copy of X, every entry computed: sizes ending mid-chunk, several chunks, and one
    /// large enough for the parallel chunks.
    #[test]
    fn matrix_of_x_with_itself_equals_every_entry_computed() {
        for n in [1, 5, 33, 70, 600] {
            let x = DMatrix::from_fn(n, 3, |i, d| ((i * 7 + d * 3) % 11) as f64 * 0.3 - 1.2);
            let copy = x.clone();
            let kernels: [Box<dyn Kernel>; 4] = [
                Box::new(SquaredExponential::new(1.5, vec![0.7, 1.0, 2.0]).unwrap()),
                Box::new(Matern12::new(1.5, vec![0.7, 1.0, 2.0]).unwrap()),
                Box::new(Matern32::new(1.5, vec![0.7, 1.0, 2.0]).unwrap()),
                Box::new(Matern52::new(1.5, vec![0.7, 1.0, 2.0]).unwrap()),
            ];
            for k in kernels {
                assert_eq!(k.matrix(&x, &x), k.matrix(&x, &copy), "{k:?}, N = {n}");
            }
        }
    }

    #[test]
    fn empty_inputs_give_empty_outputs() {
        let k = Matern52::new(1.0, vec![1.0, 1.0]).unwrap();
        let x0 = DMatrix::<f64>::zeros(0, 2);
        let x3 = DMatrix::<f64>::zeros(3, 2);
        assert_eq!(k.matrix(&x0, &x3).shape(), (0, 3));
        assert_eq!(k.vjp_x1(&x3, &x0, &DMatrix::zeros(3, 0)).shape(), (3, 2));
        assert_eq!(
            k.vjp_params(&x0, &x3, &DMatrix::zeros(0, 3)),
            DVector::zeros(3)
        );
    }
}
