//! Every public doc example names kindling as a crate that depends on it must: through the
//! facade (`kindling::...`), never a member crate (`kindling_core::...`), which a copied
//! example could not find. Scans the doc comments of every crate's sources.

use std::path::Path;

const MEMBERS: [&str; 6] = [
    "kindling_core",
    "kindling_nn",
    "kindling_optim",
    "kindling_data",
    "kindling_checkpoint",
    "kindling_derive",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_doc_example_names_a_member_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "crates"] {
        rust_files(&root.join(dir), &mut files);
    }
    files.retain(|f| f.components().any(|c| c.as_os_str() == "src"));
    assert!(files.len() > 40, "found only {} source files", files.len());
    let mut offenders = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (i, line) in text.lines().enumerate() {
            let doc = line.trim_start();
            if (doc.starts_with("///") || doc.starts_with("//!"))
                && MEMBERS
                    .iter()
                    .any(|m| doc.contains(&format!("{m}::")) || doc.contains(&format!("use {m}")))
            {
                offenders.push(format!("{}:{}: {}", file.display(), i + 1, doc));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "doc comments that name a member crate (write kindling::... instead):\n{}",
        offenders.join("\n")
    );
}
