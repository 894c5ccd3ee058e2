//! The operator pages cover everything an operator can meet: every option in config.yaml
//! has an entry in docs/options.md, every action and parameter in actions.yaml one in
//! docs/actions.md, and every status message the charm can set appears in
//! docs/troubleshooting.md.
//!
//! Status messages are found in the source, not listed here: a small Rust lexer collects
//! the string literals passed to `Status::{blocked,waiting,maintenance,active,new}` and to
//! the config-error constructors (`ConfigError::new`, `TlsError::new`), skipping comments
//! and `#[cfg(test)]` items. A message built elsewhere and passed as a variable is traced
//! through `INDIRECT` to the functions that build it; `NOT_STATUS` names the few functions
//! whose errors never reach a status. Each message's fixed text (what is
//! left between its `{}` placeholders) must appear, in order, within one paragraph, table
//! row or code line of the page; backticks are ignored.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

fn yaml_keys(value: &Value) -> Vec<String> {
    value
        .as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Markdown: entries are headings and first table cells that are one `code` span.

/// A documented name: `## \`name\`` (level 2..) or `| \`name\` | ...`, with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    name: String,
    line: usize,
    /// Heading level (number of `#`), or None for a table row.
    level: Option<usize>,
}

/// The text of `s` when it is exactly one code span: `` `name` `` -> `name`.
fn code_span(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix('`')?.strip_suffix('`')?;
    (!inner.is_empty() && !inner.contains('`')).then_some(inner)
}

fn entries(page: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut in_code = false;
    for (i, line) in page.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if line.starts_with('#') {
            let level = line.chars().take_while(|c| *c == '#').count();
            if let Some(name) = code_span(&line[level..]) {
                out.push(Entry {
                    name: name.to_string(),
                    line: i + 1,
                    level: Some(level),
                });
            }
        } else if let Some(rest) = line.strip_prefix('|') {
            let first = rest.split('|').next().unwrap_or_default();
            if let Some(name) = code_span(first) {
                out.push(Entry {
                    name: name.to_string(),
                    line: i + 1,
                    level: None,
                });
            }
        }
    }
    out
}

