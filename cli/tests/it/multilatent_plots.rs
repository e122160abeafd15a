//! `svgp fit --plots` for the multi-latent models: the class map and the confusion matrix of a
//! 3-class fit, and the heteroscedastic 1-D fit (with the library's comparison panel beside a
//! homoscedastic fit of the same data).

use nalgebra::{DMatrix, DVector};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use svgp::tabular::SavedModel;

fn svgp(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_svgp"))
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("svgp-mlplots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A uniform number in [0, 1) from a seeded linear congruential sequence.
fn uniform(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

/// 150 rows of three classes around (−2, −2), (2, −2) and (0, 2) in (a, b), with a third input
/// c of noise: columns a, b, c, class.
fn three_class_csv(path: &Path) {
    let mut state = 7;
    let mut text = String::from("a,b,c,class\n");
    for i in 0..150 {
        let class = i % 3;
        let (ca, cb) = [(-2.0, -2.0), (2.0, -2.0), (0.0, 2.0)][class];
        let a = ca + 1.6 * (uniform(&mut state) - 0.5);
        let b = cb + 1.6 * (uniform(&mut state) - 0.5);
        let c = uniform(&mut state);
        text.push_str(&format!("{a},{b},{c},{class}\n"));
    }
    std::fs::write(path, text).unwrap();
}

/// A real PNG (its signature), larger than a blank image compresses to.
fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is a PNG",
        path.display()
    );
    assert!(
        bytes.len() > 10_000,
        "{}: {} bytes",
        path.display(),
        bytes.len()
    );
}

/// The plot files `fit --json` lists.
fn plots_listed(out: &Output) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    value["plots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

/// A 3-class robust-max fit on two inputs writes the class map and the confusion matrix (and
/// the ELBO trace); on three inputs, the confusion matrix but no map.
#[test]
fn multiclass_fit_writes_the_map_and_the_confusion_matrix() {
    let data = scratch("three_classes.csv");
    three_class_csv(&data);
    for (features, map) in [(Some("a,b"), true), (None, false)] {
        let dir = scratch(&format!("plots-map-{map}"));
        let mut args = vec![
            "fit",
            "--data",
            data.to_str().unwrap(),
            "--target",
            "class",
            "--likelihood",
            "robustmax",
            "--inducing",
            "10",
            "--iterations",
            "30",
            "--json",
            "--plots",
            dir.to_str().unwrap(),
        ];
        if let Some(f) = features {
            args.extend(["--features", f]);
        }
        let listed = plots_listed(&svgp(&args));
        let mut expected = vec!["confusion.png", "elbo.png"];
        if map {
            expected.insert(0, "classification.png");
        }
        let names: Vec<String> = expected
            .iter()
            .map(|n| dir.join(n).display().to_string())
            .collect();
        assert_eq!(listed, names);
        for name in &expected {
            assert_png(&dir.join(name));
        }
        assert_eq!(dir.join("classification.png").exists(), map);
    }
}

/// A heteroscedastic fit on one input writes its 1-D fit; the library draws it beside a
/// homoscedastic fit of the same data from the two model files.
#[test]
fn heteroscedastic_fit_is_drawn_beside_a_homoscedastic_one() {
    let mut state = 11;
    let x = DMatrix::from_fn(200, 1, |i, _| -3.0 + 6.0 * i as f64 / 199.0);
    let y = DVector::from_fn(200, |i, _| {
        let t = x[(i, 0)];
        let noise = 0.05 * (10f64).powf((t + 3.0) / 6.0);
        t.sin() + noise * (uniform(&mut state) - 0.5) * 3.5
    });
    let data = scratch("hetero.csv");
    let rows: String = (0..200)
        .map(|i| format!("{},{}\n", x[(i, 0)], y[i]))
        .collect();
    std::fs::write(&data, format!("x,y\n{rows}")).unwrap();
    let mut models = Vec::new();
    for likelihood in ["heteroscedastic", "gaussian"] {
        let dir = scratch(&format!("plots-{likelihood}"));
        let model = scratch(&format!("{likelihood}.json"));
        svgp(&[
            "fit",
            "--data",
            data.to_str().unwrap(),
            "--likelihood",
            likelihood,
            "--inducing",
            "10",
            "--iterations",
            "50",
            "--quiet",
            "--output",
            model.to_str().unwrap(),
            "--plots",
            dir.to_str().unwrap(),
        ]);
        assert_png(&dir.join("fit.png"));
        models.push(SavedModel::load(&model).unwrap());
    }
    let path = scratch("hetero_vs_homo.png");
    svgp::plot::heteroscedastic_1d(&path, &models[0], &x, &y, Some(&models[1])).unwrap();
    assert_png(&path);
}
