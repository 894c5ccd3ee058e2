//! The charm crate's one error convention, checked on its source: a variant prints its
//! cause in its message and returns none from `source()` (no `#[source]`, no field named
//! `source`); `#[from]` only on `#[error(transparent)]` variants, which forward the inner
//! error whole. So a cause is never printed twice, whoever prints the error.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every breach of the convention in `text`, as `line: what`.
fn breaches(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let (mut in_error, mut last_attr) = (false, String::new());
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with("#[derive(") && t.contains("thiserror::Error") {
            in_error = true;
            continue;
        }
        if !in_error {
            continue;
        }
        if line == "}" {
            in_error = false;
        } else if t.starts_with("#[error(") {
            last_attr = t.to_string();
        } else if t.contains("#[source]") || t.starts_with("source:") {
            found.push(format!("{}: a source() besides the message: {t}", n + 1));
        } else if t.contains("#[from]") && !last_attr.contains("transparent") {
            found.push(format!(
                "{}: #[from] (a source) on a variant with its own message: {t}",
                n + 1
            ));
        }
    }
    found
}

#[test]
fn no_error_prints_its_cause_twice() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut all = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        all.extend(
            breaches(&text)
                .into_iter()
                .map(|b| format!("{}:{b}", file.display())),
        );
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
    assert!(files.len() > 20, "the walk found the sources");
}

#[test]
fn the_check_sees_both_breaches() {
    let text = "#[derive(Debug, thiserror::Error)]\npub enum E {\n    #[error(\"x: {0}\")]\n    A(#[from] io::Error),\n    #[error(\"y\")]\n    B {\n        #[source]\n        source: io::Error,\n    },\n    #[error(transparent)]\n    C(#[from] F),\n}\n";
    let found = breaches(text);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].starts_with("4: #[from]"), "{found:?}");
}
