//! From an [`Expr`] to a kernel: kernel names to [`LeafKind`]s, columns to indices, keyword
//! arguments to constrained initial values, fixed parameters and priors.
//!
//! Values are in the units of the inputs the kernel is given (a fit on standardised inputs
//! reads them in standardised units).

use super::syntax::{Arg, Call, Column, Expr, PriorCall};
use super::ExprError;
use crate::kernel::{Kernel, LeafKind, Product, Sum};

/// A kernel expression resolved against the columns of an N×D input table.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The kernel, over all D columns.
    pub kernel: Box<dyn Kernel>,
    /// Names (as `kernel.param_names()` gives them) of the parameters held at their initial
    /// values.
    pub fixed: Vec<String>,
    /// (parameter name, prior as written), in parameter order.
    pub priors: Vec<(String, PriorCall)>,
}

/// The kernel `expr` denotes over inputs whose D columns are named `columns` (a name may be
/// empty when the table has no header; indices always work).
///
/// A kernel name is a [`LeafKind`] name or `rbf` (= `se`); a call without columns reads every
/// column; a keyword names a constrained parameter of the kind without its `[d]` (one value for
/// every column, or a list with one per column) or the polynomial's `degree`.
///
/// # Errors
/// [`ExprError`] at the offending call or argument: an unknown kernel, column, parameter or a
/// wrong number of values, a repeated column or argument, `degree` on another kind or not a
/// positive integer, or a value the kernel refuses (out of its domain).
pub fn resolve(expr: &Expr, columns: &[String]) -> Result<Resolved, ExprError> {
    let mut marks = Marks::default();
    let kernel = build(expr, columns, &mut marks)?;
    let names = kernel.param_names();
    marks.fixed.sort_unstable();
    marks.priors.sort_by_key(|(i, _)| *i);
    Ok(Resolved {
        fixed: marks.fixed.iter().map(|&i| names[i].clone()).collect(),
        priors: marks
            .priors
            .into_iter()
            .map(|(i, p)| (names[i].clone(), p))
            .collect(),
        kernel,
    })
}

/// Fixed flags and priors by global parameter index, collected while building in order.
#[derive(Default)]
struct Marks {
    /// Parameters built so far (the next leaf's first index).
    offset: usize,
    fixed: Vec<usize>,
    priors: Vec<(usize, PriorCall)>,
}

fn build(expr: &Expr, columns: &[String], marks: &mut Marks) -> Result<Box<dyn Kernel>, ExprError> {
    let parts = |parts: &[Expr], marks: &mut Marks| {
        parts
            .iter()
            .map(|p| build(p, columns, marks))
            .collect::<Result<Vec<_>, _>>()
    };
    let combined = match expr {
        Expr::Call(call) => return leaf(call, columns, marks),
        Expr::Sum(p) => Sum::new(parts(p, marks)?).map(|k| Box::new(k) as Box<dyn Kernel>),
        Expr::Product(p) => Product::new(parts(p, marks)?).map(|k| Box::new(k) as Box<dyn Kernel>),
    };
    // every part spans all D columns, so combining them cannot meet a width mismatch
    combined.map_err(|e| ExprError::new(1, "parts of one input width", e.to_string()))
}

fn leaf(call: &Call, columns: &[String], marks: &mut Marks) -> Result<Box<dyn Kernel>, ExprError> {
    let kind = kind(call)?;
    let read = column_indices(call, columns)?;
    let names = kind.param_names(read.len());
    let mut values: Vec<(String, f64)> = Vec::new();
    let mut degree = None;
    for (k, arg) in call.args.iter().enumerate() {
        if call.args[..k].iter().any(|a| a.name == arg.name) {
            return Err(at_arg(
                arg,
                "each keyword once",
                format!("{:?} again", arg.name),
            ));
        }
        if arg.name == "degree" && kind == LeafKind::Polynomial {
            degree = Some(polynomial_degree(arg)?);
            continue;
        }
        let slots = slots(kind, &names, arg)?;
        expand(arg, &names, &slots, &mut values)?;
        for &i in &slots {
            let global = marks.offset + i;
            if arg.fixed {
                marks.fixed.push(global);
            }
            if let Some(prior) = &arg.prior {
                marks.priors.push((global, prior.clone()));
            }
        }
    }
    let pairs: Vec<(&str, f64)> = values.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let kernel = kind
        .build_on(&read, columns.len(), &pairs, degree)
        .map_err(|e| at_call(call, "values the kernel accepts", e.to_string()))?;
    marks.offset += kernel.num_params();
    Ok(kernel)
}

