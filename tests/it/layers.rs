//! The library's layering: each top-level module of src/ refers (through `crate::…`) only to
//! modules of earlier layers, so there is no import cycle, and none refers to the command line.
//! A module's own submodules (`super::`, `self::`) are its business.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, lowest first; a module may use any module of an earlier entry.
const LAYERS: &[&[&str]] = &[
    &["error", "simd", "parallel"],
    &["transform", "linalg", "data", "prior"],
    &["kernel", "likelihood", "variational"],
    &["model"],
    &["optim"],
    &["tabular"],
    &["plot"],
    &["prelude"],
];

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| panic!("module {module} is in no layer: add it to LAYERS"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules named after `crate::` in `text`.
fn crate_refs(text: &str) -> BTreeSet<String> {
    text.match_indices("crate::")
        .map(|(i, _)| {
            text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|m| !m.is_empty() && m.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .collect()
}

#[test]
fn modules_use_only_earlier_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut checked = 0;
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs");
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("svgp_cli"),
            "{}: the library refers to the command line",
            rel.display()
        );
        let own = layer_of(module);
        for used in crate_refs(&text) {
            if used == module || matches!(used.as_str(), "Result" | "SvgpError") {
                continue;
            }
            assert!(
                layer_of(&used) < own,
                "{} (layer {own}) uses crate::{used} (layer {}): an upward or same-layer import",
                rel.display(),
                layer_of(&used)
            );
        }
        checked += 1;
    }
    assert!(checked > 40, "only {checked} files checked");
}
