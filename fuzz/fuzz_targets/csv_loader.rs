//! Fuzzes the CSV loader: any bytes must give a table or a typed error, never a panic.
//! Run: `cargo fuzz run csv_loader` (from the repository root; needs cargo-fuzz).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = svgp::data::read_csv_from(data, "fuzz.csv", None, None);
    let _ = svgp::data::read_csv_from(data, "fuzz.csv", Some("y"), Some(&["x1", "x2"]));
});
