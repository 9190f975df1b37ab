//! Shared by the tests that run the examples: builds (if needed) and finds an example's
//! binary.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// A command for the example `name`, run from the repository root.
///
/// The binary sits next to the test's own executable (`target/<profile>/examples/`).
/// `cargo test` builds the examples first, but `cargo test --test NAME` alone does not and
/// could run a stale binary, so each example is brought up to date here once per test
/// process (`cargo build` finds nothing to do when `cargo test` already built it).
pub fn example(name: &str) -> Command {
    static BUILT: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let bin: PathBuf = deps.parent().unwrap().join("examples").join(name);
    {
        let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
        if built
            .get_or_insert_with(HashSet::new)
            .insert(name.to_string())
        {
            let release = deps.to_string_lossy().contains("/release/");
            let status = Command::new(env!("CARGO"))
                .args(["build", "--quiet", "--example", name])
                .args(release.then_some("--release"))
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("cargo runs");
            assert!(
                status.success() && bin.exists(),
                "could not build example {name}"
            );
        }
    }
    let mut cmd = Command::new(bin);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}
