#!/usr/bin/env python3
"""PyTorch half of `host-train/pytorch/compare.sh`: training throughput (images/s) of Sumi's
default architecture in PyTorch on the CPU, with the same batch size, optimizer (AdamW,
weight decay 1e-4), label smoothing 0.1, dropout and random-affine augmentation as `sumi-train bench`, on real MNIST.

    python3 host-train/pytorch/train_bench.py [--data-dir DIR] [--steps 30] [--threads 2]

It measures speed only; it does not train a model for Sumi (that is `sumi-train train`).
"""
import argparse
import gzip
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def load_idx(path, magic, dims):
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        sys.exit(f"cannot read {path}: {e} (put the four MNIST .gz files there or pass --data-dir)")
    head = struct.unpack(">" + "I" * (1 + dims), data[: 4 * (1 + dims)])
    if head[0] != magic:
        sys.exit(f"{path}: not an IDX file of the expected kind (magic {head[0]:#x})")
    return np.frombuffer(data, dtype=np.uint8, offset=4 * (1 + dims)).reshape(head[1:])


class Net(nn.Module):
    """`--preset default`: conv3x3 1→16 relu; conv3x3 16→32 relu maxpool2; conv3x3 32→32 relu;
    conv3x3 32→40 relu maxpool2; flatten; dropout 0.25; dense 640→56 relu; dense 56→10
    (62,074 parameters)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3)
        self.c2 = nn.Conv2d(16, 32, 3)
        self.c3 = nn.Conv2d(32, 32, 3)
        self.c4 = nn.Conv2d(32, 40, 3)
        self.drop = nn.Dropout(0.25)
        self.f1 = nn.Linear(640, 56)
        self.f2 = nn.Linear(56, 10)

    def forward(self, x):
        x = F.relu(self.c1(x))
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.relu(self.c3(x))
        x = F.max_pool2d(F.relu(self.c4(x)), 2)
        x = self.drop(torch.flatten(x, 1))
        return self.f2(F.relu(self.f1(x)))


def augment(x, gen, shift=2.0, rotate_deg=10.0, scale=0.10):
    """Random affine per image (shift ±2 px, rotation ±10°, scale ±10 %, bilinear), as
    sumi-train's `Augment::DEFAULT`."""
    n = x.shape[0]
    u = lambda: torch.rand(n, generator=gen) * 2 - 1  # noqa: E731
    a = u() * math.radians(rotate_deg)
    s = 1 + u() * scale
    tx, ty = u() * shift * 2 / 28, u() * shift * 2 / 28
    cos, sin = torch.cos(a) / s, torch.sin(a) / s
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("MNIST_DIR", "../shared/mnist"))
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-augment", action="store_true")
    args = ap.parse_args()
    if args.steps < 1 or args.batch_size < 1 or args.threads < 1:
        sys.exit("--steps, --batch-size and --threads must be at least 1")
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    images = load_idx(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz"), 0x803, 3)
    labels = load_idx(os.path.join(args.data_dir, "train-labels-idx1-ubyte.gz"), 0x801, 1)
    x_all = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y_all = torch.from_numpy(labels.astype(np.int64))
    net = Net()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(1)
    order = torch.randperm(x_all.shape[0], generator=gen)
    b = args.batch_size

    def step(i):
        idx = order[(i * b) % (x_all.shape[0] - b):][:b]
        x, y = x_all[idx], y_all[idx]
        if not args.no_augment:
            x = augment(x, gen)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y, label_smoothing=0.1)
        loss.backward()
        opt.step()

    net.train()
    for i in range(2):
        step(i)
    t = time.perf_counter()
    for i in range(2, 2 + args.steps):
        step(i)
    secs = time.perf_counter() - t
    what = "no augmentation" if args.no_augment else "augmentation included"
    print(
        f" pytorch: {args.steps * b / secs:8.0f} train img/s ({args.steps * b} images in "
        f"{secs:.1f}s; torch {torch.__version__}, {torch.get_num_threads()} threads, {what})"
    )


if __name__ == "__main__":
    main()