fn kind(call: &Call) -> Result<LeafKind, ExprError> {
    let name = if call.name == "rbf" { "se" } else { &call.name };
    LeafKind::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = LeafKind::ALL.iter().map(|k| k.name()).collect();
        at_call(
            call,
            &format!("a kernel name: {} or rbf", known.join(", ")),
            format!("{:?}", call.name),
        )
    })
}

/// The 0-based columns `call` reads: every column when it lists none.
fn column_indices(call: &Call, columns: &[String]) -> Result<Vec<usize>, ExprError> {
    if call.columns.is_empty() {
        return Ok((0..columns.len()).collect());
    }
    let mut read = Vec::with_capacity(call.columns.len());
    for column in &call.columns {
        let index = match column {
            Column::Index(i) => (*i < columns.len()).then_some(*i),
            Column::Name(n) => columns.iter().position(|c| c == n),
        };
        let Some(index) = index.filter(|i| !read.contains(i)) else {
            let expected = format!("a column not listed before, one of: {}", listing(columns));
            return Err(at_call(call, &expected, format!("column {column}")));
        };
        read.push(index);
    }
    Ok(read)
}

/// `name (index)` for each column, comma-separated.
fn listing(columns: &[String]) -> String {
    let items: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.is_empty() {
                format!("{i}")
            } else {
                format!("{c} ({i})")
            }
        })
        .collect();
    items.join(", ")
}

/// The positions in `names` that `arg` sets: the name itself, or every `name[d]`.
fn slots(kind: LeafKind, names: &[String], arg: &Arg) -> Result<Vec<usize>, ExprError> {
    let base = |n: &str| n.split('[').next().unwrap_or(n).to_string();
    let slots: Vec<usize> = (0..names.len())
        .filter(|&i| names[i] == arg.name || base(&names[i]) == arg.name)
        .collect();
    if !slots.is_empty() {
        return Ok(slots);
    }
    let mut accepted: Vec<String> = names.iter().map(|n| base(n)).collect();
    accepted.dedup();
    if kind == LeafKind::Polynomial {
        accepted.push("degree".into());
    }
    let expected = format!("a parameter of {}: {}", kind.name(), accepted.join(", "));
    Err(at_arg(arg, &expected, format!("{:?}", arg.name)))
}

/// Appends `arg`'s values for `slots`: one value for all, or one per slot.
fn expand(
    arg: &Arg,
    names: &[String],
    slots: &[usize],
    values: &mut Vec<(String, f64)>,
) -> Result<(), ExprError> {
    let Some(given) = &arg.value else {
        return Ok(());
    };
    if given.len() != 1 && given.len() != slots.len() {
        let expected = format!("one value or {} (one per column)", slots.len());
        return Err(at_arg(arg, &expected, format!("{} values", given.len())));
    }
    for (k, &i) in slots.iter().enumerate() {
        let v = if given.len() == 1 { given[0] } else { given[k] };
        values.push((names[i].clone(), v));
    }
    Ok(())
}

fn polynomial_degree(arg: &Arg) -> Result<u32, ExprError> {
    match arg.value.as_deref() {
        Some([d])
            if !arg.fixed && arg.prior.is_none() && *d >= 1.0 && *d <= 64.0 && d.fract() == 0.0 =>
        {
            Ok(*d as u32)
        }
        _ => Err(at_arg(
            arg,
            "degree=n with a whole n from 1 to 64 (a setting: neither fixed nor with a prior)",
            arg.to_string(),
        )),
    }
}

fn at_call(call: &Call, expected: &str, found: String) -> ExprError {
    ExprError::new(call.position.max(1), expected, found)
}

fn at_arg(arg: &Arg, expected: &str, found: String) -> ExprError {
    ExprError::new(arg.position.max(1), expected, found)
}
