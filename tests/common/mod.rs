//! Shared by the tests that run the examples: finds (or builds) an example's binary.

use std::path::PathBuf;
use std::process::Command;

/// A command for the example `name`, run from the repository root. The binary sits next to
/// the test's own executable (`target/<profile>/examples/`); `cargo test` builds it, and
/// `cargo test --test NAME` alone does not, so then it is built here.
pub fn example(name: &str) -> Command {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let bin: PathBuf = deps.parent().unwrap().join("examples").join(name);
    if !bin.exists() {
        let release = deps.to_string_lossy().contains("/release/");
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", name])
            .args(release.then_some("--release"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(
            status.success() && bin.exists(),
            "could not build example {name}"
        );
    }
    let mut cmd = Command::new(bin);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}
