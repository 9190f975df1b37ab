//! Not a lesson: the mdBook preprocessor that docs/book.toml runs when the book is built
//! (`mdbook build docs`). mdBook sends the book as JSON on stdin and reads it back on stdout.
//!
//! A chapter links to a file elsewhere in the repository by its relative path, as
//! `[tools/golden/README.md](../tools/golden/README.md)`, so the link works on GitHub and in
//! a checkout. In the HTML book that path would point outside the book, so this rewrites
//! every relative link or image whose target lies outside the book's folder into a link to
//! the file in the repository (`/blob/main/...`, or `/tree/main/...` for a folder), taking
//! the address from Cargo.toml's `repository`. A link to a `README.md` inside the book goes
//! to `index.md`, the page mdBook makes of it. Links are found by the same reader as the
//! link check in tests/book_links.rs (`markdown.rs`), so code blocks are left alone.

#[allow(dead_code)] // stray_tags is for the link check
mod markdown;

use serde_json::Value;
use std::path::{Path, PathBuf};

/// The repository's address, from `[workspace.package] repository` in Cargo.toml.
const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");
/// The branch the book is published from.
const BRANCH: &str = "main";

/// `content` (a chapter in `chapter_dir`) with its links out of `book_dir` rewritten.
fn rewrite(content: &str, chapter_dir: &Path, book_dir: &Path, repo_dir: &Path) -> String {
    let mut edits = Vec::new();
    for link in markdown::links(content) {
        if markdown::is_external(&link.dest) || link.dest.starts_with('#') {
            continue;
        }
        let (path, anchor) = match link.dest.find('#') {
            Some(at) => link.dest.split_at(at),
            None => (link.dest.as_str(), ""),
        };
        let target = markdown::resolve(chapter_dir, path);
        let new = if target.starts_with(book_dir) {
            match path.strip_suffix("README.md") {
                Some(dir) if dir.is_empty() || dir.ends_with('/') => {
                    format!("{dir}index.md{anchor}")
                }
                _ => continue,
            }
        } else if let Ok(rel) = target.strip_prefix(repo_dir) {
            let kind = if target.is_dir() { "tree" } else { "blob" };
            let rel: Vec<_> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect();
            format!("{REPOSITORY}/{kind}/{BRANCH}/{}{anchor}", rel.join("/"))
        } else {
            continue;
        };
        match link.span {
            Some(span) => edits.push((span, new)),
            None => eprintln!(
                "mdbook_repo_links: {}: could not find `{}` in the text to rewrite it",
                link.line, link.dest
            ),
        }
    }
    let mut out = content.to_string();
    for (span, new) in edits.into_iter().rev() {
        out.replace_range(span, &new);
    }
    out
}

fn walk(items: &mut Value, book_dir: &Path, repo_dir: &Path) {
    for item in items.as_array_mut().into_iter().flatten() {
        let Some(chapter) = item.get_mut("Chapter") else {
            continue;
        };
        if let Some(source) = chapter["source_path"].as_str() {
            let chapter_dir = markdown::resolve(book_dir, source)
                .parent()
                .unwrap()
                .to_path_buf();
            let content = chapter["content"].as_str().unwrap_or_default();
            let new = rewrite(content, &chapter_dir, book_dir, repo_dir);
            chapter["content"] = Value::String(new);
        }
        walk(&mut chapter["sub_items"], book_dir, repo_dir);
    }
}

fn main() {
    // `mdbook_repo_links supports <renderer>`: every renderer is supported.
    if std::env::args().nth(1).as_deref() == Some("supports") {
        return;
    }
    let mut input: Value =
        serde_json::from_reader(std::io::stdin().lock()).expect("mdBook's [context, book] JSON");
    let ctx = &input[0];
    let root = PathBuf::from(ctx["root"].as_str().expect("context.root"));
    let src = ctx["config"]["book"]["src"].as_str().unwrap_or("src");
    let book_dir = root
        .join(src)
        .canonicalize()
        .expect("the book's source folder");
    let repo_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .canonicalize()
        .unwrap();
    let mut book = input[1].take();
    walk(&mut book["items"], &book_dir, &repo_dir);
    serde_json::to_writer(std::io::stdout().lock(), &book).unwrap();
}
