//! Unit tests of reading, locating and downloading, on files generated in temporary directories.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::Path;

use crate::idx::IdxError;

use crate::DataError;
use crate::download::download_missing;
use crate::error::Origin;
use crate::files::{ALL_FILES, MnistFile, sha256_hex};
use crate::location::{check_dir, choose, locate_files};
use crate::read::{read_decompressed, read_split};

fn images_idx(count: u32, rows: u32, cols: u32, data_len: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0x803, count, rows, cols] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend((0..data_len).map(|i| (i * 7 % 256) as u8));
    v
}

fn labels_idx(labels: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 1];
    v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    v.extend_from_slice(labels);
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A file spec named `name` whose checksum is that of `content`.
fn spec(name: &'static str, content: &[u8]) -> MnistFile {
    MnistFile {
        name,
        sha256: Box::leak(sha256_hex(content).into_boxed_str()),
    }
}

const IMG: &str = "img-idx3-ubyte";
const LBL: &str = "lbl-idx1-ubyte";

/// Writes an image and a label file into a fresh directory; returns it and specs matching them.
fn setup(images: &[u8], labels: &[u8], gz: bool) -> (tempfile::TempDir, MnistFile, MnistFile) {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        if gz {
            std::fs::write(dir.path().join(format!("{name}.gz")), gzip(bytes)).unwrap();
        } else {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
    };
    write(IMG, images);
    write(LBL, labels);
    (dir, spec(IMG, images), spec(LBL, labels))
}

fn idx_error(images: &[u8], labels: &[u8]) -> (IdxError, std::path::PathBuf) {
    let (dir, i, l) = setup(images, labels, false);
    match read_split(dir.path(), &i, &l) {
        Err(DataError::Idx { path, source }) => (source, path),
        other => panic!("expected an IDX error, got {other:?}"),
    }
}

#[test]
fn loads_raw_and_gzipped_splits() {
    let images = images_idx(3, 28, 28, 3 * 784);
    let labels = labels_idx(&[4, 0, 9]);
    for gz in [false, true] {
        let (dir, i, l) = setup(&images, &labels, gz);
        let split = read_split(dir.path(), &i, &l).unwrap();
        assert_eq!(split.n, 3);
        assert_eq!(split.labels, [4, 0, 9]);
        assert_eq!(split.images, images[16..]);
        assert_eq!(split.image(2), &images[16 + 2 * 784..]);
        assert_eq!(split.get(1).map(|(_, l)| l), Some(0));
        assert_eq!(split.get(3), None);
        assert_eq!(split.iter().len(), 3);
        assert_eq!(split.label_counts()[9], 1);
    }
}

#[test]
fn raw_file_named_gz_and_gz_named_raw_are_both_read() {
    let labels = labels_idx(&[1, 2]);
    let dir = tempfile::tempdir().unwrap();
    let raw_named = dir.path().join("a");
    std::fs::write(&raw_named, gzip(&labels)).unwrap();
    assert_eq!(read_decompressed(&raw_named).unwrap(), labels);
    let gz_named = dir.path().join("b.gz");
    std::fs::write(&gz_named, &labels).unwrap();
    assert_eq!(read_decompressed(&gz_named).unwrap(), labels);
}

#[test]
fn missing_directory_names_the_directory_and_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-mnist");
    let err = locate_files(Some(&missing), &ALL_FILES).unwrap_err();
    assert!(matches!(
        err,
        DataError::DirMissing {
            origin: Origin::Argument,
            ..
        }
    ));
    let msg = err.to_string();
    assert!(msg.contains(&missing.display().to_string()), "{msg}");
    for f in ALL_FILES {
        assert!(msg.contains(f.name), "{msg}");
    }
    assert!(msg.contains("MNIST_DIR"), "{msg}");
}

#[test]
fn missing_file_names_the_file_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("train-images-idx3-ubyte.gz"), b"x").unwrap();
    let err = check_dir(dir.path(), Origin::EnvVar, &ALL_FILES).unwrap_err();
    match &err {
        DataError::FileMissing { file, .. } => assert_eq!(*file, "train-labels-idx1-ubyte"),
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    // read_split reports the same when a file vanishes.
    let (dir, i, l) = setup(&images_idx(0, 28, 28, 0), &labels_idx(&[]), false);
    std::fs::remove_file(dir.path().join(LBL)).unwrap();
    assert!(matches!(
        read_split(dir.path(), &i, &l),
        Err(DataError::FileMissing { file: LBL, .. })
    ));
}

