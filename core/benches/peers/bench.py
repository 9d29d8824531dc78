"""Peer benchmark of sumi-core (run by run.sh, which builds everything this needs).

For each model: the float ONNX written by `sumi-train export-onnx` is checked (onnx.checker)
and compared with sumi-core's int8 predictions on the MNIST test set; an int8 ONNX is built
with onnxruntime's static quantization (per-channel, QDQ, MinMax calibration on training
images); then, in this one process, one thread, batch 1, in interleaved rounds (the engine
order rotates every round), every engine classifies the same images and each call is timed:

  sumi       sumi-core through a ctypes call into a cdylib calling Prepared::predict (the
             model with its weights prepared once at load, Model::prepare, as onnxruntime
             prepacks; AVX2 when the CPU has it, chosen at run time) with a host's arena (Model::observed_arena_bytes:
             the layers run one after the other on whole maps)
  sumi-streamed  the same with the smallest arena (Model::arena_bytes: the layers stream band
             by band, as on a microcontroller)
  sumi-sse2  sumi with AVX2 forbidden (sumi_core::simd::set_avx2_allowed(false))
  ort-int8   onnxruntime, the int8 QDQ model
  ort-fp32   onnxruntime, the float model
  tract-fp32 tract (Python bindings of the Rust engine), the float model, input fixed to batch 1

and batch 64 (one thread): sumi (a loop over Prepared::predict inside the cdylib) vs onnxruntime
int8 (and fp32) on one [64, 1, 28, 28] tensor.
"""

import argparse
import ctypes
import gzip
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
import tract
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)


def idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist(dir_, split):
    for ext in (".gz", ""):
        p = os.path.join(dir_, f"{split}-images-idx3-ubyte{ext}")
        if os.path.exists(p):
            return idx(p), idx(os.path.join(dir_, f"{split}-labels-idx1-ubyte{ext}"))
    sys.exit(f"no MNIST {split} files in {dir_} (set MNIST_DIR)")


class Sumi:
    """sumi-core through the cdylib (ctypes)."""

    def __init__(self, lib_path, blob_path):
        self.lib = ctypes.CDLL(lib_path)
        L = self.lib
        L.sumi_load.restype = ctypes.c_void_p
        L.sumi_load.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        L.sumi_free.argtypes = [ctypes.c_void_p]
        L.sumi_input_len.restype = ctypes.c_int64
        L.sumi_input_len.argtypes = [ctypes.c_void_p]
        L.sumi_predict.restype = ctypes.c_int32
        L.sumi_predict.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        L.sumi_predict_batch.restype = ctypes.c_int64
        L.sumi_predict_batch.argtypes = [
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_void_p,
        ]
        L.sumi_set_streamed.restype = ctypes.c_int32
        L.sumi_set_streamed.argtypes = [ctypes.c_void_p, ctypes.c_int32]
        L.sumi_set_avx2_allowed.restype = ctypes.c_int32
        L.sumi_set_avx2_allowed.argtypes = [ctypes.c_int32]
        blob = open(blob_path, "rb").read()
        self.h = L.sumi_load(blob, len(blob))
        if not self.h:
            sys.exit(f"{blob_path}: sumi-core does not load it")
        assert L.sumi_input_len(self.h) == 784

    def predict(self, ptr):
        return self.lib.sumi_predict(self.h, ptr, None)

    def batch(self, images):
        out = np.empty(len(images), np.uint8)
        n = self.lib.sumi_predict_batch(
            self.h, images.ctypes.data, len(images), out.ctypes.data
        )
        if n != len(images):
            raise RuntimeError(f"sumi_predict_batch failed ({n})")
        return out

    def streamed(self, on):
        if self.lib.sumi_set_streamed(self.h, 1 if on else 0) != 0:
            raise RuntimeError("sumi_set_streamed failed")

    def avx2(self, allowed):
        return self.lib.sumi_set_avx2_allowed(1 if allowed else 0)


def ort_session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


class Calib(CalibrationDataReader):
    def __init__(self, images):
        self.it = iter([{"input": x[None]} for x in images])

    def get_next(self):
        return next(self.it, None)


def floats(u8):
    return (u8.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)