#[test]
fn every_option_has_an_entry_in_options_md() {
    let config: Value = serde_yaml::from_str(&read("config.yaml")).expect("config.yaml parses");
    let options: BTreeSet<String> = yaml_keys(&config["options"]).into_iter().collect();
    assert!(options.len() > 50, "only {} options read", options.len());
    let documented: BTreeSet<String> = entries(&read("docs/options.md"))
        .into_iter()
        .map(|e| e.name)
        .collect();
    let mut problems = Vec::new();
    for o in options.difference(&documented) {
        problems.push(format!(
            "option `{o}` (config.yaml) has no entry: add a \"### `{o}`\" heading under its \
             group (what it does, default, valid values, the exact blocked message, a \
             `juju config` example), or a row \"| `{o}` | default | why |\" in the \
             \"Accepted and ignored\" table if the charm ignores it"
        ));
    }
    for o in documented.difference(&options) {
        problems.push(format!(
            "`{o}` has an entry but is not an option in config.yaml: remove or rename it"
        ));
    }
    assert!(
        problems.is_empty(),
        "docs/options.md is out of step with config.yaml:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_action_and_parameter_has_an_entry_in_actions_md() {
    let actions: Value = serde_yaml::from_str(&read("actions.yaml")).expect("actions.yaml parses");
    let page = entries(&read("docs/actions.md"));
    let sections: Vec<&Entry> = page.iter().filter(|e| e.level == Some(2)).collect();
    let mut problems = Vec::new();
    let names = yaml_keys(&actions);
    assert!(names.len() >= 5, "only {} actions read", names.len());
    for action in &names {
        let Some(section) = sections.iter().find(|e| &e.name == action) else {
            problems.push(format!(
                "action `{action}` (actions.yaml) has no section: add \"## `{action}`\" with what \
                 it does, a parameter table and real output of `jujusim run docker-registry/0 \
                 {action}` (or say plainly that it is not implemented yet)"
            ));
            continue;
        };
        // The section runs to the next level-2 heading entry (or the end).
        let end = sections
            .iter()
            .map(|e| e.line)
            .filter(|l| *l > section.line)
            .min()
            .unwrap_or(usize::MAX);
        let rows: BTreeSet<&str> = page
            .iter()
            .filter(|e| e.level.is_none() && e.line > section.line && e.line < end)
            .map(|e| e.name.as_str())
            .collect();
        let params: BTreeSet<String> = yaml_keys(&actions[action.as_str()]["params"])
            .into_iter()
            .collect();
        for p in &params {
            if !rows.contains(p.as_str()) {
                problems.push(format!(
                    "action `{action}`: parameter `{p}` is missing from its table (line {} on): \
                     add a row \"| `{p}` | <type> | <default> | <meaning> |\"",
                    section.line
                ));
            }
        }
        for r in rows {
            if !params.contains(r) {
                problems.push(format!(
                    "action `{action}`: the table lists `{r}`, which is not one of its \
                     parameters in actions.yaml: remove or rename the row"
                ));
            }
        }
    }
    for s in sections {
        if !names.contains(&s.name) {
            problems.push(format!(
                "section `{}` (line {}) is not an action in actions.yaml: remove or rename it",
                s.name, s.line
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/actions.md is out of step with actions.yaml:\n{}",
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// A small Rust lexer: enough to find calls and their string literals.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// A string literal's value (escapes resolved).
    Str(String),
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

fn lex(src: &str) -> Vec<Token> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let push = |out: &mut Vec<Token>, tok, line| out.push(Token { tok, line });
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' {
            let start = line;
            let (value, next) = string(&c, i + 1, &mut line);
            push(&mut out, Tok::Str(value), start);
            i = next;
        } else if ch == '\'' {
            // A char literal ('x', '\n', '"') or a lifetime ('a).
            if c.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                push(&mut out, Tok::Punct('\''), line);
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' || ch.is_ascii_digit() {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            // Raw and byte strings: r"..", r#".."#, b"..", br"..".
            let raw = matches!(word.as_str(), "r" | "br");
            if (raw || word == "b") && matches!(c.get(i), Some('"') | Some('#')) {
                let start_line = line;
                if raw {
                    let hashes = c[i..].iter().take_while(|x| **x == '#').count();
                    let open = i + hashes; // the opening quote
                    let mut j = open + 1;
                    let closing: Vec<char> = std::iter::once('"')
                        .chain(std::iter::repeat_n('#', hashes))
                        .collect();
                    while j < c.len() && c[j..].iter().take(closing.len()).ne(closing.iter()) {
                        if c[j] == '\n' {
                            line += 1;
                        }
                        j += 1;
                    }
                    let value: String = c[open + 1..j.min(c.len())].iter().collect();
                    push(&mut out, Tok::Str(value), start_line);
                    i = j + closing.len();
                } else if c.get(i) == Some(&'"') {
                    let (value, next) = string(&c, i + 1, &mut line);
                    push(&mut out, Tok::Str(value), start_line);
                    i = next;
                } else {
                    push(&mut out, Tok::Ident(word), line);
                }
            } else {
                push(&mut out, Tok::Ident(word), line);
            }
        } else {
            push(&mut out, Tok::Punct(ch), line);
            i += 1;
        }
    }
    out
}

/// Reads a normal string literal's body from `i` (after the quote): (value, index after
/// the closing quote). A backslash before a newline drops the newline and the next line's
/// leading whitespace, as Rust does.
fn string(c: &[char], mut i: usize, line: &mut usize) -> (String, usize) {
    let mut value = String::new();
    while i < c.len() {
        match c[i] {
            '"' => return (value, i + 1),
            '\\' => {
                let e = c.get(i + 1).copied().unwrap_or('\\');
                i += 2;
                match e {
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    'r' => value.push('\r'),
                    '0' => value.push('\0'),
                    'x' => i += 2,
                    'u' => {
                        while i < c.len() && c[i] != '}' {
                            i += 1;
                        }
                        i += 1;
                    }
                    '\n' => {
                        *line += 1;
                        while i < c.len() && c[i].is_whitespace() {
                            if c[i] == '\n' {
                                *line += 1;
                            }
                            i += 1;
                        }
                    }
                    other => value.push(other),
                }
            }
            ch => {
                if ch == '\n' {
                    *line += 1;
                }
                value.push(ch);
                i += 1;
            }
        }
    }
    (value, i)
}

fn is_punct(t: &Token, ch: char) -> bool {
    t.tok == Tok::Punct(ch)
}

fn is_ident(t: &Token, name: &str) -> bool {
    matches!(&t.tok, Tok::Ident(s) if s == name)
}

/// The index just after the group opened at `open` (`(`, `[` or `{`).
fn group_end(toks: &[Token], open: usize) -> usize {
    let mut depth = 0i32;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t.tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

/// Drops every item marked `#[cfg(test)]` (test modules and test-only functions).
fn without_tests(toks: Vec<Token>) -> Vec<Token> {
    let attr = |k: usize| {
        let want = ["#", "[", "cfg", "(", "test", ")", "]"];
        want.iter().enumerate().all(|(n, w)| {
            toks.get(k + n).is_some_and(|t| match &t.tok {
                Tok::Punct(p) => w.len() == 1 && w.starts_with(*p),
                Tok::Ident(s) => s == w,
                Tok::Str(_) => false,
            })
        })
    };
    let mut out = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        if attr(k) {
            // Skip the item: up to its `;`, or its first `{...}` group.
            let mut j = k + 7;
            while j < toks.len() && !is_punct(&toks[j], ';') && !is_punct(&toks[j], '{') {
                j += 1;
            }
            k = if j < toks.len() && is_punct(&toks[j], '{') {
                group_end(&toks, j)
            } else {
                j + 1
            };
        } else {
            out.push(toks[k].clone());
            k += 1;
        }
    }
    out
}

/// A literal that reads as a message: two or more words with letters, placeholders aside.
fn message_like(s: &str) -> bool {
    let words = fragments(s)
        .join(" ")
        .split_whitespace()
        .filter(|w| w.chars().filter(char::is_ascii_alphabetic).count() >= 2)
        .count();
    words >= 2
}

/// The fixed text of a format string: the pieces between `{...}` placeholders, backticks
/// dropped, whitespace collapsed, pieces without a letter dropped.
fn fragments(template: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut cur = String::new();
    let mut chars = template.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                cur.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                cur.push('}');
            }
            '{' => {
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                }
                pieces.push(std::mem::take(&mut cur));
            }
            '`' => {}
            other => cur.push(other),
        }
    }
    pieces.push(cur);
    pieces
        .into_iter()
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| p.chars().any(|c| c.is_ascii_alphabetic()))
        .collect()
}

