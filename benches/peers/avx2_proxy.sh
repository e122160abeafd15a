#!/usr/bin/env bash
# Runs one of the harness's scripts with svgp, GPflow, GPyTorch and numpy held to AVX2 on a CPU
# that also has AVX-512 (issue 18: "speed on AVX2 as well as AVX-512"). The cores, caches and
# clock stay the AVX-512 machine's: this measures the AVX2 code paths, not an AVX2-only machine.
#
#   benches/peers/avx2_proxy.sh run.py --repeats 3
#   benches/peers/avx2_proxy.sh time_to_accuracy.py --cases kin40k ...
#   benches/peers/avx2_proxy.sh matmul_gflops.py --threads 2 --openblas-coretype Haswell
#
# - svgp: a git worktree of HEAD (committed code only) in $AVX2_DIR/wt, default
#   /tmp/svgp-avx2/wt, whose Cargo.toml patches faer with a copy from cargo's registry in which
#   `is_x86_feature_detected!("avx512f")` is false at faer's three product dispatch sites, and
#   whose src/simd.rs never dispatches to AVX-512F. (pulp, gemm and nano-gemm take their AVX-512
#   paths only with faer's `nightly` feature, which svgp does not enable.)
# - GPyTorch: MKL_ENABLE_INSTRUCTIONS=AVX2 and ATEN_CPU_CAPABILITY=avx2.
# - GPflow: ONEDNN_MAX_CPU_ISA=AVX2 (TensorFlow's own kernels are built for AVX2 at most).
# - numpy: OPENBLAS_CORETYPE=Haswell.
# For the scripts that take --work (run.py, time_to_accuracy.py) it defaults to $AVX2_DIR/peers
# (a later --work in the arguments wins). The worktree stays registered in this repository until
# `git worktree remove --force "$AVX2_DIR/wt"`.
set -euo pipefail
PYTHON="${PYTHON:-/tmp/peersvenv/bin/python}"
DIR="${AVX2_DIR:-/tmp/svgp-avx2}"
SCRIPT="${1:?usage: avx2_proxy.sh SCRIPT.py [options of that script]}"
shift
ROOT="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"

cargo fetch --locked --manifest-path "$ROOT/Cargo.toml" >/dev/null
FAER_VERSION="$(awk '$0 == "name = \"faer\"" { getline; gsub(/[^0-9.]/, "", $3); print $3 }' "$ROOT/Cargo.lock")"
FAER_SRC="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"faer-$FAER_VERSION" | head -n 1)"

mkdir -p "$DIR"
git -C "$ROOT" worktree remove --force "$DIR/wt" 2>/dev/null || rm -rf "$DIR/wt"
git -C "$ROOT" worktree add --detach "$DIR/wt" HEAD >/dev/null
rm -rf "$DIR/faer"
cp -r "$FAER_SRC" "$DIR/faer"

"$PYTHON" - "$DIR" <<'EOF'
import pathlib, re, sys

root = pathlib.Path(sys.argv[1])
detect = re.compile(r'std::arch::is_x86_feature_detected!\(\s*"avx512f"\s*\)')
sites = 0
for rel in ["mod.rs", "triangular.rs", "internal/mod.rs"]:
    path = root / "faer/src/linalg/matmul" / rel
    text, n = detect.subn("(false && std::arch::is_x86_feature_detected!(\"avx512f\"))", path.read_text())
    path.write_text(text)
    sites += n
if sites != 3:
    sys.exit(f"expected faer's 3 AVX-512 product dispatch sites, patched {sites}")
simd = root / "wt/src/simd.rs"
old = 'pub(crate) fn dispatch<R>(f: impl FnOnce() -> R) -> R {\n    #[cfg(target_arch = "x86_64")]\n    {\n        if std::is_x86_feature_detected!("avx512f")'
if old not in simd.read_text():
    sys.exit("src/simd.rs: dispatch() no longer reads as this script expects")
simd.write_text(simd.read_text().replace(old, old.replace("if std::", "if false && std::")))
cargo = root / "wt/Cargo.toml"
cargo.write_text(cargo.read_text() + f'\n[patch.crates-io]\nfaer = {{ path = "{root / "faer"}" }}\n')
EOF

cd "$DIR/wt"
export CARGO_TARGET_DIR="$DIR/target"
export MKL_ENABLE_INSTRUCTIONS=AVX2 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell
WORK=()
if grep -q -- '"--work"' "benches/peers/$SCRIPT"; then WORK=(--work "$DIR/peers"); fi
exec "$PYTHON" "benches/peers/$SCRIPT" "${WORK[@]}" "$@"
