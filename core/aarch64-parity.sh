#!/usr/bin/env bash
# sumi-core on aarch64 (kiosk boards of the Raspberry Pi class): runs all core tests built for
# aarch64-unknown-linux-gnu under user-mode QEMU, and the golden-logits test (the committed
# models' logits on all 10,000 MNIST test images equal the original engine's), once per emulated
# CPU, so that every NEON kernel is checked bit-exact against the portable reference, the direct
# definition and the original engine:
#   cortex-a72 (Pi 4 class, no dotprod): the NEON kernel (SMULL + SADALP), dispatched;
#   cortex-a76 (Pi 5 class, dotprod):    the NEON kernel and the SDOT kernel, SDOT dispatched.
# SUMI_EXPECT_DOTPROD makes a test fail if run-time detection disagrees with the CPU, so the
# SDOT path cannot be skipped silently. MNIST_DIR / SUMI_REQUIRE_MNIST pass through to the tests.
#
# Installs nothing. Needs: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
# and rustup target add aarch64-unknown-linux-gnu.
# Usage: core/aarch64-parity.sh [extra cargo test args, e.g. --release]
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
sysroot=/usr/aarch64-linux-gnu
missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=("gcc-aarch64-linux-gnu")
[ -d "$sysroot/lib" ] || missing+=("libc6-dev-arm64-cross")
command -v qemu-aarch64 >/dev/null || missing+=("qemu-user")
if [ ${#missing[@]} -gt 0 ]; then
    echo "aarch64-parity: missing ${missing[*]}: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
if ! rustup target list --installed | grep -qx "$target"; then
    echo "aarch64-parity: missing Rust target: rustup target add $target" >&2
    exit 1
fi

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
qemu-aarch64 --version | head -1

for cpu in cortex-a72 cortex-a76; do
    expect=0
    [ "$cpu" = cortex-a76 ] && expect=1
    echo "== sumi-core tests on $target under qemu-aarch64 -cpu $cpu (SUMI_EXPECT_DOTPROD=$expect)"
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L $sysroot -cpu $cpu"
    export SUMI_EXPECT_DOTPROD=$expect
    cargo test -p sumi-core --target "$target" "$@"
    cargo test -p sumi-tests --test golden_logits --target "$target" "$@" -- --nocapture
done
echo "aarch64 parity: sumi-core tests and golden logits passed on cortex-a72 (NEON) and cortex-a76 (NEON + SDOT)"
