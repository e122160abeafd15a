//! Sums and elementwise products of kernels (MATH.md §4).
//!
//! Both hold ≥ 1 boxed parts of one input dimension D. Parameters are the parts' parameters
//! concatenated in part order, named `sum[p].<name>` / `product[p].<name>`.

use super::{Kernel, KernelSpec};
use crate::error::{check_shape, Result, Shape, SvgpError};
use crate::transform::check_finite;
use nalgebra::{DMatrix, DVector};

/// The parts shared by [`Sum`] and [`Product`], with parameter bookkeeping.
#[derive(Debug, Clone)]
struct Parts {
    /// Non-empty, every part with the same `input_dim`.
    parts: Vec<Box<dyn Kernel>>,
    /// `sum` or `product`, for parameter names.
    prefix: &'static str,
}

impl Parts {
    fn new(parts: Vec<Box<dyn Kernel>>, prefix: &'static str, what: &'static str) -> Result<Self> {
        let first = parts.first().ok_or(SvgpError::ShapeMismatch {
            what,
            expected: Shape::new(1, 1),
            found: Shape::new(0, 1),
        })?;
        let dim = first.input_dim();
        for part in &parts {
            // a point is one row: 1×D
            check_shape(what, Shape::new(1, dim), Shape::new(1, part.input_dim()))?;
        }
        Ok(Parts { parts, prefix })
    }

    fn num_params(&self) -> usize {
        self.parts.iter().map(|k| k.num_params()).sum()
    }

    fn param_names(&self) -> Vec<String> {
        let prefix = self.prefix;
        self.parts
            .iter()
            .enumerate()
            .flat_map(|(p, k)| {
                k.param_names()
                    .into_iter()
                    .map(move |n| format!("{prefix}[{p}].{n}"))
            })
            .collect()
    }

    fn params(&self) -> Vec<f64> {
        self.parts.iter().flat_map(|k| k.params()).collect()
    }

    /// Checks length and finiteness, then sets each part; restores every part if one refuses.
    fn set_params(&mut self, params: &[f64], what: &'static str) -> Result<()> {
        let n = self.num_params();
        check_shape(what, Shape::new(n, 1), Shape::new(params.len(), 1))?;
        check_finite(&self.param_names(), params)?;
        let old = self.params();
        if let Err(e) = self.distribute(params) {
            // `old` was accepted before; restoring it cannot meet a new refusal, and the error
            // worth reporting is `e` either way.
            let _ = self.distribute(&old);
            return Err(e);
        }
        Ok(())
    }

    fn distribute(&mut self, params: &[f64]) -> Result<()> {
        let mut start = 0;
        for k in &mut self.parts {
            let n = k.num_params();
            k.set_params(&params[start..start + n])?;
            start += n;
        }
        Ok(())
    }

    /// Concatenates one gradient per part, in part order.
    fn concat(&self, grads: impl Iterator<Item = DVector<f64>>) -> DVector<f64> {
        let mut out = DVector::zeros(self.num_params());
        let mut start = 0;
        for g in grads {
            out.rows_mut(start, g.len()).copy_from(&g);
            start += g.len();
        }
        out
    }
}

/// k(x, z) = Σₚ kₚ(x, z) over ≥ 1 parts of the same input dimension D.
///
/// Parameters: part 0's, then part 1's, …, named `sum[p].<part name>`.
#[derive(Debug, Clone)]
pub struct Sum {
    inner: Parts,
}

impl Sum {
    /// The sum of `parts` (≥ 1, all with the same `input_dim`).
    ///
    /// # Errors
    /// `ShapeMismatch` if `parts` is empty (found 0×1) or a part's D differs from part 0's
    /// (expected 1×D₀, found 1×Dₚ).
    pub fn new(parts: Vec<Box<dyn Kernel>>) -> Result<Self> {
        Ok(Sum {
            inner: Parts::new(parts, "sum", "Sum parts")?,
        })
    }

    /// The parts, in parameter order.
    pub fn parts(&self) -> &[Box<dyn Kernel>] {
        &self.inner.parts
    }
}