/// The message literals inside `toks`, leaving out those of logging macros.
fn message_literals(toks: &[Token]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        let t = &toks[k];
        let is_log = matches!(&t.tok, Tok::Ident(s) if ["trace", "debug", "info", "warn", "error"].contains(&s.as_str()))
            && toks.get(k + 1).is_some_and(|n| is_punct(n, '!'));
        if is_log {
            k = group_end(toks, k + 2);
            continue;
        }
        if let Tok::Str(s) = &t.tok {
            if message_like(s) {
                out.push((s.clone(), t.line));
            }
        }
        k += 1;
    }
    out
}

/// Calls whose argument is shown as (part of) a unit status: (type, function, argument).
const CONSTRUCTORS: &[(&str, &str, usize)] = &[
    ("Status", "blocked", 0),
    ("Status", "waiting", 0),
    ("Status", "maintenance", 0),
    ("Status", "active", 0),
    ("Status", "new", 1),
    ("ConfigError", "new", 1),
    ("TlsError", "new", 1),
];

/// Where a function that builds status text lives: (file, or "" for "the only one in
/// src/"; function name).
type Builder = (&'static str, &'static str);

/// Messages passed as a variable or call: (constructor, argument as written without
/// spaces, the functions whose message literals make it). Every entry must match a call.
const INDIRECT: &[(&str, &str, &[Builder])] = &[
    // Status's own constructors pass their argument on.
    ("Status::new", "message", &[]),
    // Invalid config: the config errors (checked on their own below), and TLS paths that
    // are directories or unusable operator certificate files (src/charm/plan.rs `block`).
    (
        "Status::blocked",
        "errors.status_message()",
        &[("src/config.rs", "status_message")],
    ),
    (
        "Status::blocked",
        "message",
        &[
            ("src/charm/tls_source.rs", "path_problem"),
            ("src/charm/tls_source.rs", "operator"),
            ("src/charm/mtls.rs", "plan"),
            ("src/charm/refusal.rs", "status_message"),
        ],
    ),
    // A config the registry refused, remembered until it changes (src/charm/refusal.rs),
    // and the status a watched rollback reports.
    (
        "Status::blocked",
        "refused.message.clone()",
        &[("src/charm/refusal.rs", "status_message")],
    ),
    (
        "Status::blocked",
        "message.clone()",
        &[("src/charm/refusal.rs", "status_message")],
    ),
    // `Ready at ...`, then any notes (src/charm/advertise.rs `Note::text`).
    (
        "Status::active",
        "advertise::ready_message(advertised,tls_on,notes)",
        &[("", "ready_message"), ("src/charm/advertise.rs", "text")],
    ),
    // URL and base64 problems.
    (
        "ConfigError::new",
        "problem",
        &[
            ("src/config.rs", "parse"),
            ("src/tls.rs", "decode_base64_text"),
        ],
    ),
    // PEM and base64 problems of TLS material.
    (
        "TlsError::new",
        "p",
        &[
            ("src/tls.rs", "pem_blocks"),
            ("src/tls.rs", "decode_base64_text"),
        ],
    ),
];

