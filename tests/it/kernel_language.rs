//! The kernel language end to end: text → kernel (values, columns, fixed, priors) → text.

use nalgebra::DMatrix;
use svgp::kernel::language::{describe, parse, resolve, Resolved};
use svgp::kernel::LeafKind;

fn columns() -> Vec<String> {
    ["year", "temp", "site"].map(String::from).to_vec()
}

fn resolved(text: &str) -> Resolved {
    let expr = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    resolve(&expr, &columns()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Constrained value of parameter `name` read back through the language's own description.
fn printed(r: &Resolved) -> String {
    describe(r.kernel.as_ref(), &columns(), &r.fixed, &r.priors)
        .expect("a language kernel is describable")
        .to_string()
}

fn points(seed: u64, n: usize) -> DMatrix<f64> {
    // a small deterministic design: integer codes in column 2 for the categorical kernel
    DMatrix::from_fn(n, 3, |i, j| {
        let t = (i as f64 + 1.0) * 0.37 + seed as f64 * 0.11;
        match j {
            0 => t.sin() * 2.0,
            1 => (1.3 * t).cos(),
            _ => (i % 3) as f64,
        }
    })
}

/// Every kind of the language, on one column and on two: parse, build, describe, parse again
/// and build again gives the same matrix (to 1e-12 relative: printed values round-trip exactly,
/// the softplus inverse and forward map lose at most a few ulps).
#[test]
fn every_kind_round_trips_through_text() {
    let (x1, x2) = (points(1, 7), points(2, 5));
    for kind in LeafKind::ALL {
        for cols in ["year", "year, temp"] {
            let cols = if kind == LeafKind::Categorical {
                "site"
            } else {
                cols
            };
            let text = format!("{}({cols})", kind.name());
            let first = resolved(&text);
            let again = resolved(&printed(&first));
            let (a, b) = (first.kernel.matrix(&x1, &x2), again.kernel.matrix(&x1, &x2));
            let scale = a.amax().max(1e-300);
            assert!(
                (a - b).amax() <= 1e-12 * scale,
                "{text} → {}",
                printed(&first)
            );
            assert_eq!(first.kernel.param_names(), again.kernel.param_names());
        }
    }
}

#[test]
fn values_fixed_and_priors_land_on_the_named_parameters() {
    let r = resolved(
        "linear(year, offset=fixed(0.5)) + se(year, temp, lengthscale=[2, 3]) \
         * periodic(year, period=fixed(1), lengthscale=0.7 ~ gamma(2, 1))",
    );
    assert_eq!(
        r.fixed,
        ["sum[0].offset", "sum[1].product[1].period"].map(String::from)
    );
    let prior_names: Vec<&str> = r.priors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(prior_names, ["sum[1].product[1].lengthscale"]);
    let text = printed(&r);
    for piece in [
        "linear(year, variance=1, offset=fixed(0.5))",
        "se(year, temp, variance=1, lengthscale=[2, 3])",
        "periodic(year, variance=1, period=fixed(1), lengthscale=0.7 ~ gamma(2, 1))",
    ] {
        assert!(text.contains(piece), "{piece} not in {text}");
    }
    assert_eq!(resolved(&text).fixed, r.fixed);
}

/// A call without columns reads every column and prints without them; `rbf` is `se`.
#[test]
fn bare_names_read_every_column() {
    let r = resolved("rbf + polynomial(degree=3)");
    assert_eq!(r.kernel.input_dim(), 3);
    assert_eq!(
        printed(&r),
        "se(variance=1, lengthscale=[1, 1, 1]) + polynomial(degree=3, variance=1, offset=1)"
    );
}

/// Each mistake is reported at its call or argument with what was expected.
#[test]
fn mistakes_name_their_position_and_the_accepted_choices() {
    let cases: &[(&str, usize, &str)] = &[
        ("se(year) + sinc(year)", 12, "a kernel name: se, matern12"),
        ("se(height)", 1, "one of: year (0), temp (1), site (2)"),
        ("se(year, year)", 1, "a column not listed before"),
        ("se(3)", 1, "a column not listed before"),
        (
            "se(year, period=2)",
            10,
            "a parameter of se: variance, lengthscale",
        ),
        (
            "se(year, temp, lengthscale=[1, 2, 3])",
            16,
            "one value or 2",
        ),
        (
            "polynomial(year, degree=1.5)",
            18,
            "degree=n with a whole n",
        ),
        ("se(year, degree=2)", 10, "a parameter of se"),
        ("se(year, variance=1, variance=2)", 22, "each keyword once"),
        ("se(year, lengthscale=-1)", 1, "values the kernel accepts"),
        ("categorical(site, rho=1.5)", 1, "values the kernel accepts"),
    ];
    for &(text, column, expected) in cases {
        let e = resolve(&parse(text).unwrap(), &columns()).expect_err(text);
        assert_eq!(e.column, column, "{text}: {e}");
        assert!(e.expected.contains(expected), "{text}: {e}");
    }
}

/// Indices name columns of a table without a header; they print as indices.
#[test]
fn indices_work_without_names() {
    let unnamed = vec![String::new(); 3];
    let expr = parse("matern32(0, 2) * cosine(1, period=4)").unwrap();
    let r = resolve(&expr, &unnamed).unwrap();
    let text = describe(r.kernel.as_ref(), &unnamed, &[], &[])
        .unwrap()
        .to_string();
    assert!(text.starts_with("matern32(0, 2, variance=1"), "{text}");
    assert!(text.contains("cosine(1, variance=1, period=4)"), "{text}");
}
