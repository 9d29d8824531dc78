#!/usr/bin/env python3
"""Write the MNIST test subset embedded in the desktop app (the first N test images + labels).

    python3 desktop/assets/mnist/make_subset.py /work/shared/mnist [N=1000]

Output: t10k-first1000-images-idx3-ubyte.gz and t10k-first1000-labels-idx1-ubyte.gz, in the
original IDX format (gzipped deterministically, mtime 0), parsed by sumi_core::idx at run time.
"""
import gzip
import pathlib
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent


def main() -> int:
    src = pathlib.Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    images = gzip.decompress((src / "t10k-images-idx3-ubyte.gz").read_bytes())
    labels = gzip.decompress((src / "t10k-labels-idx1-ubyte.gz").read_bytes())
    magic, count, rows, cols = struct.unpack(">IIII", images[:16])
    assert magic == 0x803 and rows == 28 and cols == 28 and count >= n
    magic, count = struct.unpack(">II", labels[:8])
    assert magic == 0x801 and count >= n
    out_images = struct.pack(">IIII", 0x803, n, 28, 28) + images[16 : 16 + n * 784]
    out_labels = struct.pack(">II", 0x801, n) + labels[8 : 8 + n]
    for name, data in (
        (f"t10k-first{n}-images-idx3-ubyte.gz", out_images),
        (f"t10k-first{n}-labels-idx1-ubyte.gz", out_labels),
    ):
        (HERE / name).write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
        print(name, (HERE / name).stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
