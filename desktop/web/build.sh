#!/usr/bin/env bash
# Builds the Sumi app for the browser: the same window (.slint files), sumi-core and embedded
# 1,000 MNIST test images as the desktop app, compiled to wasm32-unknown-unknown, as a static
# page in target/web/ (index.html, sumi_desktop.js, sumi_desktop_bg.wasm). Serve that folder
# with any static file server, e.g. `python3 -m http.server -d target/web 8000`.
#
# Installs what it needs on first use: the wasm32-unknown-unknown target (rustup) and
# wasm-bindgen-cli at exactly the version of the wasm-bindgen crate in Cargo.lock, built from
# crates.io into target/wasm-tools (no prebuilt downloads).
#
# Usage: desktop/web/build.sh [out-dir (default target/web)]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
out=${1:-$target_dir/web}

version=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$version" ] || { echo "build.sh: no wasm-bindgen in Cargo.lock" >&2; exit 1; }

rustup target list --installed | grep -qx wasm32-unknown-unknown ||
    rustup target add wasm32-unknown-unknown

tools=$target_dir/wasm-tools
bindgen=$tools/bin/wasm-bindgen
if ! { [ -x "$bindgen" ] && [ "$("$bindgen" --version)" = "wasm-bindgen $version" ]; }; then
    echo "build.sh: building wasm-bindgen-cli $version from crates.io into $tools"
    cargo install wasm-bindgen-cli --version "=$version" --root "$tools" --force
fi

# A cdylib only for this build: the desktop crate stays an rlib everywhere else.
cargo rustc -p sumi-desktop --lib --crate-type cdylib --profile wasm-release \
    --target wasm32-unknown-unknown

mkdir -p "$out"
"$bindgen" --target web --no-typescript --out-dir "$out" \
    "$target_dir/wasm32-unknown-unknown/wasm-release/sumi_desktop.wasm"
cp desktop/web/index.html "$out/"

wasm=$out/sumi_desktop_bg.wasm
js=$out/sumi_desktop.js
raw=$(($(wc -c <"$wasm") + $(wc -c <"$js")))
gz=$(($(gzip -9 -c "$wasm" | wc -c) + $(gzip -9 -c "$js" | wc -c)))
echo "build.sh: page in $out: wasm + JS $raw bytes, $gz bytes gzip -9"
