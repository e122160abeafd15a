use super::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn call(name: &str, columns: Vec<Column>, args: Vec<Arg>) -> Expr {
    let mut call = Call::new(name, columns);
    call.args = args;
    Expr::Call(call)
}

fn arg(name: &str, value: Option<Vec<f64>>, fixed: bool, prior: Option<PriorCall>) -> Arg {
    Arg {
        name: name.to_string(),
        value,
        fixed,
        prior,
        position: 0,
    }
}

/// Clears parse positions so trees from text compare with trees built in code.
fn unplaced(expr: Expr) -> Expr {
    match expr {
        Expr::Call(mut c) => {
            c.position = 0;
            c.args.iter_mut().for_each(|a| a.position = 0);
            Expr::Call(c)
        }
        Expr::Sum(parts) => Expr::Sum(parts.into_iter().map(unplaced).collect()),
        Expr::Product(parts) => Expr::Product(parts.into_iter().map(unplaced).collect()),
    }
}

fn parsed(text: &str) -> Expr {
    unplaced(parse(text).unwrap_or_else(|e| panic!("{text}: {e}")))
}

fn name(n: &str) -> Column {
    Column::Name(n.to_string())
}

#[test]
fn the_issue_example_parses_with_products_binding_tighter() {
    let year = || vec![name("year")];
    let expected = Expr::Sum(vec![
        call("linear", year(), vec![]),
        Expr::Product(vec![
            call("se", year(), vec![]),
            call(
                "periodic",
                year(),
                vec![arg("period", Some(vec![1.0]), false, None)],
            ),
        ]),
    ]);
    assert_eq!(
        parsed("linear(year) + se(year) * periodic(year, period=1)"),
        expected
    );
}

#[test]
fn values_fixed_lists_priors_indices_and_quotes() {
    let text = r#"se(0, "bill length", x2, lengthscale=[1, 2.5, -3e-2], variance=fixed(2)) * rq(alpha ~ gamma(2, 1), variance=0.5 ~ lognormal(-1, 0.5))"#;
    let expected = Expr::Product(vec![
        call(
            "se",
            vec![Column::Index(0), name("bill length"), name("x2")],
            vec![
                arg("lengthscale", Some(vec![1.0, 2.5, -0.03]), false, None),
                arg("variance", Some(vec![2.0]), true, None),
            ],
        ),
        call(
            "rq",
            vec![],
            vec![
                arg("alpha", None, false, Some(prior("gamma", &[2.0, 1.0]))),
                arg(
                    "variance",
                    Some(vec![0.5]),
                    false,
                    Some(prior("lognormal", &[-1.0, 0.5])),
                ),
            ],
        ),
    ]);
    assert_eq!(parsed(text), expected);
}

fn prior(family: &str, args: &[f64]) -> PriorCall {
    PriorCall {
        family: family.to_string(),
        args: args.to_vec(),
    }
}

#[test]
fn brackets_group_and_nested_chains_flatten() {
    let a = || call("a", vec![], vec![]);
    let (b, c) = (|| call("b", vec![], vec![]), || call("c", vec![], vec![]));
    assert_eq!(
        parsed("(a + b) * c"),
        Expr::Product(vec![Expr::Sum(vec![a(), b()]), c()])
    );
    assert_eq!(parsed("a + (b + c)"), Expr::Sum(vec![a(), b(), c()]));
    assert_eq!(parsed("((a))"), a());
    assert_eq!(parsed("a()"), a());
}

