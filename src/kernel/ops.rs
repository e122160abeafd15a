//! Kernel sums and products written with `+` and `*`: `k1 + k2 * k3` builds a [`KernelExpr`]
//! (products bind tighter, as in arithmetic), and [`KernelExpr::build`] turns it into the
//! [`Sum`]s and [`Product`]s it denotes, checking the parts' input dimensions there, so a
//! mismatch is an error, never a panic. Chains flatten: `a + b + c` is one three-part [`Sum`].

use super::{Kernel, Product, Profile, Stationary, Sum};
use crate::error::Result;
use std::ops::{Add, Mul};

/// A kernel expression built with `+` and `*` from kernels (or other expressions), not yet
/// checked. `let k = (SquaredExponential::new(1.0, vec![1.0])? + Matern12::new(0.5, vec![2.0])?)
/// .build()?;`
#[derive(Debug)]
pub struct KernelExpr(Node);

#[derive(Debug)]
enum Node {
    Leaf(Box<dyn Kernel>),
    Sum(Vec<Node>),
    Product(Vec<Node>),
}

impl KernelExpr {
    /// The kernel the expression denotes.
    ///
    /// # Errors
    /// `ShapeMismatch` naming `Sum parts` or `Product parts` when two parts of a sum or product
    /// have different input dimensions.
    pub fn build(self) -> Result<Box<dyn Kernel>> {
        build(self.0)
    }
}

fn build(node: Node) -> Result<Box<dyn Kernel>> {
    let parts = |nodes: Vec<Node>| nodes.into_iter().map(build).collect::<Result<Vec<_>>>();
    Ok(match node {
        Node::Leaf(k) => k,
        Node::Sum(nodes) => Box::new(Sum::new(parts(nodes)?)?),
        Node::Product(nodes) => Box::new(Product::new(parts(nodes)?)?),
    })
}

impl From<Box<dyn Kernel>> for KernelExpr {
    fn from(k: Box<dyn Kernel>) -> Self {
        KernelExpr(Node::Leaf(k))
    }
}

/// `lhs ∘ rhs` as one node, appending to `lhs` when it is already a chain of the same operation.
fn combine(lhs: KernelExpr, rhs: KernelExpr, is_sum: bool) -> KernelExpr {
    let node = match (lhs.0, is_sum) {
        (Node::Sum(mut parts), true) => {
            parts.push(rhs.0);
            Node::Sum(parts)
        }
        (Node::Product(mut parts), false) => {
            parts.push(rhs.0);
            Node::Product(parts)
        }
        (other, true) => Node::Sum(vec![other, rhs.0]),
        (other, false) => Node::Product(vec![other, rhs.0]),
    };
    KernelExpr(node)
}

impl<R: Into<KernelExpr>> Add<R> for KernelExpr {
    type Output = KernelExpr;
    fn add(self, rhs: R) -> KernelExpr {
        combine(self, rhs.into(), true)
    }
}

impl<R: Into<KernelExpr>> Mul<R> for KernelExpr {
    type Output = KernelExpr;
    fn mul(self, rhs: R) -> KernelExpr {
        combine(self, rhs.into(), false)
    }
}

/// `From`, `+` and `*` for a kernel type: it enters an expression as a leaf.
macro_rules! kernel_ops {
    ($ty:ty $(, $generic:ident : $bound:ident)?) => {
        impl$(<$generic: $bound>)? From<$ty> for KernelExpr {
            fn from(k: $ty) -> Self {
                KernelExpr(Node::Leaf(Box::new(k)))
            }
        }
        impl<R: Into<KernelExpr> $(, $generic: $bound)?> Add<R> for $ty {
            type Output = KernelExpr;
            fn add(self, rhs: R) -> KernelExpr {
                KernelExpr::from(self) + rhs
            }
        }
        impl<R: Into<KernelExpr> $(, $generic: $bound)?> Mul<R> for $ty {
            type Output = KernelExpr;
            fn mul(self, rhs: R) -> KernelExpr {
                KernelExpr::from(self) * rhs
            }
        }
    };
}

kernel_ops!(Stationary<P>, P: Profile);
kernel_ops!(Sum);
kernel_ops!(Product);
kernel_ops!(super::Active);

impl<R: Into<KernelExpr>> Add<R> for Box<dyn Kernel> {
    type Output = KernelExpr;
    fn add(self, rhs: R) -> KernelExpr {
        KernelExpr::from(self) + rhs
    }
}

impl<R: Into<KernelExpr>> Mul<R> for Box<dyn Kernel> {
    type Output = KernelExpr;
    fn mul(self, rhs: R) -> KernelExpr {
        KernelExpr::from(self) * rhs
    }
}