/// Functions whose constructor calls never reach a status: (file, function, why).
const NOT_STATUS: &[(&str, &str, &str)] = &[
    (
        "src/tls.rs",
        "from_str",
        "a SAN that is not a name is logged and left out of the certificate request",
    ),
    (
        "src/tls.rs",
        "generate_key",
        "a failure fails the hook (a broken machine, not an operator mistake)",
    ),
    (
        "src/tls.rs",
        "csr",
        "a failure fails the hook (a broken machine, not an operator mistake)",
    ),
    (
        "src/tls/auto.rs",
        "parse",
        "an unusable tls-auto CA in the peer relation is logged and ignored",
    ),
    (
        "src/tls/auto.rs",
        "offset_time",
        "a failure fails the hook (a clock outside what certificates can carry)",
    ),
    (
        "src/tls/auto.rs",
        "make_ca",
        "a failure fails the hook (a broken machine, not an operator mistake)",
    ),
    (
        "src/tls/auto.rs",
        "issue",
        "a failure fails the hook (a broken machine, not an operator mistake)",
    ),
];

/// Error texts shown inside a status message (`Registry not answering yet: {e}`).
const SHOWN_INSIDE: &[&str] = &["src/probe.rs"];

/// A message template found in the source, with where it came from.
#[derive(Debug)]
struct Found {
    template: String,
    origin: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// (path relative to the repository, tokens without test code) for every file in src/.
fn sources() -> Vec<(String, Vec<Token>)> {
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(repo()).unwrap_or(&p).display().to_string();
            let text = fs::read_to_string(&p).unwrap();
            (rel, without_tests(lex(&text)))
        })
        .collect()
}

/// The tokens of `fn name`'s body in `file` (or in the one file of src/ that has it).
fn function_body(
    srcs: &[(String, Vec<Token>)],
    (file, name): Builder,
) -> Result<(&str, &[Token]), String> {
    let mut hits = Vec::new();
    for (path, toks) in srcs {
        if !file.is_empty() && path != file {
            continue;
        }
        for k in 0..toks.len().saturating_sub(1) {
            if is_ident(&toks[k], "fn") && is_ident(&toks[k + 1], name) {
                let Some(open) = (k..toks.len()).find(|j| is_punct(&toks[*j], '{')) else {
                    continue;
                };
                hits.push((path.as_str(), &toks[open..group_end(toks, open)]));
            }
        }
    }
    match hits.len() {
        1 => Ok(hits[0]),
        0 => Err(format!(
            "no `fn {name}` in {}",
            if file.is_empty() { "src/" } else { file }
        )),
        n => Err(format!(
            "{n} functions named `{name}` in {}: give INDIRECT its file",
            if file.is_empty() { "src/" } else { file }
        )),
    }
}

/// (name, body token range) of every function in `toks`.
fn functions(toks: &[Token]) -> Vec<(String, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    for k in 0..toks.len().saturating_sub(1) {
        if let (true, Tok::Ident(name)) = (is_ident(&toks[k], "fn"), &toks[k + 1].tok) {
            if let Some(open) = (k..toks.len()).find(|j| is_punct(&toks[*j], '{')) {
                out.push((name.clone(), open..group_end(toks, open)));
            }
        }
    }
    out
}

/// The innermost function around token `k`.
fn enclosing(fns: &[(String, std::ops::Range<usize>)], k: usize) -> Option<&str> {
    fns.iter()
        .filter(|(_, r)| r.contains(&k))
        .min_by_key(|(_, r)| r.len())
        .map(|(n, _)| n.as_str())
}