#[test]
fn read_failure_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone");
    match read_decompressed(&path) {
        Err(e @ DataError::Read { .. }) => assert!(e.to_string().contains("gone")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn corrupt_gzip_names_the_path() {
    let labels = labels_idx(&[1, 2, 3]);
    let mut gz = gzip(&labels);
    gz.truncate(gz.len() - 10);
    let (dir, i, l) = setup(&images_idx(3, 28, 28, 3 * 784), &labels, false);
    std::fs::remove_file(dir.path().join(LBL)).unwrap();
    std::fs::write(dir.path().join(format!("{LBL}.gz")), gz).unwrap();
    match read_split(dir.path(), &i, &l) {
        Err(e @ DataError::Gzip { .. }) => {
            assert!(e.to_string().contains(&format!("{LBL}.gz")), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn idx_errors_are_wrapped_with_the_path() {
    let labels = labels_idx(&[1]);
    let good_images = images_idx(1, 28, 28, 784);

    let mut bad_magic = good_images.clone();
    bad_magic[3] = 0x01;
    let (e, path) = idx_error(&bad_magic, &labels);
    assert!(
        matches!(e, IdxError::BadMagic { found: 0x801, .. }),
        "{e:?}"
    );
    assert!(path.ends_with(IMG));

    let (e, _) = idx_error(&good_images[..10], &labels);
    assert!(matches!(e, IdxError::TooShort { found: 10, .. }), "{e:?}");

    let (e, _) = idx_error(&good_images[..500], &labels);
    assert!(
        matches!(
            e,
            IdxError::Truncated {
                expected: 784,
                found: 484,
                ..
            }
        ),
        "{e:?}"
    );

    let mut trailing = good_images.clone();
    trailing.push(0);
    let (e, _) = idx_error(&trailing, &labels);
    assert!(matches!(e, IdxError::TrailingBytes { .. }), "{e:?}");

    let (e, _) = idx_error(&images_idx(1, 32, 32, 1024), &labels);
    assert!(
        matches!(e, IdxError::WrongDimensions { rows: 32, .. }),
        "{e:?}"
    );

    let (e, path) = idx_error(&good_images, &labels_idx(&[11]));
    assert_eq!(
        e,
        IdxError::LabelOutOfRange {
            index: 0,
            label: 11
        }
    );
    assert!(path.ends_with(LBL));

    let (dir, i, l) = setup(&good_images, &labels_idx(&[12]), false);
    let msg = read_split(dir.path(), &i, &l).unwrap_err().to_string();
    assert!(msg.contains(LBL) && msg.contains("12"), "{msg}");
}

#[test]
fn checksum_mismatch_reports_expected_and_found() {
    let images = images_idx(1, 28, 28, 784);
    let labels = labels_idx(&[5]);
    let (dir, i, _) = setup(&images, &labels, true);
    let wrong = spec(LBL, &labels_idx(&[6]));
    match read_split(dir.path(), &i, &wrong) {
        Err(e @ DataError::Checksum { .. }) => {
            let DataError::Checksum {
                expected,
                found,
                path,
            } = &e
            else {
                unreachable!()
            };
            assert_eq!(expected, wrong.sha256);
            assert_eq!(*found, sha256_hex(&labels));
            assert!(path.ends_with(format!("{LBL}.gz")));
            assert!(e.to_string().contains(expected.as_str()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn count_mismatch_names_both_files() {
    let (dir, i, l) = setup(&images_idx(3, 28, 28, 3 * 784), &labels_idx(&[1, 2]), false);
    match read_split(dir.path(), &i, &l) {
        Err(
            e @ DataError::CountMismatch {
                images_count: 3,
                labels_count: 2,
                ..
            },
        ) => {
            let msg = e.to_string();
            assert!(msg.contains(IMG) && msg.contains(LBL), "{msg}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn directory_precedence() {
    let arg = Path::new("/from/arg");
    let env = Some("/from/env".into());
    let cache = Some("/from/cache".into());
    assert_eq!(
        choose(Some(arg), env.clone(), cache.clone()).unwrap(),
        (arg.to_owned(), Origin::Argument)
    );
    assert_eq!(
        choose(None, env, cache.clone()).unwrap(),
        ("/from/env".into(), Origin::EnvVar)
    );
    assert_eq!(
        choose(None, Some("".into()), cache.clone()).unwrap(),
        ("/from/cache".into(), Origin::Cache)
    );
    assert!(matches!(
        choose(None, None, None),
        Err(DataError::NoCacheDir)
    ));
}

#[test]
fn failed_download_lists_mirrors_and_says_where_to_put_files() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on localhost refuses connections at once: no network needed, no hang.
    let mirrors = ["http://127.0.0.1:1/a/", "http://127.0.0.1:1/b/"];
    let err = download_missing(dir.path(), &ALL_FILES, &mirrors).unwrap_err();
    let DataError::DownloadFailed { attempts, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        attempts[0].url,
        "http://127.0.0.1:1/a/train-images-idx3-ubyte.gz"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("http://127.0.0.1:1/b/train-images-idx3-ubyte.gz"),
        "{msg}"
    );
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    assert!(
        msg.contains("MNIST_DIR") && msg.contains("--data-dir"),
        "{msg}"
    );
    for f in ALL_FILES {
        assert!(msg.contains(f.name), "{msg}");
    }
}

/// Serves `routes` (path -> body) over HTTP/1.1 on localhost; returns the base URL.
fn serve(routes: Vec<(String, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("").to_owned();
            let (status, body) = match routes.iter().find(|(p, _)| *p == path) {
                Some((_, b)) => ("200 OK", b.clone()),
                None => ("404 Not Found", Vec::new()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    base
}

#[test]
fn download_tries_mirrors_in_order_verifies_and_writes_atomically() {
    let labels = labels_idx(&[3, 1, 4]);
    let file = spec("dl-labels-idx1-ubyte", &labels);
    let base = serve(vec![
        // Mirror "bad" serves other content (checksum mismatch), "good" the real one.
        (
            "/bad/dl-labels-idx1-ubyte.gz".into(),
            gzip(&labels_idx(&[9])),
        ),
        ("/good/dl-labels-idx1-ubyte.gz".into(), gzip(&labels)),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let mirrors = [
        format!("{base}/missing/"),
        format!("{base}/bad/"),
        format!("{base}/good/"),
    ];
    let mirrors: Vec<&str> = mirrors.iter().map(String::as_str).collect();
    download_missing(dir.path(), &[file], &mirrors).unwrap();
    let written = dir.path().join("dl-labels-idx1-ubyte.gz");
    assert_eq!(read_decompressed(&written).unwrap(), labels);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        ["dl-labels-idx1-ubyte.gz"],
        "no temporary file left behind"
    );

    // With only the failing mirrors, each failure is reported.
    let dir = tempfile::tempdir().unwrap();
    let err = download_missing(dir.path(), &[file], &mirrors[..2]).unwrap_err();
    let DataError::DownloadFailed { attempts, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(attempts[0].error.contains("404"), "{attempts:?}");
    assert!(attempts[1].error.contains("SHA-256"), "{attempts:?}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Issue 15 case 5: a gzip "bomb" (a valid 20-label header followed by 32 MiB of zeros) is
/// inflated only up to the size its IDX header declares (plus one byte, so the parser still
/// names the trailing bytes), never whole.
#[test]
fn decompression_stops_at_the_size_the_idx_header_declares() {
    let labels: Vec<u8> = (0..20).map(|i| i % 10).collect();
    let mut bomb = labels_idx(&labels);
    bomb.resize(bomb.len() + (32 << 20), 0);
    let gz = gzip(&bomb);
    drop(bomb);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{LBL}.gz"));
    std::fs::write(&path, &gz).unwrap();
    let bytes = read_decompressed(&path).unwrap();
    assert_eq!(
        bytes.len(),
        8 + 20 + 1,
        "read one byte past the declared size"
    );
    let err = crate::idx::Labels::parse(&bytes).unwrap_err();
    assert!(matches!(err, IdxError::TrailingBytes { .. }), "{err:?}");
    // A raw file is bounded the same way.
    let raw = dir.path().join(LBL);
    let mut long = labels_idx(&labels);
    long.resize(long.len() + (1 << 20), 9);
    std::fs::write(&raw, &long).unwrap();
    assert_eq!(read_decompressed(&raw).unwrap().len(), 29);
}

/// A header that declares more than any MNIST file is refused before its body is read.
#[test]
fn an_idx_header_declaring_gigabytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{IMG}.gz"));
    std::fs::write(&path, gzip(&images_idx(100_000, 1000, 1000, 16))).unwrap();
    match read_decompressed(&path) {
        Err(e @ DataError::TooLarge { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("limit") && msg.contains(IMG), "{msg}");
        }
        other => panic!("{other:?}"),
    }
}