impl Kernel for Sum {
    fn input_dim(&self) -> usize {
        self.inner.parts[0].input_dim()
    }
    fn num_params(&self) -> usize {
        self.inner.num_params()
    }
    fn param_names(&self) -> Vec<String> {
        self.inner.param_names()
    }
    fn params(&self) -> Vec<f64> {
        self.inner.params()
    }
    fn set_params(&mut self, params: &[f64]) -> Result<()> {
        self.inner.set_params(params, "Sum::set_params params")
    }

    fn matrix(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>) -> DMatrix<f64> {
        let mut k = self.inner.parts[0].matrix(x1, x2); // N1×N2
        for part in &self.inner.parts[1..] {
            k += part.matrix(x1, x2);
        }
        k
    }

    fn diag(&self, x: &DMatrix<f64>) -> DVector<f64> {
        let mut d = self.inner.parts[0].diag(x); // N
        for part in &self.inner.parts[1..] {
            d += part.diag(x);
        }
        d
    }

    fn vjp_params(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k_bar: &DMatrix<f64>,
    ) -> DVector<f64> {
        self.inner
            .concat(self.inner.parts.iter().map(|k| k.vjp_params(x1, x2, k_bar)))
    }

    fn vjp_diag_params(&self, x: &DMatrix<f64>, diag_bar: &DVector<f64>) -> DVector<f64> {
        self.inner.concat(
            self.inner
                .parts
                .iter()
                .map(|k| k.vjp_diag_params(x, diag_bar)),
        )
    }

    fn vjp_x1(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>, k_bar: &DMatrix<f64>) -> DMatrix<f64> {
        let mut x1_bar = self.inner.parts[0].vjp_x1(x1, x2, k_bar); // N1×D
        for part in &self.inner.parts[1..] {
            x1_bar += part.vjp_x1(x1, x2, k_bar);
        }
        x1_bar
    }

    fn box_clone(&self) -> Box<dyn Kernel> {
        Box::new(self.clone())
    }

    fn spec(&self) -> KernelSpec {
        KernelSpec::Sum(self.inner.parts.iter().map(|p| p.spec()).collect())
    }
}

/// k(x, z) = Πₚ kₚ(x, z) (elementwise, K = ∘ₚ Kₚ) over ≥ 1 parts of the same input dimension D.
///
/// Parameters: part 0's, then part 1's, …, named `product[p].<part name>`. The adjoint passed to
/// part p is k̄ ∘ Π_{q≠p} K_q, formed directly (no division, so zeros in some K_q are safe).
#[derive(Debug, Clone)]
pub struct Product {
    inner: Parts,
}

impl Product {
    /// The elementwise product of `parts` (≥ 1, all with the same `input_dim`).
    ///
    /// # Errors
    /// `ShapeMismatch` if `parts` is empty (found 0×1) or a part's D differs from part 0's
    /// (expected 1×D₀, found 1×Dₚ).
    pub fn new(parts: Vec<Box<dyn Kernel>>) -> Result<Self> {
        Ok(Product {
            inner: Parts::new(parts, "product", "Product parts")?,
        })
    }

    /// The parts, in parameter order.
    pub fn parts(&self) -> &[Box<dyn Kernel>] {
        &self.inner.parts
    }

    /// k̄ ∘ Π_{q≠p} K_q for each part p, N1×N2 each, given the parts' matrices `ks`.
    fn part_adjoints(ks: &[DMatrix<f64>], k_bar: &DMatrix<f64>) -> Vec<DMatrix<f64>> {
        (0..ks.len())
            .map(|p| {
                let mut a = k_bar.clone();
                for (q, kq) in ks.iter().enumerate() {
                    if q != p {
                        a.component_mul_assign(kq);
                    }
                }
                a
            })
            .collect()
    }
}

impl Kernel for Product {
    fn input_dim(&self) -> usize {
        self.inner.parts[0].input_dim()
    }
    fn num_params(&self) -> usize {
        self.inner.num_params()
    }
    fn param_names(&self) -> Vec<String> {
        self.inner.param_names()
    }
    fn params(&self) -> Vec<f64> {
        self.inner.params()
    }
    fn set_params(&mut self, params: &[f64]) -> Result<()> {
        self.inner.set_params(params, "Product::set_params params")
    }