/// Every status message template the charm's source can produce, and the problems met
/// while collecting them.
fn status_templates() -> (Vec<Found>, Vec<String>) {
    let srcs = sources();
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let mut used = vec![false; INDIRECT.len()];
    let mut skipped = vec![false; NOT_STATUS.len()];
    let mut calls = 0;
    for (path, toks) in &srcs {
        let fns = functions(toks);
        for k in 0..toks.len() {
            let Some(&(ty, func, arg)) = CONSTRUCTORS.iter().find(|(ty, func, _)| {
                is_ident(&toks[k], ty)
                    && toks.get(k + 1).is_some_and(|t| is_punct(t, ':'))
                    && toks.get(k + 2).is_some_and(|t| is_punct(t, ':'))
                    && toks.get(k + 3).is_some_and(|t| is_ident(t, func))
                    && toks.get(k + 4).is_some_and(|t| is_punct(t, '('))
            }) else {
                continue;
            };
            calls += 1;
            let within = enclosing(&fns, k);
            if let Some(n) = NOT_STATUS
                .iter()
                .position(|(f, name, _)| f == path && Some(*name) == within)
            {
                skipped[n] = true;
                continue;
            }
            let ctor = format!("{ty}::{func}");
            let line = toks[k].line;
            let end = group_end(toks, k + 4);
            let inner = &toks[k + 5..end.saturating_sub(1)];
            let mut args: Vec<&[Token]> = Vec::new();
            let (mut depth, mut start) = (0i32, 0);
            for (j, t) in inner.iter().enumerate() {
                match t.tok {
                    Tok::Punct('(' | '[' | '{') => depth += 1,
                    Tok::Punct(')' | ']' | '}') => depth -= 1,
                    Tok::Punct(',') if depth == 0 => {
                        args.push(&inner[start..j]);
                        start = j + 1;
                    }
                    _ => {}
                }
            }
            args.push(&inner[start..]);
            let Some(arg_toks) = args.get(arg) else {
                problems.push(format!("{path}:{line}: {ctor} has no argument {arg}"));
                continue;
            };
            let literals = message_literals(arg_toks);
            if !literals.is_empty() {
                for (template, _) in literals {
                    found.push(Found {
                        template,
                        origin: format!("{path}:{line} ({ctor})"),
                    });
                }
                continue;
            }
            let expr: String = arg_toks
                .iter()
                .map(|t| match &t.tok {
                    Tok::Ident(s) => s.clone(),
                    Tok::Str(s) => format!("{s:?}"),
                    Tok::Punct(c) => c.to_string(),
                })
                .collect();
            let Some(n) = INDIRECT
                .iter()
                .position(|(c, e, _)| *c == ctor && *e == expr)
            else {
                problems.push(format!(
                    "{path}:{line}: {ctor}({expr}) takes a message built elsewhere: add \
                     (\"{ctor}\", \"{expr}\", &[the function(s) that build it]) to INDIRECT in \
                     tests/docs_coverage.rs, and document the text in docs/troubleshooting.md"
                ));
                continue;
            };
            used[n] = true;
            for builder in INDIRECT[n].2 {
                match function_body(&srcs, *builder) {
                    Ok((file, body)) => {
                        for (template, l) in message_literals(body) {
                            found.push(Found {
                                template,
                                origin: format!(
                                    "{file}:{l} (fn {}, shown through {ctor} at {path}:{line})",
                                    builder.1
                                ),
                            });
                        }
                    }
                    Err(e) => problems.push(format!("INDIRECT ({ctor}, {expr}): {e}")),
                }
            }
        }
    }
    for (n, (ctor, expr, _)) in INDIRECT.iter().enumerate() {
        if !used[n] {
            problems.push(format!(
                "INDIRECT ({ctor}, {expr}) matches no call in src/ any more: update or remove it"
            ));
        }
    }
    for (n, (file, name, _)) in NOT_STATUS.iter().enumerate() {
        if !skipped[n] {
            problems.push(format!(
                "NOT_STATUS ({file}, fn {name}) has no constructor call any more: remove it"
            ));
        }
    }
    for file in SHOWN_INSIDE {
        let Some((_, toks)) = srcs.iter().find(|(p, _)| p == file) else {
            problems.push(format!("SHOWN_INSIDE: {file} does not exist"));
            continue;
        };
        for k in 0..toks.len() {
            let is_error_attr = is_punct(&toks[k], '#')
                && toks.get(k + 1).is_some_and(|t| is_punct(t, '['))
                && toks.get(k + 2).is_some_and(|t| is_ident(t, "error"));
            if is_error_attr {
                let end = group_end(toks, k + 1);
                for (template, l) in message_literals(&toks[k..end]) {
                    found.push(Found {
                        template,
                        origin: format!("{file}:{l} (#[error], shown inside a status)"),
                    });
                }
            }
        }
    }
    // A scanner that finds nothing would pass every page: make sure it sees the code.
    assert!(
        calls > 40,
        "only {calls} constructor calls found in src/: is the lexer broken?"
    );
    assert!(found.len() > 60, "only {} message texts found", found.len());
    (found, problems)
}