/// Each error names the 1-based column of the offending token and what was expected there.
#[test]
fn errors_name_the_column_and_what_was_expected() {
    let deep = format!("{}se", "(".repeat(65));
    let cases: &[(&str, usize, &str)] = &[
        ("se(x) +", 8, "a kernel name"),
        ("se(x", 5, "',' or ')'"),
        ("se(x, lengthscale=)", 19, "a number"),
        (
            "se(lengthscale=1, x)",
            19,
            "columns come before keyword arguments",
        ),
        ("se(x) periodic(x)", 7, "'+', '*' or the end"),
        ("se(x, variance=fixed 1)", 22, "'(' after fixed"),
        ("se(x, variance ~ 3)", 18, "a prior such as"),
        ("se(x) $ 2", 7, "a kernel name, column, number"),
        ("se(\"x)", 4, "closing '\"'"),
        ("se(x, l=[1, 2)", 14, "',' or ']'"),
        ("se(1.5)", 4, "a column"),
        ("(se(x)", 7, "')' closing the bracket"),
        ("", 1, "a kernel name"),
        // 65 brackets: refused at the 65th instead of recursing until the stack overflows
        (&deep, 65, "at most 64 nested brackets"),
    ];
    for &(text, column, expected) in cases {
        let e = parse(text).expect_err(text);
        assert_eq!(e.column, column, "{text}: {e}");
        assert!(e.expected.contains(expected), "{text}: {e}");
    }
}

#[test]
fn the_crate_error_quotes_the_expression() {
    let e = parse("se(x) +").unwrap_err().in_expression("se(x) +");
    assert_eq!(
        e.to_string(),
        "kernel expression \"se(x) +\", column 8: expected a kernel name such as se, periodic or \
         linear, or '(', found the end of the expression"
    );
}

#[test]
fn printing_is_canonical_and_parses_back() {
    for text in [
        "linear(year) + se(year) * periodic(year, period=1)",
        "(se(a) + matern32(b)) * constant()",
        r#"se("with \"quote\" and \\", 3, lengthscale=[0.1, 1e-300], variance=fixed(2) ~ halfnormal(1))"#,
        "white(noise ~ gamma(2, 0.5))",
    ] {
        let once = parse(text).unwrap().to_string();
        assert_eq!(parsed(&once), parsed(text), "{text} → {once}");
        assert_eq!(parse(&once).unwrap().to_string(), once);
    }
}

/// Seeded random trees print to text that parses back to the same tree, values bit for bit.
#[test]
fn random_trees_round_trip_through_text() {
    let mut rng = StdRng::seed_from_u64(35);
    for _ in 0..300 {
        let tree = random_expr(&mut rng, 3);
        let text = tree.to_string();
        assert_eq!(parsed(&text), tree, "{text}");
    }
}

fn random_expr(rng: &mut StdRng, depth: u32) -> Expr {
    let kind = if depth == 0 {
        0
    } else {
        rng.random_range(0..3)
    };
    if kind == 0 {
        return random_call(rng);
    }
    let parts: Vec<Expr> = (0..rng.random_range(2..4))
        .map(|_| random_expr(rng, depth - 1))
        .collect();
    if kind == 1 {
        Expr::Sum(parts.into_iter().flat_map(unsum).collect())
    } else {
        Expr::Product(parts.into_iter().flat_map(unproduct).collect())
    }
}

fn unsum(e: Expr) -> Vec<Expr> {
    match e {
        Expr::Sum(parts) => parts,
        other => vec![other],
    }
}

fn unproduct(e: Expr) -> Vec<Expr> {
    match e {
        Expr::Product(parts) => parts,
        other => vec![other],
    }
}

fn random_call(rng: &mut StdRng) -> Expr {
    let columns = (0..rng.random_range(0..3))
        .map(|i| match rng.random_range(0..3) {
            0 => Column::Index(rng.random_range(0..20)),
            1 => Column::Name(format!("x_{i}.a")),
            _ => Column::Name(format!("odd name {i}\"")),
        })
        .collect();
    let args = (0..rng.random_range(0..3))
        .map(|i| {
            let value = rng.random_bool(0.7).then(|| {
                (0..rng.random_range(1..3))
                    .map(|_| random_number(rng))
                    .collect()
            });
            let fixed = value.is_some() && rng.random_bool(0.3);
            let prior = (value.is_none() || rng.random_bool(0.3))
                .then(|| prior("gamma", &[random_number(rng), random_number(rng)]));
            arg(&format!("p{i}"), value, fixed, prior)
        })
        .collect();
    call("k", columns, args)
}

fn random_number(rng: &mut StdRng) -> f64 {
    let v: f64 = rng.random_range(-1.0..1.0) * 10f64.powi(rng.random_range(-8..8));
    v
}
