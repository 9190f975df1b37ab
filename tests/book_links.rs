//! The book in `docs/` has no broken links. For every `docs/**/*.md`, every relative link
//! and image must lead to a file that exists, and every `#anchor` to a heading in the target
//! file, by the id mdBook gives it (`markdown::id_from_content`). Code blocks and inline code
//! are not read. Every page must be in `docs/SUMMARY.md`, mdBook's table of contents, and
//! every entry there must exist. Text that reads as an unknown HTML tag (`--batch-size <N>`
//! outside backticks), which GitHub and mdBook both swallow, is reported too. A link may leave `docs/` for another file of the repository
//! (`../tools/golden/README.md`): the book rewrites it into a link to the repository (see
//! docs/book.toml), so that file must exist too. `mdbook build docs` then renders every page
//! with working links; this test needs no mdBook.

#[path = "../examples/mdbook_repo_links/markdown.rs"]
#[allow(dead_code)]
mod markdown;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// Everything wrong with the links of the book in `repo/docs`, one line each:
/// `docs/FILE:LINE: LINK: what is wrong`.
fn check_book(repo: &Path) -> Vec<String> {
    let docs = repo.join("docs");
    let mut files = Vec::new();
    markdown_files(&docs, &mut files);
    files.sort();
    let show = |p: &Path| p.strip_prefix(repo).unwrap_or(p).display().to_string();
    let mut ids: BTreeMap<PathBuf, Option<BTreeSet<String>>> = BTreeMap::new();
    let mut ids_of = |file: &Path| -> Option<BTreeSet<String>> {
        ids.entry(file.to_path_buf())
            .or_insert_with(|| {
                let text = std::fs::read_to_string(file).ok()?;
                Some(markdown::heading_ids(&text).into_iter().collect())
            })
            .clone()
    };
    let mut problems = Vec::new();
    let mut listed = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let summary = file == &docs.join("SUMMARY.md");
        for (line, tag) in markdown::stray_tags(&text) {
            problems.push(format!(
                "{}:{line}: {tag}: read as an HTML tag, so it does not show; \
                 write it in `backticks` or escape it as \\<",
                show(file)
            ));
        }
        for link in markdown::links(&text) {
            let at = format!("{}:{}: ({})", show(file), link.line, link.dest);
            if markdown::is_external(&link.dest) {
                continue;
            }
            let (path, anchor) = match link.dest.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (link.dest.as_str(), None),
            };
            let target = if path.is_empty() {
                file.clone()
            } else {
                markdown::resolve(file.parent().unwrap(), path)
            };
            if summary {
                listed.insert(target.clone());
            }
            if !target.starts_with(repo) {
                problems.push(format!("{at}: leads outside the repository"));
                continue;
            }
            if !target.exists() {
                problems.push(format!("{at}: {} does not exist", show(&target)));
                continue;
            }
            let in_book = target.starts_with(&docs);
            if in_book && target.is_dir() {
                problems.push(format!(
                    "{at}: a folder of the book: mdBook has no page for it; link a file"
                ));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            if target.extension().is_some_and(|e| e == "md") {
                if !ids_of(&target).unwrap_or_default().contains(anchor) {
                    problems.push(format!(
                        "{at}: {} has no heading with the id `{anchor}`",
                        show(&target)
                    ));
                }
            } else if in_book || !is_line_anchor(anchor) {
                problems.push(format!(
                    "{at}: `#{anchor}` on a file that is not Markdown leads nowhere"
                ));
            }
        }
    }
    let summary = docs.join("SUMMARY.md");
    if !summary.exists() {
        problems.push("docs/SUMMARY.md does not exist".to_string());
    }
    for file in &files {
        if file != &summary && !listed.contains(file) {
            problems.push(format!(
                "{}: not in docs/SUMMARY.md, so not in the book",
                show(file)
            ));
        }
    }
    problems
}

/// GitHub's anchors on a line of a source file: `#L12` or `#L12-L20`.
fn is_line_anchor(anchor: &str) -> bool {
    let line = |s: &str| {
        s.strip_prefix('L')
            .is_some_and(|n| n.parse::<u32>().is_ok())
    };
    match anchor.split_once('-') {
        Some((a, b)) => line(a) && line(b),
        None => line(anchor),
    }
}