    fn matrix(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>) -> DMatrix<f64> {
        let mut k = self.inner.parts[0].matrix(x1, x2); // N1×N2
        for part in &self.inner.parts[1..] {
            k.component_mul_assign(&part.matrix(x1, x2));
        }
        k
    }

    fn diag(&self, x: &DMatrix<f64>) -> DVector<f64> {
        let mut d = self.inner.parts[0].diag(x); // N
        for part in &self.inner.parts[1..] {
            d.component_mul_assign(&part.diag(x));
        }
        d
    }

    fn vjp_params(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        k_bar: &DMatrix<f64>,
    ) -> DVector<f64> {
        let ks: Vec<_> = self.inner.parts.iter().map(|k| k.matrix(x1, x2)).collect();
        let adj = Self::part_adjoints(&ks, k_bar);
        self.inner.concat(
            self.inner
                .parts
                .iter()
                .zip(&adj)
                .map(|(k, a)| k.vjp_params(x1, x2, a)),
        )
    }

    fn vjp_diag_params(&self, x: &DMatrix<f64>, diag_bar: &DVector<f64>) -> DVector<f64> {
        let ds: Vec<_> = self.inner.parts.iter().map(|k| k.diag(x)).collect();
        let grads = self.inner.parts.iter().enumerate().map(|(p, k)| {
            let mut a = diag_bar.clone(); // d̄ ∘ Π_{q≠p} diag_q
            for (q, dq) in ds.iter().enumerate() {
                if q != p {
                    a.component_mul_assign(dq);
                }
            }
            k.vjp_diag_params(x, &a)
        });
        self.inner.concat(grads)
    }

    fn vjp_x1(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>, k_bar: &DMatrix<f64>) -> DMatrix<f64> {
        let ks: Vec<_> = self.inner.parts.iter().map(|k| k.matrix(x1, x2)).collect();
        let adj = Self::part_adjoints(&ks, k_bar);
        let mut x1_bar = DMatrix::zeros(x1.nrows(), x1.ncols()); // N1×D
        for (k, a) in self.inner.parts.iter().zip(&adj) {
            x1_bar += k.vjp_x1(x1, x2, a);
        }
        x1_bar
    }

    fn box_clone(&self) -> Box<dyn Kernel> {
        Box::new(self.clone())
    }

