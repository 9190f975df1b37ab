//! What the book's tooling needs to know about a Markdown file: its links and images, and
//! the ids mdBook gives its headings. Shared by `tests/book_links.rs` (the link check) and
//! this example (the mdBook preprocessor), so both read a chapter the way mdBook does: with
//! pulldown-cmark, the parser mdBook uses, and the options docs/book.toml sets.

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};
use std::collections::HashSet;
use std::ops::Range;

/// mdBook 0.5's parser options (mdbook-markdown's `new_cmark_parser`), with smart
/// punctuation and definition lists off as docs/book.toml sets them.
fn parser(text: &str) -> Parser<'_> {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_FOOTNOTES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    opts.insert(Options::ENABLE_HEADING_ATTRIBUTES);
    opts.insert(Options::ENABLE_GFM);
    Parser::new_ext(text, opts)
}

/// One link or image destination written in a Markdown file.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The destination as written: `autograd.md#broadcasting`, `assets/x.svg`, `#anchor`.
    pub dest: String,
    /// 1-based line of the link (of the definition, for a reference link).
    pub line: usize,
    /// Where `dest` sits in the file's text, when it is written there literally.
    pub span: Option<Range<usize>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// The byte range of `dest` inside `text[within]`: the last place it follows `(`, `<` or
/// whitespace, which is where an inline link or a reference definition writes it.
fn find_dest(text: &str, within: Range<usize>, dest: &str) -> Option<Range<usize>> {
    let slice = &text[within.clone()];
    let mut end = slice.len();
    while let Some(at) = slice[..end].rfind(dest) {
        let before = slice[..at].chars().next_back();
        if matches!(before, Some('(' | '<' | ' ' | '\t')) {
            let start = within.start + at;
            return Some(start..start + dest.len());
        }
        end = at;
    }
    None
}

/// Every link and image in `text`, in order, outside code blocks and inline code.
/// Autolinks (`<https://...>`) are left out: they are always absolute.
pub fn links(text: &str) -> Vec<Link> {
    let parser = parser(text);
    let mut out: Vec<Link> = parser
        .reference_definitions()
        .iter()
        .map(|(_, def)| Link {
            dest: def.dest.to_string(),
            line: line_of(text, def.span.start),
            span: find_dest(text, def.span.clone(), &def.dest),
        })
        .collect();
    for (event, range) in parser.into_offset_iter() {
        if let Event::Start(
            Tag::Link {
                link_type,
                dest_url,
                ..
            }
            | Tag::Image {
                link_type,
                dest_url,
                ..
            },
        ) = event
        {
            match link_type {
                LinkType::Inline => out.push(Link {
                    dest: dest_url.to_string(),
                    line: line_of(text, range.start),
                    span: find_dest(text, range, &dest_url),
                }),
                // Their destination is a reference definition, listed above.
                LinkType::Reference
                | LinkType::Collapsed
                | LinkType::Shortcut
                | LinkType::ReferenceUnknown
                | LinkType::CollapsedUnknown
                | LinkType::ShortcutUnknown => {}
                LinkType::Autolink | LinkType::Email | LinkType::WikiLink { .. } => {}
            }
        } else if let Event::Html(_) | Event::InlineHtml(_) = event {
            html_links(text, range, &mut out);
        }
    }
    out.sort_by_key(|l| (l.line, l.span.as_ref().map(|s| s.start)));
    out
}

/// The `src="..."` and `href="..."` values in the HTML at `text[range]`, as written in a
/// chapter that sizes an image with `<img src="assets/x.svg" width="60%">`.
fn html_links(text: &str, range: Range<usize>, out: &mut Vec<Link>) {
    let html = &text[range.clone()];
    for attr in ["src=", "href="] {
        let mut from = 0;
        while let Some(at) = html[from..].find(attr) {
            let start = from + at + attr.len();
            from = start;
            let Some(quote @ ('"' | '\'')) = html[start..].chars().next() else {
                continue;
            };
            let Some(len) = html[start + 1..].find(quote) else {
                continue;
            };
            let span = range.start + start + 1..range.start + start + 1 + len;
            out.push(Link {
                dest: text[span.clone()].to_string(),
                line: line_of(text, span.start),
                span: Some(span),
            });
        }
    }
}

