//! The four standard MNIST files: names, expected sizes and SHA-256 of their decompressed bytes.

/// One of the four standard MNIST IDX files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MnistFile {
    /// Standard file name without `.gz` (e.g. `train-images-idx3-ubyte`).
    pub name: &'static str,
    /// Lower-case hex SHA-256 of the decompressed file (the original IDX bytes).
    pub sha256: &'static str,
}

/// Training images, 60000 x 28 x 28.
pub const TRAIN_IMAGES: MnistFile = MnistFile {
    name: "train-images-idx3-ubyte",
    sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
};
/// Training labels, 60000.
pub const TRAIN_LABELS: MnistFile = MnistFile {
    name: "train-labels-idx1-ubyte",
    sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
};
/// Test images, 10000 x 28 x 28.
pub const TEST_IMAGES: MnistFile = MnistFile {
    name: "t10k-images-idx3-ubyte",
    sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
};
/// Test labels, 10000.
pub const TEST_LABELS: MnistFile = MnistFile {
    name: "t10k-labels-idx1-ubyte",
    sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
};

/// All four files, in the order they are listed in messages.
pub const ALL_FILES: [MnistFile; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];
/// The two test-set files.
pub const TEST_FILES: [MnistFile; 2] = [TEST_IMAGES, TEST_LABELS];

/// Lower-case hex of `bytes`.
#[cfg(feature = "download")]
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Lower-case hex SHA-256 of `bytes`.
#[cfg(feature = "download")]
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex(&sha2::Sha256::digest(bytes))
}

/// `"a, b, c and d"`-style list of the standard names.
pub(crate) fn file_list() -> String {
    ALL_FILES.map(|f| f.name).join(", ")
}
