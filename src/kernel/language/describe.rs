//! From a kernel back to an [`Expr`]: every leaf with its current constrained values, its
//! columns by name and its fixed parameters and priors, so a learned kernel prints as the
//! language that built it. Values print to 15 significant digits.

use super::syntax::{Arg, Call, Column, Expr, PriorCall};
use crate::kernel::{Kernel, KernelSpec, LeafDescription};

/// The expression of `kernel` at its current values, over inputs whose columns are named
/// `columns` (an empty name prints as the column's index); `fixed` and `priors` name parameters
/// as `kernel.param_names()` does (see [`super::Resolved`]). `None` for a kernel the language
/// cannot write (a combination under [`crate::kernel::Active`]).
pub fn describe(
    kernel: &dyn Kernel,
    columns: &[String],
    fixed: &[String],
    priors: &[(String, PriorCall)],
) -> Option<Expr> {
    let names = kernel.param_names();
    let mut walk = Walk {
        columns,
        names: &names,
        fixed,
        priors,
        offset: 0,
    };
    walk.expr(&kernel.spec())
}

struct Walk<'a> {
    columns: &'a [String],
    names: &'a [String],
    fixed: &'a [String],
    priors: &'a [(String, PriorCall)],
    offset: usize,
}

impl Walk<'_> {
    fn expr(&mut self, spec: &KernelSpec) -> Option<Expr> {
        match spec {
            KernelSpec::Sum(parts) => Some(Expr::Sum(self.parts(parts)?)),
            KernelSpec::Product(parts) => Some(Expr::Product(self.parts(parts)?)),
            leaf => self.leaf(LeafDescription::of_spec(leaf)?).map(Expr::Call),
        }
    }

    fn parts(&mut self, parts: &[KernelSpec]) -> Option<Vec<Expr>> {
        parts.iter().map(|p| self.expr(p)).collect()
    }

    fn leaf(&mut self, leaf: LeafDescription) -> Option<Call> {
        let every = leaf.columns.len() == self.columns.len()
            && leaf.columns.iter().enumerate().all(|(k, &c)| k == c);
        let columns = if every {
            Vec::new()
        } else {
            leaf.columns.iter().map(|&c| self.column(c)).collect()
        };
        let mut call = Call::new(leaf.kind.name(), columns);
        if let Some(degree) = leaf.degree.filter(|_| leaf.kind.name() == "polynomial") {
            call.args.push(plain("degree", vec![f64::from(degree)]));
        }
        let mut k = 0;
        while k < leaf.values.len() {
            let base = base_name(&leaf.values[k].0);
            let end = (k..leaf.values.len())
                .find(|&j| base_name(&leaf.values[j].0) != base)
                .unwrap_or(leaf.values.len());
            call.args
                .push(self.arg(base, &leaf.values[k..end], self.offset + k));
            k = end;
        }
        self.offset += leaf.values.len();
        Some(call)
    }

    /// One keyword for the values of one base name, the first at global index `first`.
    fn arg(&self, base: &str, values: &[(String, f64)], first: usize) -> Arg {
        let global = self.names.get(first);
        let fixed = global.is_some_and(|n| self.fixed.contains(n));
        let prior = global.and_then(|n| self.priors.iter().find(|(p, _)| p == n));
        Arg {
            fixed,
            prior: prior.map(|(_, p)| p.clone()),
            ..plain(base, values.iter().map(|(_, v)| significant(*v)).collect())
        }
    }

    fn column(&self, c: usize) -> Column {
        match self.columns.get(c) {
            Some(name) if !name.is_empty() => Column::Name(name.clone()),
            _ => Column::Index(c),
        }
    }
}

fn plain(name: &str, value: Vec<f64>) -> Arg {
    Arg {
        name: name.to_string(),
        value: Some(value),
        fixed: false,
        prior: None,
        position: 0,
    }
}

/// `lengthscale` for `lengthscale[2]`.
fn base_name(name: &str) -> &str {
    name.split('[').next().unwrap_or(name)
}

/// `v` to 15 significant digits: a value read back through a parameter's transform carries a few
/// ulps of rounding (0.5 returns as 0.49999999999999994), which this removes from the text.
fn significant(v: f64) -> f64 {
    format!("{v:.14e}").parse().unwrap_or(v)
}