/// mdBook's id for a heading whose text is `content` (mdbook-html 0.5's `id_from_content`):
/// lowercase; keep letters and digits (any script), `_` and `-`; whitespace becomes `-`;
/// everything else is dropped.
pub fn id_from_content(content: &str) -> String {
    content
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|ch| {
            if ch.is_alphanumeric() || ch == '_' || ch == '-' {
                Some(ch)
            } else if ch.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// mdBook's `unique_id`: the first use of an id keeps it, later ones get `-1`, `-2`, ...
pub fn unique_id(id: &str, used: &mut HashSet<String>) -> String {
    if used.insert(id.to_string()) {
        return id.to_string();
    }
    (1..)
        .map(|n| format!("{id}-{n}"))
        .find(|candidate| used.insert(candidate.clone()))
        .unwrap()
}

/// The ids mdBook gives the headings of `text`, in order: an explicit `{#id}` as written,
/// otherwise `id_from_content` of the heading's text (inline code included, markup and
/// image alt text left out), made unique within the page.
pub fn heading_ids(text: &str) -> Vec<String> {
    let mut used = HashSet::new();
    let mut ids = Vec::new();
    let mut heading: Option<(Option<String>, String)> = None;
    let mut in_image = 0;
    for event in parser(text) {
        match event {
            Event::Start(Tag::Heading { id, .. }) => {
                heading = Some((id.map(|id| id.to_string()), String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                let (explicit, content) = heading.take().unwrap();
                ids.push(match explicit {
                    Some(id) => id,
                    None => unique_id(&id_from_content(&content), &mut used),
                });
            }
            Event::Start(Tag::Image { .. }) => in_image += 1,
            Event::End(TagEnd::Image) => in_image -= 1,
            Event::Text(t) | Event::Code(t) if in_image == 0 => {
                if let Some((_, content)) = heading.as_mut() {
                    content.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some((_, content)) = heading.as_mut() {
                    content.push('\n');
                }
            }
            _ => {}
        }
    }
    ids
}

/// Whether `dest` names a scheme (`https:`, `mailto:`), as mdBook's `fix_link` decides,
/// or is protocol-relative (`//host/...`): a link that leaves the repository.
pub fn is_external(dest: &str) -> bool {
    if dest.starts_with("//") {
        return true;
    }
    let Some(colon) = dest.find(':') else {
        return false;
    };
    let scheme = &dest[..colon];
    scheme.starts_with(|c: char| c.is_ascii_lowercase())
        && scheme
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '.' | '-'))
}

/// `dir` joined with the relative path `rel` (a link's destination without its `#anchor`),
/// with `.` and `..` worked out on the path itself (the target need not exist).
pub fn resolve(dir: &std::path::Path, rel: &str) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for component in dir.join(rel).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The HTML elements a chapter may write as tags; see [`stray_tags`].
const HTML_ELEMENTS: &[&str] = &[
    "a", "abbr", "b", "br", "code", "details", "div", "em", "i", "img", "kbd", "p", "pre", "span",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr",
];

/// Tags outside code that are not HTML, with their line: `--batch-size <N>` written as
/// text is read as an (unknown) HTML tag `<N>`, which GitHub and mdBook both swallow.
pub fn stray_tags(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (event, range) in parser(text).into_offset_iter() {
        let (Event::InlineHtml(html) | Event::Html(html)) = event else {
            continue;
        };
        let name: String = html
            .trim_start()
            .trim_start_matches('<')
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let html = html.trim();
        if !html.starts_with('<') || html.starts_with("<!") || name.is_empty() {
            continue; // the inside of an HTML block, a comment, a doctype
        }
        if !HTML_ELEMENTS.contains(&name.to_ascii_lowercase().as_str()) {
            out.push((line_of(text, range.start), html.to_string()));
        }
    }
    out
}
