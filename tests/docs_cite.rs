//! The facts comments point to live in docs/: every Python-charm bug number cited anywhere
//! in the repository has an entry in docs/python-charm-bugs.md, every `docs/<page>.md#anchor`
//! (and every link between docs pages) resolves, and no file cites a document that is not
//! in the repository.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Directories and files whose text may cite docs (everything we write, not build output).
const ROOTS: &[&str] = &[
    "src",
    "tests",
    "templates",
    "jujusim",
    "xtask",
    "scripts",
    "docs",
    "README.md",
    "Cargo.toml",
    "charmcraft.yaml",
    "config.yaml",
    "actions.yaml",
    "metadata.yaml",
];

/// Citations of documents outside the repository. Written split so this file does not
/// match itself.
const OUTSIDE: &[&str] = &[
    concat!("anchor", "-charm.md"),
    concat!("juju-hook", "-contract.md"),
    concat!("test-", "environment.md"),
    concat!("../", "shared"),
    concat!("DESIGN", ".md"),
    concat!("STYLE", ".md"),
    "\u{a7}", // the section sign, as in a numbered section of an outside document
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `path` relative to the repository, for messages.
fn shown(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every UTF-8 file under the roots, skipping build output.
fn files() -> Vec<(PathBuf, String)> {
    fn walk(path: &Path, out: &mut Vec<(PathBuf, String)>) {
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "target" || n == ".git")
            {
                return;
            }
            let mut entries: Vec<_> = fs::read_dir(path)
                .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
                .map(|e| e.unwrap().path())
                .collect();
            entries.sort();
            for entry in entries {
                walk(&entry, out);
            }
        } else if let Ok(text) = fs::read_to_string(path) {
            out.push((path.to_path_buf(), text));
        }
    }
    let mut out = Vec::new();
    for root in ROOTS {
        walk(&repo().join(root), &mut out);
    }
    assert!(out.len() > 50, "found only {} files to check", out.len());
    out
}

