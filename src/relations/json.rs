//! The JSON dialect of charms.reactive: `json.dumps(value, sort_keys=True)`.
//!
//! Python's defaults differ from serde_json's compact output, and peers compare raw
//! strings (a changed string fires `relation-changed`), so we reproduce them exactly:
//!
//! - separators `", "` and `": "`;
//! - object keys sorted (serde_json's default `Map` is a `BTreeMap`, already sorted);
//! - `ensure_ascii`: every character outside `' '..='~'` is escaped, non-BMP characters as
//!   a UTF-16 surrogate pair (`\ud83d\ude00`); `\n \r \t \b \f \" \\` use short escapes.
//!
//! Readers are the other way round and lenient, like charms.reactive's `from_json`:
//! decode as JSON, and if that fails keep the raw string.

use serde_json::Value;

/// `json.dumps(value, sort_keys=True)` as Python writes it.
pub(crate) fn dumps(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// `json.dumps(s)` for one string: a quoted, ASCII-only JSON string.
pub(crate) fn dumps_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_str(&mut out, s);
    out
}

/// `json.dumps(None)` / `json.dumps(s)`: `null` for absent.
pub(crate) fn dumps_opt_str(s: Option<&str>) -> String {
    s.map_or_else(|| "null".to_string(), dumps_str)
}

/// Decode a raw relation value as JSON, falling back to the raw text as a JSON string.
pub(crate) fn loads_lenient(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        // Integers print the same in both languages; floats never occur in our contracts.
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, k);
                out.push_str(": ");
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_match_python() {
        assert_eq!(dumps_str("10.5.0.12:5000"), r#""10.5.0.12:5000""#);
        assert_eq!(dumps_str("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(dumps_str("é\u{7f}\u{1}"), r#""\u00e9\u007f\u0001""#);
        assert_eq!(dumps_str("😀"), r#""\ud83d\ude00""#);
        assert_eq!(dumps_str("a/b"), r#""a/b""#);
        assert_eq!(dumps_opt_str(None), "null");
    }

    #[test]
    fn containers_use_python_separators_and_sorted_keys() {
        let v = json!({"b": [1, "x", null], "a": {"d": true, "c": false}});
        assert_eq!(
            dumps(&v),
            r#"{"a": {"c": false, "d": true}, "b": [1, "x", null]}"#
        );
        assert_eq!(dumps(&json!([])), "[]");
        assert_eq!(dumps(&json!({})), "{}");
    }

    #[test]
    fn output_is_valid_json_that_decodes_back() {
        let v = json!({"k": "é😀\u{0}\"", "l": ["a", 2]});
        assert_eq!(serde_json::from_str::<Value>(&dumps(&v)).ok(), Some(v));
    }

    #[test]
    fn lenient_decoding_falls_back_to_raw() {
        assert_eq!(loads_lenient(r#""x""#), json!("x"));
        assert_eq!(loads_lenient("null"), Value::Null);
        assert_eq!(loads_lenient("10.5.0.12:5000"), json!("10.5.0.12:5000"));
    }
}
