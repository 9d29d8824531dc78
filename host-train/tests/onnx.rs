//! `sumi-train export-onnx` end to end: the file it writes is an ONNX `ModelProto` of the
//! blob's network, and a bad blob gets a clear error. (That the graph computes the blob's
//! network is checked by the unit tests of `src/onnx/` (`tests.rs`), which interpret it, and on the
//! 10,000 test images by `core/benches/peers/run.sh` with onnxruntime.)

use std::path::PathBuf;
use std::process::{Command, Output};

fn export(args: &[&std::ffi::OsStr]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sumi-train"));
    c.arg("export-onnx").args(args);
    let out = c.output().expect("cannot start sumi-train");
    eprintln!(
        "--- {c:?}\nstatus {:?}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sumi-onnx-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Reads a protobuf varint at `*i`.
fn varint(b: &[u8], i: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = b[*i];
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
    }
    v
}

/// The top-level fields of a protobuf message: (field number, varint value or payload).
fn fields(b: &[u8]) -> Vec<(u64, Result<u64, &[u8]>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let key = varint(b, &mut i);
        let v = match key & 7 {
            0 => Ok(varint(b, &mut i)),
            2 => {
                let n = varint(b, &mut i) as usize;
                i += n;
                Err(&b[i - n..i])
            }
            w => panic!("unexpected wire type {w} at byte {i}"),
        };
        out.push((key >> 3, v));
    }
    out
}

#[test]
fn export_onnx_writes_a_model_proto_of_the_blob() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for model in [
        root.join("../core/models/default.sumi"),
        root.join("models/tiny.sumi"),
    ] {
        let out = tmp(&format!(
            "{}.onnx",
            model.file_stem().unwrap().to_string_lossy()
        ));
        let o = export(&[
            "--model".as_ref(),
            model.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ]);
        assert!(o.status.success());
        let b = std::fs::read(&out).unwrap();
        // ModelProto starts with field 1 (ir_version, varint) = 8.
        assert_eq!(&b[..2], &[0x08, 8], "{}", model.display());
        let top = fields(&b);
        let get = |n: u64| top.iter().filter(move |f| f.0 == n).map(|f| f.1);
        assert_eq!(get(2).next(), Some(Err(&b"sumi-train"[..])));
        // opset_import { domain "" version 13 }
        let opset = get(8).next().unwrap().unwrap_err();
        assert_eq!(fields(opset), vec![(2, Ok(13))]);
        // The graph: nodes (field 1) with their op types (field 4), one input, one output.
        let graph = get(7).next().unwrap().unwrap_err();
        let g = fields(graph);
        let ops: Vec<String> = g
            .iter()
            .filter(|f| f.0 == 1)
            .map(|f| {
                let node = fields(f.1.unwrap_err());
                let op = node.iter().find(|x| x.0 == 4).unwrap().1.unwrap_err();
                String::from_utf8(op.to_vec()).unwrap()
            })
            .collect();
        let blob = std::fs::read(&model).unwrap();
        let (_, desc) = sumi_core::blob::decode(&blob).unwrap();
        let convs = desc
            .layers
            .iter()
            .filter(|l| matches!(l, sumi_core::blob::LayerDesc::Conv2d(_)))
            .count();
        assert_eq!(
            ops.iter().filter(|o| *o == "Conv").count(),
            convs,
            "{ops:?}"
        );
        assert_eq!(ops.last().map(String::as_str), Some("Gemm"), "{ops:?}");
        assert!(ops.contains(&"Flatten".to_owned()), "{ops:?}");
        // Every int8 weight became one float32 (4 bytes) in the initializers (field 5).
        let init_bytes: usize = g
            .iter()
            .filter(|f| f.0 == 5)
            .map(|f| {
                let t = fields(f.1.unwrap_err());
                t.iter().find(|x| x.0 == 9).unwrap().1.unwrap_err().len()
            })
            .sum();
        let m = sumi_core::Model::from_bytes(&blob).unwrap();
        assert_eq!(init_bytes, 4 * m.params() as usize);
        assert_eq!(g.iter().filter(|f| f.0 == 11).count(), 1);
        assert_eq!(g.iter().filter(|f| f.0 == 12).count(), 1);
    }
}

/// Exports `model` and expects a failure whose message contains `needle`, with no ONNX
/// written.
fn export_fails(model: &std::path::Path, needle: &str) {
    let out = tmp("bad.onnx");
    let o = export(&[
        "--model".as_ref(),
        model.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!out.exists(), "no ONNX may be written for a bad blob");
}

#[test]
fn export_onnx_rejects_a_bad_blob_clearly() {
    let bad = tmp("bad.sumi");
    std::fs::write(&bad, b"this is not a model").unwrap();
    export_fails(&bad, "bad.sumi is not a usable Sumi model");

    // A valid blob with one payload byte flipped fails its CRC, and says so.
    let mut blob = sumi_core::models::DEFAULT.to_vec();
    let n = blob.len();
    blob[n / 2] ^= 0x55;
    std::fs::write(&bad, &blob).unwrap();
    export_fails(&bad, "CRC mismatch");

    export_fails(&tmp("missing.sumi"), "cannot read");
}