def stats(samples):
    return {"min_us": min(samples), "median_us": statistics.median(samples)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--model", action="append", required=True, help="NAME=BLOB=ONNX")
    ap.add_argument("--work", required=True, help="folder for the int8 ONNX files")
    ap.add_argument("--mnist", required=True)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--images", type=int, default=50, help="images per round (batch 1)")
    ap.add_argument("--calibration", type=int, default=300)
    ap.add_argument("--json")
    a = ap.parse_args()

    test_x, test_y = mnist(a.mnist, "t10k")
    train_x, _ = mnist(a.mnist, "train")
    rng = np.random.default_rng(1)
    calib = floats(train_x[rng.choice(len(train_x), a.calibration, replace=False)])
    test_f = floats(test_x)
    test_u8 = np.ascontiguousarray(test_x.reshape(-1, 784))

    results = {
        "meta": {
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "onnxruntime": ort.__version__,
            "onnx": onnx.__version__,
            "tract": tract.version(),
            "numpy": np.__version__,
            "rounds": a.rounds,
            "images_per_round": a.images,
            "threads": 1,
        }
    }
    table = []
    for spec in a.model:
        name, blob, fp32 = spec.split("=")
        onnx.checker.check_model(onnx.load(fp32), full_check=True)
        int8 = os.path.join(a.work, f"{name}.int8.onnx")
        quantize_static(
            fp32,
            int8,
            Calib(calib),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
        onnx.checker.check_model(onnx.load(int8))
        sumi = Sumi(a.lib, blob)
        s_fp32, s_int8 = ort_session(fp32), ort_session(int8)
        tm = tract.onnx().load(fp32)
        tm.set_input_fact(0, "1,1,28,28,f32")
        tr = tm.into_model().into_runnable()

        # Agreement and accuracy on all 10,000 test images.
        pred_sumi = sumi.batch(test_u8)
        pred_fp32 = s_fp32.run(None, {"input": test_f})[0].argmax(1)
        pred_int8 = s_int8.run(None, {"input": test_f})[0].argmax(1)
        agree = float((pred_fp32 == pred_sumi).mean())
        n_tr = 500
        pred_tract = np.array(
            [tr.run([test_f[i : i + 1]])[0].to_numpy().argmax() for i in range(n_tr)]
        )
        results[f"{name}.onnx_fp32_agreement_with_sumi"] = agree
        results[f"{name}.tract_agreement_with_ort_fp32_first{n_tr}"] = float(
            (pred_tract == pred_fp32[:n_tr]).mean()
        )
        for eng, p in [("sumi", pred_sumi), ("ort-fp32", pred_fp32), ("ort-int8", pred_int8)]:
            results[f"{name}.{eng}.accuracy"] = float((p == test_y).mean())
        print(
            f"{name}: ONNX fp32 argmax agrees with sumi-core int8 on {agree * 100:.2f}% of "
            f"{len(test_y)} test images; accuracy sumi {results[f'{name}.sumi.accuracy'] * 100:.2f}%, "
            f"ort fp32 {results[f'{name}.ort-fp32.accuracy'] * 100:.2f}%, "
            f"ort int8 {results[f'{name}.ort-int8.accuracy'] * 100:.2f}%",
            flush=True,
        )

        # Batch 1: each call timed; the same images for every engine, order rotating.
        idx1 = rng.choice(len(test_y), a.images, replace=False)
        u8 = [np.ascontiguousarray(test_u8[i]) for i in idx1]
        ptrs = [x.ctypes.data for x in u8]
        f1 = [np.ascontiguousarray(test_f[i : i + 1]) for i in idx1]
        feeds = [{"input": x} for x in f1]

        def run_sumi():
            out = []
            for p in ptrs:
                t = time.perf_counter_ns()
                sumi.predict(p)
                out.append(time.perf_counter_ns() - t)
            return out

        def switched(setting, during, after):
            # run_sumi with a setting changed for the run only.
            def f():
                setting(during)
                try:
                    return run_sumi()
                finally:
                    setting(after)

            return f

        run_streamed = switched(sumi.streamed, True, False)
        run_sse2 = switched(sumi.avx2, False, True)

        def run_ort(sess):
            def f():
                out = []
                for feed in feeds:
                    t = time.perf_counter_ns()
                    sess.run(None, feed)
                    out.append(time.perf_counter_ns() - t)
                return out

            return f

        def run_tract():
            out = []
            for x in f1:
                t = time.perf_counter_ns()
                tr.run([x])
                out.append(time.perf_counter_ns() - t)
            return out

        engines = [
            ("sumi", run_sumi),
            ("sumi-streamed", run_streamed),
            ("sumi-sse2", run_sse2),
            ("ort-int8", run_ort(s_int8)),
            ("ort-fp32", run_ort(s_fp32)),
            ("tract-fp32", run_tract),
        ]
        has_switch = sumi.avx2(True) == 1
        if not has_switch:
            engines = [e for e in engines if e[0] != "sumi-sse2"]
        for _, f in engines:  # warm-up
            f()
        samples = {e: [] for e, _ in engines}
        for r in range(a.rounds):
            k = r % len(engines)
            for e, f in engines[k:] + engines[:k]:
                samples[e].extend(ns / 1000 for ns in f())

        # Batch 64, one thread.
        xb_u8 = np.ascontiguousarray(test_u8[:64])
        xb_f = np.ascontiguousarray(test_f[:64])
        batch_engines = [
            ("sumi", lambda: sumi.batch(xb_u8)),
            ("ort-int8", lambda: s_int8.run(None, {"input": xb_f})),
            ("ort-fp32", lambda: s_fp32.run(None, {"input": xb_f})),
        ]
        if has_switch:
            batch_engines.insert(1, ("sumi-sse2", None))

        def timed_batch(e, f):
            if e == "sumi-sse2":
                sumi.avx2(False)
                try:
                    t = time.perf_counter_ns()
                    sumi.batch(xb_u8)
                    return (time.perf_counter_ns() - t) / 1000
                finally:
                    sumi.avx2(True)
            t = time.perf_counter_ns()
            f()
            return (time.perf_counter_ns() - t) / 1000

        bsamples = {e: [] for e, _ in batch_engines}
        b_rounds = max(5, a.rounds // 2)
        for r in range(b_rounds):
            k = r % len(batch_engines)
            for e, f in batch_engines[k:] + batch_engines[:k]:
                for _ in range(3):
                    bsamples[e].append(timed_batch(e, f))

        for e, s in samples.items():
            st = stats(s)
            results[f"{name}.{e}.min_us"] = st["min_us"]
            results[f"{name}.{e}.median_us"] = st["median_us"]
        for e, s in bsamples.items():
            st = stats(s)
            results[f"{name}.{e}.batch64.min_us"] = st["min_us"]
            results[f"{name}.{e}.batch64.median_us"] = st["median_us"]
            results[f"{name}.{e}.batch64.images_per_s"] = 64e6 / st["median_us"]
        table.append((name, samples, bsamples))

    # The table.
    print()
    print(
        f"one thread, batch 1, {a.rounds} interleaved rounds x {a.images} images; "
        f"min / median us per image; ratio = median / onnxruntime int8 median"
    )
    for name, samples, bsamples in table:
        ref = results[f"{name}.ort-int8.median_us"]
        print(f"\n{name} model")
        print(f"  {'engine':<14} {'min us':>9} {'median us':>10} {'vs ort-int8':>12}")
        for e in samples:
            mn, md = results[f"{name}.{e}.min_us"], results[f"{name}.{e}.median_us"]
            print(f"  {e:<14} {mn:>9.1f} {md:>10.1f} {md / ref:>11.2f}x")
        bref = results[f"{name}.ort-int8.batch64.median_us"]
        print(f"  batch 64:   {'min us':>9} {'median us':>10} {'vs ort-int8':>12} {'images/s':>10}")
        for e in bsamples:
            mn = results[f"{name}.{e}.batch64.min_us"]
            md = results[f"{name}.{e}.batch64.median_us"]
            print(
                f"  {e:<12} {mn:>9.0f} {md:>10.0f} {md / bref:>11.2f}x "
                f"{64e6 / md:>10.0f}"
            )
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2, sort_keys=True)
            f.write("\n")
        print(f"\nwrote {a.json}")
    bad = [
        k for k, v in results.items() if k.endswith("onnx_fp32_agreement_with_sumi") and v < 0.995
    ]
    if bad:
        sys.exit(f"ONNX fp32 agrees with sumi-core on fewer than 99.5% of test images: {bad}")


if __name__ == "__main__":
    main()
