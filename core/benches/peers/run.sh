#!/usr/bin/env bash
# Peer benchmark: sumi-core vs onnxruntime (int8 and fp32) and tract (fp32), one process, one
# thread, batch 1, interleaved rounds, for the default and tiny models; plus batch-64
# throughput. See README.md beside this script.
#
#   core/benches/peers/run.sh [--json FILE] [--rounds N] [--images N]
#
# Needs python3 (with venv), MNIST (MNIST_DIR, else ../shared/mnist beside the checkout) and
# crates.io/PyPI the first time. Creates its venv in target/peers/venv (or $SUMI_PEERS_VENV).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$target/peers"
venv="${SUMI_PEERS_VENV:-$work/venv}"
mkdir -p "$work"

args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --json) [ $# -ge 2 ] || { echo "--json needs a FILE" >&2; exit 2; }
                args+=(--json "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift 2 ;;
        --rounds|--images) [ $# -ge 2 ] || { echo "$1 needs a number" >&2; exit 2; }
                args+=("$1" "$2"); shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "unknown argument $1 (use --json FILE, --rounds N, --images N)" >&2; exit 2 ;;
    esac
done

if [ -z "${MNIST_DIR:-}" ]; then
    if [ -d "$root/../shared/mnist" ]; then
        MNIST_DIR="$(cd "$root/../shared/mnist" && pwd)"
    else
        echo "MNIST_DIR is not set and there is no ../shared/mnist: point MNIST_DIR at the MNIST files" >&2
        exit 2
    fi
fi

t0=$(date +%s)
echo "== venv $venv (onnxruntime, onnx, tract, numpy from PyPI)"
if ! "$venv/bin/python" -c "import onnxruntime, onnx, tract, numpy" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
fi

echo "== ONNX export of both committed models (sumi-train export-onnx)"
# SUMI_TRAIN_BIN: a sumi-train binary already built (CI passes the one `cargo test --workspace`
# built; a separate `cargo build -p sumi-train` unifies burn's features differently and rebuilds it).
if [ -n "${SUMI_TRAIN_BIN:-}" ]; then
    bin=$SUMI_TRAIN_BIN
else
    cargo build -q -p sumi-train
    bin="$target/debug/sumi-train"
fi
"$bin" export-onnx --model core/models/default.sumi --out "$work/default.onnx"
"$bin" export-onnx --model host-train/models/tiny.sumi --out "$work/tiny.onnx"

echo "== sumi-core cdylib (release; AVX2 chosen at run time, no target-cpu flags)"
cargo build -q --release --manifest-path "$here/ffi/Cargo.toml" --target-dir "$work/ffi"
case "$(uname -s)" in
    Darwin) lib="$work/ffi/release/libsumi_peers_ffi.dylib" ;;
    *) lib="$work/ffi/release/libsumi_peers_ffi.so" ;;
esac

echo "== benchmark (prepared in $(( $(date +%s) - t0 )) s)"
# One thread everywhere (onnxruntime is also told so per session).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 RAYON_NUM_THREADS=1
"$venv/bin/python" "$here/bench.py" --lib "$lib" --mnist "$MNIST_DIR" --work "$work" \
    --model "default=core/models/default.sumi=$work/default.onnx" \
    --model "tiny=host-train/models/tiny.sumi=$work/tiny.onnx" \
    ${args[@]+"${args[@]}"}
echo "== done in $(( $(date +%s) - t0 )) s"