#[test]
fn every_link_in_the_book_leads_somewhere() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let problems = check_book(repo);
    assert!(
        problems.is_empty(),
        "{} broken links in the book (docs/):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The check must fail on a broken book: a missing file or image, a missing anchor (in
/// another file and in the same one), a stray tag, a page left out of SUMMARY.md, a SUMMARY
/// entry that does not exist. Links inside code are not links.
#[test]
fn the_check_catches_broken_links() {
    let repo = std::env::temp_dir().join(format!("kindling-book-links-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&repo);
    std::fs::create_dir_all(repo.join("docs/zh")).unwrap();
    std::fs::create_dir_all(repo.join("tools")).unwrap();
    std::fs::write(repo.join("tools/README.md"), "# Tools\n").unwrap();
    let write =
        |name: &str, text: &str| std::fs::write(repo.join("docs").join(name), text).unwrap();
    write(
        "SUMMARY.md",
        "# Summary\n\n- [A](a.md)\n- [B](b.md)\n- [Gone](gone.md)\n",
    );
    write(
        "a.md",
        "# A\n\n## Same\n\n## Same\n\n\
         [ok](b.md#the-b-heading) [ok](#same-1) [ok](../tools/README.md#tools)\n\
         [missing file](c.md)\n\
         [missing anchor](b.md#no-such-heading)\n\
         [missing here](#same-2)\n\
         `[in code](nowhere.md)`\n\n\
         ```text\n[in a block](nowhere.md)\n```\n",
    );
    write(
        "b.md",
        "# The `b` heading\n\n![picture](img/none.svg)\n\n`--n <N>` but --n <N>, --n \\<N>\n\n\
         <img src=\"img/gone.svg\" width=\"50%\">\n",
    );
    write("zh/c.md", "# C\n\n[up](../a.md#a)\n");
    let problems = check_book(&repo);
    std::fs::remove_dir_all(&repo).unwrap();
    let expect = [
        "docs/SUMMARY.md:5: (gone.md): docs/gone.md does not exist",
        "docs/a.md:8: (c.md): docs/c.md does not exist",
        "docs/a.md:9: (b.md#no-such-heading): docs/b.md has no heading with the id `no-such-heading`",
        "docs/a.md:10: (#same-2): docs/a.md has no heading with the id `same-2`",
        "docs/b.md:5: <N>: read as an HTML tag, so it does not show; \
         write it in `backticks` or escape it as \\<",
        "docs/b.md:3: (img/none.svg): docs/img/none.svg does not exist",
        "docs/b.md:7: (img/gone.svg): docs/img/gone.svg does not exist",
        "docs/zh/c.md: not in docs/SUMMARY.md, so not in the book",
    ];
    assert_eq!(problems, expect, "{}", problems.join("\n"));
}

/// The ids are mdBook's (mdbook-html 0.5, `utils.rs`: its own test cases).
#[test]
fn heading_ids_follow_mdbook() {
    use markdown::id_from_content as id;
    assert_eq!(
        id("`--passes`: add more rustdoc passes"),
        "--passes-add-more-rustdoc-passes"
    );
    assert_eq!(
        id("Method-call 🐙 expressions \u{1f47c}"),
        "method-call--expressions-"
    );
    assert_eq!(id("_-_12345"), "_-_12345");
    assert_eq!(id("中文標題 CJK title"), "中文標題-cjk-title");
    assert_eq!(id("Über"), "über");
    let text = "# `mul`: the fast path\n\n## Same\n\n### Same\n\n## Same\n\n## Own {#custom}\n\n\
                ```sh\n# not a heading\n```\n\n## BatchNorm（批归一化）\n";
    assert_eq!(
        markdown::heading_ids(text),
        [
            "mul-the-fast-path",
            "same",
            "same-1",
            "same-2",
            "custom",
            "batchnorm批归一化"
        ]
    );
}

/// The book's "Git repository" button and "Suggest an edit" links, in docs/book.toml, go
/// where Cargo.toml's `repository` says the code lives (as the rewritten links do).
#[test]
fn the_book_names_the_repository() {
    let toml =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/book.toml")).unwrap();
    for key in ["git-repository-url", "edit-url-template"] {
        let line = toml
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("docs/book.toml sets no {key}"));
        assert!(
            line.contains(&format!("\"{}", env!("CARGO_PKG_REPOSITORY"))),
            "docs/book.toml: {line}: not Cargo.toml's repository {}",
            env!("CARGO_PKG_REPOSITORY")
        );
    }
}
