#!/usr/bin/env bash
# Side-by-side training throughput, same machine, same run: sumi-train (burn Flex, and
# burn-ndarray once) against PyTorch (CPU) on the default architecture, batch 128, AdamW,
# dropout and random-affine augmentation on real MNIST. Rounds alternate so machine noise hits
# both sides alike.
#
#   host-train/pytorch/compare.sh [ROUNDS]     (env: STEPS, MNIST_DIR, PYTHON; needs python3 with
#                                               torch + numpy: Debian apt-get install python3-torch)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
steps=${STEPS:-30}
data=${MNIST_DIR:-}
if [ -z "$data" ]; then
    for d in ../shared/mnist "$HOME/.cache/sumi/mnist"; do [ -d "$d" ] && { data=$d; break; }; done
fi
[ -n "$data" ] || { echo "error: set MNIST_DIR to the folder with the four MNIST .gz files" >&2; exit 1; }
py=${PYTHON:-}
if [ -z "$py" ]; then
    # A pyenv or venv python3 may shadow the system one that has Debian's torch.
    for c in python3 /usr/bin/python3; do
        if "$c" -c 'import torch, numpy' 2>/dev/null; then py=$c; break; fi
    done
fi
[ -n "$py" ] || {
    echo "error: no python3 with torch and numpy (Debian: apt-get install python3-torch; or set PYTHON)" >&2
    exit 1
}
cargo build --release -q -p sumi-train
bin="${CARGO_TARGET_DIR:-target}/release/sumi-train"
echo "machine: $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" bench --data-dir "$data" --backend ndarray --steps 2 --threads 2 | tail -n 1
for r in $(seq "$rounds"); do
    echo "round $r/$rounds"
    "$bin" bench --data-dir "$data" --backend flex --steps "$steps" --threads 2 | tail -n 1
    "$py" host-train/pytorch/train_bench.py --data-dir "$data" --steps "$steps" --threads 2
    "$py" host-train/pytorch/train_bench.py --data-dir "$data" --steps "$steps" --threads 2 --no-augment
done
