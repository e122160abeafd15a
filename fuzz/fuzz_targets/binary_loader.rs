//! Fuzzes the binary-table reader (`.svgpb`): any bytes must open to a table whose rows all read
//! back, or give a typed error, never a panic or an allocation sized by a corrupt header.
//! Run: `cargo fuzz run binary_loader` (from the repository root; needs cargo-fuzz).
#![no_main]

use libfuzzer_sys::fuzz_target;
use svgp::data::BinaryFile;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("svgp-fuzz-{}.svgpb", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(file) = BinaryFile::open(&path) {
        let n = file.header().num_rows;
        let mut out = Vec::new();
        let mut first = 0;
        while first < n {
            let count = (n - first).min(1024) as usize;
            let _ = file.read_rows(first, count, &mut out);
            first += count as u64;
        }
        // A range beyond the rows is an error, not a panic.
        assert!(file.read_rows(n, 1, &mut out).is_err());
    }
});
