//! Structural promises of the workspace, checked with cargo's own dependency graph.

use std::process::Command;

fn cargo_tree(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "--prefix", "none", "--offline"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_gui_does_not_compile_burn() {
    let tree = cargo_tree(&["-p", "sumi-desktop", "-e", "normal,build"]);
    assert!(
        tree.contains("sumi-core"),
        "sanity: the GUI uses sumi-core\n{tree}"
    );
    let burn: Vec<&str> = tree.lines().filter(|l| l.starts_with("burn")).collect();
    assert!(burn.is_empty(), "sumi-desktop depends on burn: {burn:?}");
}

#[test]
fn the_core_enables_no_std_or_alloc_feature_anywhere() {
    // The thumbv6m build in CI proves `no_std`; this names the culprit if a dependency of the
    // core ever turns on its `std`/`alloc` feature.
    let tree = cargo_tree(&[
        "-p",
        "sumi-core",
        "-e",
        "normal,features",
        "--target",
        "thumbv6m-none-eabi",
    ]);
    assert!(
        tree.contains("postcard"),
        "sanity: the feature tree lists the core's dependencies\n{tree}"
    );
    for l in tree.lines() {
        assert!(
            !l.contains("feature \"std\"") && !l.contains("feature \"alloc\""),
            "sumi-core enables `{l}`"
        );
    }
}

#[test]
fn readme_and_ci_run_the_same_test_command() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let ci = std::fs::read_to_string(format!("{root}/.ci/run")).expect(".ci/run");
    for cmd in ["cargo run --release", "cargo test --workspace"] {
        assert!(readme.contains(cmd), "README lacks `{cmd}`");
    }
    assert!(
        ci.lines().any(|l| l.trim() == "cargo test --workspace"),
        ".ci/run must call `cargo test --workspace`"
    );
}

#[test]
fn sumi_data_without_default_features_has_no_network_or_file_system_dependencies() {
    // The desktop app in a browser (wasm32) reads its embedded test images through sumi-data's
    // IDX parser with `default-features = false`; downloading and the cache stay behind the
    // `download` feature.
    let tree = cargo_tree(&[
        "-p",
        "sumi-data",
        "--no-default-features",
        "-e",
        "normal",
        "--target",
        "wasm32-unknown-unknown",
    ]);
    assert!(
        tree.contains("sumi-core"),
        "sanity: sumi-data uses sumi-core\n{tree}"
    );
    for name in [
        "ureq",
        "indicatif",
        "directories",
        "tempfile",
        "flate2",
        "sha2",
    ] {
        assert!(
            !tree.lines().any(|l| l.starts_with(&format!("{name} "))),
            "sumi-data without default features depends on {name}\n{tree}"
        );
    }
}
