//! Helpers shared by the workspace tests.

/// The MNIST test set, or `None` (with a loud message) when it is not available outside CI.
pub fn test_set() -> Option<sumi_data::Split> {
    match sumi_data::load_test(None) {
        Ok(split) => Some(split),
        Err(e) if std::env::var("SUMI_REQUIRE_MNIST").as_deref() != Ok("1") => {
            eprintln!(
                "\n*** SKIPPED: MNIST test set not available ({e}); set MNIST_DIR to run this test ***\n"
            );
            None
        }
        Err(e) => panic!("SUMI_REQUIRE_MNIST=1 but MNIST is not available: {e}"),
    }
}
