//! Fuzzes the model-file loader: any text must give a validated model or a typed error, never a
//! panic; a model that loads must also predict without panicking.
//! Run: `cargo fuzz run model_loader` (from the repository root; needs cargo-fuzz).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(saved) = svgp::tabular::SavedModel::from_json(text, std::path::Path::new("fuzz.json")) {
        let d = saved.feature_names.len();
        let x = nalgebra::DMatrix::from_element(3, d, 0.5);
        let _ = svgp::tabular::predict(&saved, &x);
    }
});