/// The page cut into units a message must fit in: each paragraph (lines joined), each
/// table row, each line of a code block; backticks dropped, whitespace collapsed.
fn units(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut in_code = false;
    let flush = |para: &mut Vec<&str>, out: &mut Vec<String>| {
        if !para.is_empty() {
            out.push(para.join(" "));
            para.clear();
        }
    };
    for line in page.lines() {
        if line.trim_start().starts_with("```") {
            flush(&mut para, &mut out);
            in_code = !in_code;
        } else if in_code || line.trim_start().starts_with('|') {
            flush(&mut para, &mut out);
            out.push(line.to_string());
        } else if line.trim().is_empty() {
            flush(&mut para, &mut out);
        } else {
            para.push(line);
        }
    }
    flush(&mut para, &mut out);
    out.into_iter()
        .map(|u| {
            u.replace('`', "")
                .replace("\\|", "|")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// True when `frags` appear in this order in `unit`.
fn contains_in_order(unit: &str, frags: &[String]) -> bool {
    let mut at = 0;
    for f in frags {
        match unit[at..].find(f.as_str()) {
            Some(i) => at += i + f.len(),
            None => return false,
        }
    }
    true
}

#[test]
fn every_status_message_is_in_troubleshooting_md() {
    let (found, mut problems) = status_templates();
    let page = units(&read("docs/troubleshooting.md"));
    let mut seen = BTreeSet::new();
    for f in &found {
        let frags = fragments(&f.template);
        if !seen.insert(frags.clone()) {
            continue;
        }
        if !page.iter().any(|u| contains_in_order(u, &frags)) {
            problems.push(format!(
                "{}: {:?} is not in the page; looked for {frags:?} in this order within one \
                 paragraph, table row or code line. Add the message (write <placeholders> \
                 for its {{}} parts), what it means and how to fix it",
                f.origin, f.template
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/troubleshooting.md misses status messages the charm can set:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_scanner_reads_rust_as_rust() {
    let src = r##"
        // Status::blocked("in a comment")
        /* Status::waiting("in a block comment") */
        fn f() {
            let q = '"';
            let s = Status::blocked(format!("Line one \
                     continues here {x}"));
            let t = Status::waiting(if a { "Waiting for one thing." } else { "Waiting for another." });
            let r = Status::active(r#"raw "quoted" text here"#);
            ConfigError::new("opt", format!("unset while {} is set", v.join(", ")));
            tracing::warn!("a log line, not a status");
            Status::blocked(problem);
        }
        #[cfg(test)]
        mod tests {
            fn g() { Status::blocked("only in a test"); }
        }
    "##;
    let toks = without_tests(lex(src));
    let strs: Vec<String> = message_literals(&toks)
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        strs,
        [
            "Line one continues here {x}",
            "Waiting for one thing.",
            "Waiting for another.",
            "raw \"quoted\" text here",
            "unset while {} is set",
        ]
    );
    assert_eq!(
        fragments("{option}: `{}` is a directory ({{x}}) {n:?}."),
        ["is a directory ({x})"]
    );
    assert!(!message_like("https"));
    assert!(!message_like("-----END {label}-----"));
    assert!(message_like("Ready at {} ({scheme}{proxied})."));
    let units = units("a `b`\nc\n\n| x | y |\n```\nk l\n```\n");
    assert_eq!(units, ["a b c", "| x | y |", "k l"]);
    assert!(contains_in_order(
        "Ready at <netloc> (<scheme>[, proxied]).",
        &fragments("Ready at {} ({scheme}{proxied}).")
    ));
    assert!(!contains_in_order("b a", &["a".into(), "b".into()]));
}
