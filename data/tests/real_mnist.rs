//! Checks on the real MNIST files, when `MNIST_DIR` points at them (e.g. `/work/shared/mnist`).
//! Without `MNIST_DIR` the test says loudly that it skipped; with `SUMI_REQUIRE_MNIST=1` it
//! fails instead of skipping.

use std::path::PathBuf;
use std::time::Instant;

#[test]
fn real_mnist_counts_labels_and_no_test_image_in_train() {
    let Some(dir) = std::env::var_os("MNIST_DIR").filter(|d| !d.is_empty()) else {
        assert!(
            std::env::var("SUMI_REQUIRE_MNIST").as_deref() != Ok("1"),
            "SUMI_REQUIRE_MNIST=1 but MNIST_DIR is not set: point MNIST_DIR at the MNIST files"
        );
        eprintln!(
            "\n*** SKIPPED real_mnist_counts_labels_and_no_test_image_in_train: MNIST_DIR is not \
             set (set MNIST_DIR=/path/to/mnist to run it, SUMI_REQUIRE_MNIST=1 to require it) ***\n"
        );
        return;
    };
    let dir = PathBuf::from(dir);
    let start = Instant::now();
    let mnist = sumi_data::load(Some(&dir)).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "sumi_data::load({}) took {:?}",
        dir.display(),
        start.elapsed()
    );

    assert_eq!(mnist.train.n, 60_000);
    assert_eq!(mnist.test.n, 10_000);
    assert_eq!(mnist.train.images.len(), 60_000 * 784);
    assert_eq!(mnist.test.labels.len(), 10_000);
    assert_eq!(
        mnist.train.label_counts(),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        mnist.test.label_counts(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    let test_only = sumi_data::load_test(Some(&dir)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(test_only, mnist.test);

    let start = Instant::now();
    let report = sumi_data::audit::leak_audit(&[
        ("train", &mnist.train.images),
        ("test", &mnist.test.images),
    ]);
    eprintln!("leak audit took {:?}\n{report}", start.elapsed());
    assert_eq!(report.cross_count("train", "test"), 0, "{report}");
    assert!(report.is_clean());
}
