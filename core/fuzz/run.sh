#!/usr/bin/env bash
# Build the sumi-core fuzz targets with the STABLE toolchain and run each for a while.
#
#   core/fuzz/run.sh SECONDS [TARGET...]     (default targets: load_predict preprocess)
#
# Coverage instrumentation comes from LLVM's SanitizerCoverage pass, enabled through RUSTFLAGS
# (what cargo-fuzz does, minus -Zsanitizer which needs nightly; the crate forbids unsafe code,
# so AddressSanitizer would add little). The fuzz profile keeps debug assertions and overflow
# checks on. Each target runs on a working copy of its committed seed corpus under the target
# directory, so the committed corpus never grows. Crash/timeout inputs land in
# $CARGO_TARGET_DIR/fuzz-artifacts/<target>/. Exit status is non-zero if any target crashed,
# hung, ran out of memory, or failed to build.
set -euo pipefail

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SECONDS [TARGET...]  (run each fuzz target for SECONDS)" >&2
    exit 2
fi
secs=$1
shift
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(load_predict preprocess)
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target}
host=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing -Cforce-frame-pointers=yes"

# --target keeps RUSTFLAGS (and so the instrumentation) off build scripts and proc macros.
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
cargo build --release --locked --manifest-path "$here/Cargo.toml" --target "$host" "${bins[@]}"

status=0
for t in "${targets[@]}"; do
    bin=$CARGO_TARGET_DIR/$host/release/$t
    work=$CARGO_TARGET_DIR/fuzz-corpus/$t
    artifacts=$CARGO_TARGET_DIR/fuzz-artifacts/$t
    mkdir -p "$work" "$artifacts"
    # Seed the working corpus; earlier local runs' findings in it are kept.
    cp -n "$here/corpus/$t"/* "$work"/ 2>/dev/null || true
    log=$CARGO_TARGET_DIR/fuzz-$t.log
    echo "== $t: ${secs}s on $work (log $log)"
    rc=0
    "$bin" "$work" \
        -max_total_time="$secs" \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -max_len=65536 \
        -print_final_stats=1 \
        -artifact_prefix="$artifacts/" \
        >"$log" 2>&1 || rc=$?
    # The last status line (executions, coverage) and the final stats.
    grep -E '^#[0-9]+' "$log" | tail -n 1 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb|new_units_added)' "$log" || true
    if [[ $rc -ne 0 ]]; then
        echo "!! $t: libFuzzer exited with $rc; last lines of $log:" >&2
        tail -n 60 "$log" >&2
        ls -l "$artifacts" >&2
        status=1
    fi
done
exit $status
