//! YAML output quoted like Juju's (go-yaml): strings that would read back as another
//! type are double-quoted (`machine: "0"`, `id: "2"`, `value: ""`), where serde_yaml
//! single-quotes them (`'0'`). Everything else is serde_yaml's output unchanged; both
//! emitters are libyaml ports, so they agree on block scalars and the plain/single-quoted
//! fallback for strings like `*x` or `a: b`.
use serde::Serialize;

/// Serialize `v` as YAML with go-yaml's quoting of ambiguous strings.
pub fn to_string<T: Serialize + ?Sized>(v: &T) -> Result<String, serde_yaml::Error> {
    Ok(requote(&serde_yaml::to_string(v)?))
}

/// Rewrite serde_yaml text: ambiguous single-quoted scalars and YAML 1.1 booleans
/// (`yes`, `off`, ...; go-yaml quotes them, serde_yaml does not) become double-quoted.
pub fn requote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    // Indent of the line that opened a block scalar (`key: |-`); deeper lines are content.
    let mut block: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let indent = body.len() - body.trim_start_matches(' ').len();
        if let Some(open) = block {
            if body.trim().is_empty() || indent > open {
                out.push_str(line);
                continue;
            }
            block = None;
        }
        let fixed = requote_line(body);
        if opens_block(&fixed) {
            block = Some(indent);
        }
        out.push_str(&fixed);
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// `key: |-`, `- >`, `key: |2` ...
fn opens_block(line: &str) -> bool {
    let last = line.rsplit(' ').next().unwrap_or("");
    let mut chars = last.chars();
    matches!(chars.next(), Some('|' | '>'))
        && chars.all(|c| c == '-' || c == '+' || c.is_ascii_digit())
        && (line.trim_start() == last || line.ends_with(&format!(" {last}")))
}

fn requote_line(line: &str) -> String {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let mut prefix = line[..indent].to_string();
    let mut rest = &line[indent..];
    while let Some(r) = rest.strip_prefix("- ") {
        prefix.push_str("- ");
        rest = r;
    }
    if rest == "-" {
        return line.to_string();
    }
    // The key (or a lone sequence item), then an optional value after ": ".
    let (first, after) = match scalar_end(rest) {
        Some(end) => (&rest[..end], &rest[end..]),
        None => return line.to_string(),
    };
    let mut out = prefix;
    if after.is_empty() {
        out.push_str(&fix_scalar(first));
        return out;
    }
    if let Some(value) = after.strip_prefix(": ") {
        out.push_str(&fix_scalar(first));
        out.push_str(": ");
        match scalar_end(value) {
            Some(end) if end == value.len() => out.push_str(&fix_scalar(value)),
            _ => out.push_str(value),
        }
        return out;
    }
    if after == ":" {
        out.push_str(&fix_scalar(first));
        out.push(':');
        return out;
    }
    line.to_string()
}

/// Byte length of the scalar token at the start of `s`: a quoted string, or plain text up
/// to `: ` / a trailing `:`. None when `s` starts a flow collection or is unclosed.
fn scalar_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    match bytes.first()? {
        b'\'' => {
            let mut i = 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return Some(i + 1);
                }
                i += 1;
            }
            None
        }
        b'"' => {
            let mut i = 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => return Some(i + 1),
                    _ => i += 1,
                }
            }
            None
        }
        b'[' | b'{' => None,
        _ => Some(s.find(": ").unwrap_or(if s.ends_with(':') {
            s.len() - 1
        } else {
            s.len()
        })),
    }
}

/// A scalar token as go-yaml would write it.
fn fix_scalar(token: &str) -> String {
    if let Some(inner) = token.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        let content = inner.replace("''", "'");
        if !reads_as_string(&content) {
            return double_quote(&content);
        }
        return token.to_string();
    }
    if is_yaml11_bool(token) {
        return double_quote(token);
    }
    token.to_string()
}

/// Like go-yaml's `resolve`: does `s`, written plain, read back as null, a bool or a
/// number? (Other strings that cannot be plain stay single-quoted in both emitters.)
fn reads_as_string(s: &str) -> bool {
    !s.is_empty()
        && !matches!(
            serde_yaml::from_str::<serde_yaml::Value>(s),
            Ok(serde_yaml::Value::Null | serde_yaml::Value::Bool(_) | serde_yaml::Value::Number(_))
        )
}

/// YAML 1.1 booleans that YAML 1.2 (serde_yaml) reads as strings.
fn is_yaml11_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

fn double_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn y(v: serde_json::Value) -> String {
        to_string(&v).unwrap()
    }

    #[test]
    fn ambiguous_strings_are_double_quoted_like_go_yaml() {
        assert_eq!(
            y(json!({"machine": "0", "id": "2", "message": "", "flag": "true", "x": "null"})),
            "flag: \"true\"\nid: \"2\"\nmachine: \"0\"\nmessage: \"\"\nx: \"null\"\n"
        );
        assert_eq!(y(json!({"0": {"a": "1.5"}})), "\"0\":\n  a: \"1.5\"\n");
        assert_eq!(y(json!(["1", "x", "off"])), "- \"1\"\n- x\n- \"off\"\n");
        assert_eq!(y(json!({"l": [{"k": "7"}]})), "l:\n- k: \"7\"\n");
    }

    #[test]
    fn other_strings_and_types_are_untouched() {
        assert_eq!(
            y(json!({"a": 1, "b": true, "c": "it's", "d": "*star", "e": "a: b"})),
            serde_yaml::to_string(
                &json!({"a": 1, "b": true, "c": "it's", "d": "*star", "e": "a: b"})
            )
            .unwrap()
        );
    }

    #[test]
    fn block_scalars_are_left_alone() {
        let v = json!({"stdout": "x: '1'\n- '2'\nyes\n", "after": "3"});
        let text = y(v.clone());
        assert!(text.contains("  x: '1'\n  - '2'\n  yes\n"), "{text}");
        assert!(text.starts_with("after: \"3\"\n"), "{text}");
        let back: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn output_reads_back_as_the_same_value() {
        let v = json!({"a": {"0": ["", "0", "yes", "it''s", "x\"y"]}, "b": "9"});
        let back: serde_json::Value = serde_yaml::from_str(&y(v.clone())).unwrap();
        assert_eq!(back, v);
    }
}
