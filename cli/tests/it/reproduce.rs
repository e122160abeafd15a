//! `reproduce --quick` runs end to end on the shipped datasets, its exactness table is
//! within 1e-8 (rounding is ~1e-14, so 1e-8 has six orders of margin and would still catch a
//! wrong step, whose gap is ≥ 1e-3), and two runs with the same seed write the same REPORT.md.

use std::path::PathBuf;
use svgp_cli::reproduce::{reproduce, ReproduceOptions};

fn options(tag: &str) -> ReproduceOptions {
    let out_dir = std::env::temp_dir().join(format!("svgp-reproduce-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    ReproduceOptions {
        out_dir,
        datasets_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets")),
        quick: true,
        seed: 0,
        timing: false,
    }
}

#[test]
fn quick_reproduction_is_exact_complete_and_repeatable() {
    let (first_opts, second_opts) = (options("a"), options("b"));
    let first = reproduce(&first_opts, &mut |_| {}).unwrap();
    let second = reproduce(&second_opts, &mut |_| {}).unwrap();

    assert!(
        first.worst_exactness_gap <= 1e-8,
        "one θ step vs the SGPR bound: {:e}",
        first.worst_exactness_gap
    );
    let text = std::fs::read_to_string(&first.report).unwrap();
    assert_eq!(
        text,
        std::fs::read_to_string(&second.report).unwrap(),
        "two runs with seed 0 wrote different reports"
    );

    check_sections_and_rows(&text);
    check_ill_conditioned_section(&text);
    check_figures(&text, &first.figures);
    let _ = std::fs::remove_dir_all(&first_opts.out_dir);
    let _ = std::fs::remove_dir_all(&second_opts.out_dir);
}

/// Every section of REPORT.md `text` is present, with its exactness, per-method and one-factor
/// rows.
fn check_sections_and_rows(text: &str) {
    for heading in [
        "## (a) One natural step",
        "## (b) ELBO against iterations",
        "## (c) Stability",
        "## (d) Beside the paper",
        "## (e) An ill-conditioned posterior",
        "## (g) The banana discrepancy",
    ] {
        assert!(text.contains(heading), "missing section {heading}");
    }
    // Every regression set has an exactness row, every case its table row per method.
    for set in [
        "snelson1d",
        "yacht",
        "energy",
        "concrete",
        "naval",
        "kin40k",
        "protein",
    ] {
        assert!(
            text.contains(&format!("| {set} |")),
            "no exactness row for {set}"
        );
    }
    for (method, rows) in [
        ("Adam alone", 7),
        ("natgrad θ + Adam", 7),
        ("natgrad η + Adam", 6),
        ("natgrad (m, L) + Adam", 6),
    ] {
        assert_eq!(
            text.matches(&format!("| {method} |")).count(),
            rows,
            "{method}: one row per likelihood case (and in (e) for Adam at 0.01 and θ)"
        );
    }
    // (g): a row per setting of the one-factor table, each base and 2 × 9 changes.
    let g = &text[text.find("## (g)").unwrap()..];
    for base in ["published setting", "report's setting"] {
        assert_eq!(g.matches(&format!("\n| {base}")).count(), 10, "{base}");
    }
}

/// Section (e) of REPORT.md `text`: the natural-gradient run ends far above every Adam run.
fn check_ill_conditioned_section(text: &str) {
    // (e): at the quick budget already, the natural-gradient run ends far above every Adam run
    // (measured −5.8e4 against ≤ −1.2e7).
    let section = &text[text.find("## (e)").unwrap()..];
    let final_elbo = |label: &str| -> f64 {
        let row = section
            .lines()
            .find(|l| l.starts_with(&format!("| {label} |")))
            .unwrap();
        row.split('|').nth(2).unwrap().trim().parse().unwrap()
    };
    let natural = final_elbo("natgrad θ + Adam");
    for adam in ["Adam alone, lr 0.001", "Adam alone", "Adam alone, lr 0.1"] {
        assert!(
            natural > final_elbo(adam) + 1e5,
            "{adam}: {}",
            final_elbo(adam)
        );
    }
}

/// The report's `figures` are linked from `text`, and no timing figure is in it.
fn check_figures(text: &str, figures: &[PathBuf]) {
    assert!(!text.contains("seconds"), "no timing in REPORT.md");
    // The figures exist, are PNGs, and are not blank.
    assert_eq!(figures.len(), 8);
    for figure in figures {
        let bytes = std::fs::read(figure).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", figure.display());
        assert!(
            bytes.len() > 20_000,
            "{}: {} bytes",
            figure.display(),
            bytes.len()
        );
        let name = figure.file_name().unwrap().to_str().unwrap();
        assert!(text.contains(&format!("]({name})")), "{name} not linked");
    }
}

/// A missing datasets directory is an error naming the file, not a panic, and writes no report.
#[test]
fn missing_datasets_are_reported_by_file() {
    let mut opts = options("missing");
    opts.datasets_dir = PathBuf::from("/nonexistent/datasets");
    let err = reproduce(&opts, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/datasets/snelson1d.csv"), "{err}");
    assert!(!opts.out_dir.join("REPORT.md").exists());
    let _ = std::fs::remove_dir_all(&opts.out_dir);
}

/// `--timing --quick` writes TIMING.md (with the machine, the warning that the numbers vary,
/// a table per case of (b) and (e)) and an SVG figure per case, and no REPORT.md.
#[test]
fn timing_writes_its_own_file() {
    let mut opts = options("timing");
    opts.timing = true;
    let summary = reproduce(&opts, &mut |_| {}).unwrap();
    assert_eq!(summary.report, opts.out_dir.join("TIMING.md"));
    assert!(!opts.out_dir.join("REPORT.md").exists());
    let text = std::fs::read_to_string(&summary.report).unwrap();
    for needle in [
        "Machine: ",
        "vary from run to run",
        "## Summary",
        "seconds to target",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
    assert_eq!(
        text.matches("\n## ").count(),
        8,
        "seven cases and the summary"
    );
    assert_eq!(summary.figures.len(), 7);
    for figure in &summary.figures {
        let svg = std::fs::read_to_string(figure).unwrap();
        // a chart of training seconds with the two methods' series drawn (not grid lines only)
        assert!(svg.starts_with("<svg") && svg.contains("training seconds"));
        for colour in ["#0000FF", "#FF0000"] {
            let series = format!("stroke=\"{colour}\" stroke-width=\"2\"");
            assert!(svg.contains(&series), "{colour} series missing");
        }
        let name = figure.file_name().unwrap().to_str().unwrap();
        assert!(text.contains(&format!("]({name})")), "{name} not linked");
    }
    let _ = std::fs::remove_dir_all(&opts.out_dir);
}
