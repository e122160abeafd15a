//! The kernel language's syntax tree and its canonical text.
//!
//! `linear(year) + se(year, lengthscale=2) * periodic(year, period=fixed(1))` is a [`Expr`]: a
//! sum of products of kernel calls. A call names a kernel, the columns it reads (names, quoted
//! names or 0-based indices; none means every column) and keyword arguments giving a parameter's
//! initial value, marking it fixed, or putting a prior on it (`lengthscale=2 ~ gamma(2, 1)`,
//! `variance ~ lognormal(0, 1)`). Printing an [`Expr`] gives text that parses back to it.

use std::fmt;

/// A kernel expression: a leaf call, a sum of ≥ 2 terms or a product of ≥ 2 factors.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// One kernel call, `name(columns…, keyword=value…)`.
    Call(Call),
    /// `a + b + …`, flattened (no part is itself a `Sum`).
    Sum(Vec<Expr>),
    /// `a * b * …`, flattened (no part is itself a `Product`).
    Product(Vec<Expr>),
}

/// One kernel call. `position` is the 1-based character column of its name in the source text
/// (0 for a call built in code), for errors found after parsing.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The kernel's name, e.g. `se`, `periodic`.
    pub name: String,
    /// The columns it reads, in order; empty means every column.
    pub columns: Vec<Column>,
    /// Keyword arguments, in source order.
    pub args: Vec<Arg>,
    /// 1-based character column of `name` (0 when not parsed from text).
    pub position: usize,
}

/// A column a kernel reads: by header name or by 0-based index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// A header name (printed bare when it is an identifier, else quoted).
    Name(String),
    /// A 0-based column index.
    Index(usize),
}

/// `name=value`, `name=fixed(value)`, `name ~ prior(…)` or `name=value ~ prior(…)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// The parameter or setting name, e.g. `lengthscale`, `degree`.
    pub name: String,
    /// The initial value(s): one number, or one per column `[a, b]`; `None` keeps the default.
    pub value: Option<Vec<f64>>,
    /// Whether the parameter stays at its initial value (`fixed(…)`).
    pub fixed: bool,
    /// A prior on the parameter, `~ family(arguments…)`.
    pub prior: Option<PriorCall>,
    /// 1-based character column of `name` (0 when not parsed from text).
    pub position: usize,
}

/// A prior as written: `lognormal(0, 1)`, `gamma(2, 1)`, `halfnormal(1)`.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorCall {
    /// The family's name.
    pub family: String,
    /// Its numeric arguments, in order.
    pub args: Vec<f64>,
}

impl Call {
    /// A call of `name` on `columns` with no keyword arguments (position 0).
    pub fn new(name: &str, columns: Vec<Column>) -> Self {
        Call {
            name: name.to_string(),
            columns,
            args: Vec::new(),
            position: 0,
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Call(call) => write!(f, "{call}"),
            Expr::Sum(parts) => join(f, parts, " + ", false),
            Expr::Product(parts) => join(f, parts, " * ", true),
        }
    }
}

/// Writes `parts` separated by `sep`, bracketing sums inside a product.
fn join(f: &mut fmt::Formatter<'_>, parts: &[Expr], sep: &str, in_product: bool) -> fmt::Result {
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        match part {
            Expr::Sum(_) if in_product => write!(f, "({part})")?,
            _ => write!(f, "{part}")?,
        }
    }
    Ok(())
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name)?;
        let columns = self.columns.iter().map(ToString::to_string);
        let args = self.args.iter().map(ToString::to_string);
        let items: Vec<String> = columns.chain(args).collect();
        write!(f, "{})", items.join(", "))
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Index(i) => write!(f, "{i}"),
            Column::Name(name) if is_identifier(name) => f.write_str(name),
            Column::Name(name) => {
                let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
                write!(f, "\"{escaped}\"")
            }
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(values) = &self.value {
            let values = numbers(values);
            if self.fixed {
                write!(f, "=fixed({values})")?;
            } else {
                write!(f, "={values}")?;
            }
        }
        if let Some(prior) = &self.prior {
            write!(f, " ~ {prior}")?;
        }
        Ok(())
    }
}

impl fmt::Display for PriorCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args: Vec<String> = self.args.iter().map(|v| number(*v)).collect();
        write!(f, "{}({})", self.family, args.join(", "))
    }
}

/// One value bare, several in brackets.
fn numbers(values: &[f64]) -> String {
    match values {
        [v] => number(*v),
        _ => {
            let items: Vec<String> = values.iter().map(|v| number(*v)).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

/// The shortest text that parses back to exactly `v` (Rust's `Display` for f64 round-trips).
fn number(v: f64) -> String {
    format!("{v}")
}

/// Whether `text` reads back as one identifier token (a letter or `_`, then letters, digits,
/// `_` or `.`).
pub(crate) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '.')
}
