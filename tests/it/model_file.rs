//! Saved models survive upgrades: a model file written by format version 1 (committed in
//! tests/data/compat/ with the predictions the writing version made) loads in this version and
//! predicts the same values. The tolerance, 1e-9 relative, allows rounding-level changes in the
//! arithmetic of later versions (summation order, vector paths) and nothing a misread field or a
//! changed convention (a transform, a scaling, a column order) could produce.

use std::path::Path;
use svgp::data::read_csv;
use svgp::tabular::{predict, SavedModel};

#[test]
fn a_version_1_model_file_loads_and_predicts_as_it_did() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let saved = SavedModel::load(root.join("tests/data/compat/model_v1.json")).unwrap();
    assert_eq!(saved.feature_names, ["x"]);
    assert_eq!(saved.target_name, "y");
    let inputs = read_csv(
        root.join("datasets/snelson1d_test_inputs.csv"),
        Some("x"),
        Some(&[]),
    )
    .unwrap();
    let x = nalgebra::DMatrix::from_column_slice(inputs.y.len(), 1, inputs.y.as_slice());
    let (mean, var) = predict(&saved, &x).unwrap();
    let recorded =
        std::fs::read_to_string(root.join("tests/data/compat/model_v1_predictions.csv")).unwrap();
    let rows: Vec<(f64, f64)> = recorded
        .lines()
        .skip(1)
        .map(|l| {
            let (m, v) = l.split_once(',').unwrap();
            (m.parse().unwrap(), v.parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), mean.len());
    for (i, &(m, v)) in rows.iter().enumerate() {
        assert!(
            (mean[i] - m).abs() <= 1e-9 * m.abs().max(1.0),
            "row {i}: mean {} vs {m}",
            mean[i]
        );
        assert!(
            (var[i] - v).abs() <= 1e-9 * v.abs(),
            "row {i}: variance {} vs {v}",
            var[i]
        );
    }
}

#[test]
fn to_json_is_the_file_save_writes_and_reads_back_exactly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let saved = SavedModel::load(root.join("tests/data/compat/model_v1.json")).unwrap();
    let text = saved.to_json().unwrap();
    let dir = std::env::temp_dir().join(format!("svgp-to-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.json");
    saved.save(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    std::fs::remove_dir_all(&dir).unwrap();
    let back = SavedModel::from_json(&text, Path::new("(memory)")).unwrap();
    assert_eq!(back.to_json().unwrap(), text);
    assert_eq!(back.model.hyper_params(), saved.model.hyper_params());
    assert_eq!(back.model.q().m(), saved.model.q().m());
}