/// Bug numbers cited as `B<n>` (a word on its own: `B22`, not `SHA256` or `0xB3`).
fn bug_numbers(text: &str) -> BTreeSet<u32> {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices('B') {
        if i > 0 && word(bytes[i - 1]) {
            continue;
        }
        let digits: String = text[i + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let end = i + 1 + digits.len();
        if digits.is_empty() || bytes.get(end).is_some_and(|b| word(*b)) {
            continue;
        }
        if let Ok(n) = digits.parse() {
            out.insert(n);
        }
    }
    out
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to dashes.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a markdown page's headings.
fn anchors(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| slug(l.trim_start_matches('#')))
        .collect()
}

/// `(page, anchor)` for every `docs/<page>.md[#anchor]` in `text`, and, inside docs/, every
/// relative link `](<page>.md[#anchor])` or `](#anchor)` (page `""`: the same page).
fn citations(text: &str, in_docs: bool) -> Vec<(String, Option<String>)> {
    let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let anchor_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_');
    let mut starts: Vec<(usize, &str)> = text.match_indices("docs/").collect();
    if in_docs {
        starts.extend(text.match_indices("]("));
    }
    let mut out = Vec::new();
    for (i, prefix) in starts {
        let rest = &text[i + prefix.len()..];
        let name: String = rest.chars().take_while(|c| name_char(*c)).collect();
        let page = name.trim_end_matches('.');
        if !(page.ends_with(".md") || page.is_empty()) || (page.is_empty() && prefix != "](") {
            continue;
        }
        let after = &rest[page.len()..];
        let anchor = after.strip_prefix('#').map(|a| {
            a.chars()
                .take_while(|c| anchor_char(*c))
                .collect::<String>()
        });
        if page.is_empty() && anchor.is_none() {
            continue;
        }
        out.push((page.to_string(), anchor));
    }
    out
}

#[test]
fn every_cited_bug_number_has_an_entry() {
    let bugs_page = fs::read_to_string(repo().join("docs/python-charm-bugs.md")).unwrap();
    let entries = anchors(&bugs_page);
    let mut missing = Vec::new();
    for (path, text) in files() {
        for n in bug_numbers(&text) {
            if !entries.contains(&format!("b{n}")) {
                missing.push(format!("{}: B{n}", shown(&path)));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "bug numbers cited without an entry (### B<n>) in docs/python-charm-bugs.md:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_docs_citation_resolves() {
    let docs = repo().join("docs");
    let mut broken = Vec::new();
    let mut checked = 0;
    for (path, text) in files() {
        let in_docs = path.starts_with(&docs);
        for (page, anchor) in citations(&text, in_docs) {
            let target = if page.is_empty() {
                path.clone()
            } else {
                docs.join(&page)
            };
            checked += 1;
            let Ok(target_text) = fs::read_to_string(&target) else {
                broken.push(format!("{}: docs/{page} does not exist", shown(&path)));
                continue;
            };
            if let Some(a) = anchor {
                if !anchors(&target_text).contains(&a) {
                    broken.push(format!(
                        "{}: {}#{a} has no such heading",
                        shown(&path),
                        shown(&target)
                    ));
                }
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} citations found: is the scan broken?"
    );
    assert!(
        broken.is_empty(),
        "broken citations:\n{}",
        broken.join("\n")
    );
}

#[test]
fn nothing_cites_documents_outside_the_repository() {
    let mut found = Vec::new();
    for (path, text) in files() {
        for (n, line) in text.lines().enumerate() {
            if let Some(p) = OUTSIDE.iter().find(|p| line.contains(**p)) {
                found.push(format!(
                    "{}:{}: {p:?} in {}",
                    shown(&path),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "cite docs/ (in our words) instead of outside documents:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanners_find_what_they_must_and_nothing_else() {
    assert_eq!(
        bug_numbers("B22 (x), (B1), B7: SHA256 0xB3 B12a AB3 B"),
        BTreeSet::from([1, 7, 22])
    );
    assert_eq!(slug("Config-changed"), "config-changed");
    assert_eq!(slug("Hook tools"), "hook-tools");
    assert_eq!(slug("`docker-registry`"), "docker-registry");
    assert_eq!(
        citations("see docs/juju.md#commit, docs/README.md.", false),
        vec![
            ("juju.md".to_string(), Some("commit".to_string())),
            ("README.md".to_string(), None)
        ]
    );
    assert_eq!(
        citations(
            "[B1](python-charm-bugs.md#b1) [x](#b2) [y](https://e)",
            true
        ),
        vec![
            ("python-charm-bugs.md".to_string(), Some("b1".to_string())),
            (String::new(), Some("b2".to_string()))
        ]
    );
}

/// Repository paths quoted in backticks in `text`: `src/…`, `tests/…`, `jujusim/…`,
/// `xtask/…`, `scripts/…`, `templates/…`, `docs/…` (a trailing `/` names a folder).
fn quoted_paths(text: &str) -> Vec<String> {
    const PREFIXES: &[&str] = &[
        "src/",
        "tests/",
        "jujusim/",
        "xtask/",
        "scripts/",
        "templates/",
        "docs/",
    ];
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| PREFIXES.iter().any(|p| quoted.starts_with(p)))
        .filter(|quoted| {
            quoted
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c))
        })
        .map(|quoted| quoted.split('#').next().unwrap_or(quoted).to_string())
        .collect()
}

#[test]
fn every_path_the_docs_quote_exists() {
    let mut missing = Vec::new();
    let mut seen = 0;
    for (path, text) in files() {
        let name = shown(&path);
        if !(name.starts_with("docs/") || name == "README.md") {
            continue;
        }
        for quoted in quoted_paths(&text) {
            seen += 1;
            if !repo().join(&quoted).exists() {
                missing.push(format!("{name}: `{quoted}`"));
            }
        }
    }
    assert!(
        seen > 30,
        "found only {seen} quoted paths: the scanner is broken"
    );
    assert!(
        missing.is_empty(),
        "docs quote paths that are not in the repository (moved or renamed?):\n{}",
        missing.join("\n")
    );
}

#[test]
fn quoted_paths_are_found_and_prose_is_not() {
    let text = "see `src/charm/plan.rs` and `jujusim/src/engine/`, not `juju run x` or `src/a b`";
    assert_eq!(
        quoted_paths(text),
        vec![
            "src/charm/plan.rs".to_string(),
            "jujusim/src/engine/".to_string()
        ]
    );
}