    fn spec(&self) -> KernelSpec {
        KernelSpec::Product(self.inner.parts.iter().map(|p| p.spec()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{Matern12, Matern52, SquaredExponential};

    fn se(d: usize) -> Box<dyn Kernel> {
        Box::new(SquaredExponential::new(1.2, vec![0.9; d]).unwrap())
    }

    #[test]
    fn constructors_refuse_empty_and_mixed_dimensions() {
        let e = Sum::new(vec![]).unwrap_err();
        assert!(
            matches!(e, SvgpError::ShapeMismatch { found, .. } if found.rows == 0),
            "{e:?}"
        );
        let e = Product::new(vec![]).unwrap_err();
        assert!(matches!(e, SvgpError::ShapeMismatch { .. }), "{e:?}");
        let e = Product::new(vec![se(2), se(3)]).unwrap_err();
        assert!(
            matches!(e, SvgpError::ShapeMismatch { expected, found, .. }
                if expected.cols == 2 && found.cols == 3),
            "{e:?}"
        );
        assert!(Sum::new(vec![se(2), se(3)]).is_err());
        assert_eq!(Sum::new(vec![se(3), se(3)]).unwrap().input_dim(), 3);
    }

    #[test]
    fn names_are_prefixed_and_nested() {
        let inner = Product::new(vec![
            se(1),
            Box::new(Matern12::new(1.0, vec![2.0]).unwrap()),
        ]);
        let s = Sum::new(vec![Box::new(inner.unwrap()), se(1)]).unwrap();
        assert_eq!(
            s.param_names(),
            [
                "sum[0].product[0].variance",
                "sum[0].product[0].lengthscale[0]",
                "sum[0].product[1].variance",
                "sum[0].product[1].lengthscale[0]",
                "sum[1].variance",
                "sum[1].lengthscale[0]",
            ]
        );
        assert_eq!(s.num_params(), 6);
        assert_eq!(s.params().len(), 6);
    }

    #[test]
    fn set_params_distributes_in_order_and_refuses_bad_values() {
        let mut p = Product::new(vec![
            se(2),
            Box::new(Matern52::new(1.0, vec![2.0, 3.0]).unwrap()),
        ])
        .unwrap();
        let new: Vec<f64> = (0..6).map(|i| 0.1 * i as f64 - 0.2).collect();
        p.set_params(&new).unwrap();
        assert_eq!(p.parts()[0].params(), &new[..3]);
        assert_eq!(p.parts()[1].params(), &new[3..]);
        let mut bad = new.clone();
        bad[4] = f64::INFINITY;
        let e = p.set_params(&bad).unwrap_err();
        assert!(
            matches!(&e, SvgpError::InvalidParameter { name, .. }
                if name == "product[1].lengthscale[0]"),
            "{e:?}"
        );
        assert!(matches!(
            p.set_params(&new[..5]),
            Err(SvgpError::ShapeMismatch { .. })
        ));
        assert_eq!(p.params(), new);
    }

    #[test]
    fn product_with_a_zero_entry_still_has_gradients_for_other_parts() {
        // K₀ underflows to 0 far away; the adjoint for part 1 is k̄ ∘ K₀ = 0 there and the
        // adjoint for part 0 is k̄ ∘ K₁, finite: no 0/0 from dividing K by Kₚ.
        let p = Product::new(vec![se(1), se(1)]).unwrap();
        let x1 = DMatrix::from_row_slice(1, 1, &[0.0]);
        let x2 = DMatrix::from_row_slice(1, 1, &[100.0]);
        let g = p.vjp_params(&x1, &x2, &DMatrix::from_element(1, 1, 1.0));
        assert!(g.iter().all(|v| v.is_finite()), "{g}");
    }

    /// A one-parameter kernel k = 1 that refuses negative parameters, to reach the restore path.
    #[derive(Debug, Clone)]
    struct Picky(f64);

    impl Kernel for Picky {
        fn input_dim(&self) -> usize {
            1
        }
        fn num_params(&self) -> usize {
            1
        }
        fn param_names(&self) -> Vec<String> {
            vec!["p".to_string()]
        }
        fn params(&self) -> Vec<f64> {
            vec![self.0]
        }
        fn set_params(&mut self, params: &[f64]) -> Result<()> {
            if params[0] < 0.0 {
                return Err(SvgpError::InvalidParameter {
                    name: "p".to_string(),
                    value: params[0],
                    reason: "negative",
                });
            }
            self.0 = params[0];
            Ok(())
        }
        fn matrix(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>) -> DMatrix<f64> {
            DMatrix::from_element(x1.nrows(), x2.nrows(), 1.0)
        }
        fn diag(&self, x: &DMatrix<f64>) -> DVector<f64> {
            DVector::from_element(x.nrows(), 1.0)
        }
        fn vjp_params(&self, _: &DMatrix<f64>, _: &DMatrix<f64>, _: &DMatrix<f64>) -> DVector<f64> {
            DVector::zeros(1)
        }
        fn vjp_diag_params(&self, _: &DMatrix<f64>, _: &DVector<f64>) -> DVector<f64> {
            DVector::zeros(1)
        }
        fn vjp_x1(&self, x1: &DMatrix<f64>, _: &DMatrix<f64>, _: &DMatrix<f64>) -> DMatrix<f64> {
            DMatrix::zeros(x1.nrows(), 1)
        }
        fn box_clone(&self) -> Box<dyn Kernel> {
            Box::new(self.clone())
        }

        fn spec(&self) -> KernelSpec {
            unimplemented!("test-only kernel")
        }
    }

    #[test]
    fn set_params_restores_earlier_parts_when_a_later_part_refuses() {
        let mut s = Sum::new(vec![se(1), Box::new(Picky(0.5))]).unwrap();
        let before = s.params();
        let e = s.set_params(&[0.1, 0.2, -1.0]).unwrap_err();
        assert!(
            matches!(&e, SvgpError::InvalidParameter { name, .. } if name == "p"),
            "{e:?}"
        );
        assert_eq!(s.params(), before);
    }
}
