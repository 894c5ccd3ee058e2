//! gnuflag-like argument parsing and juju/cmd output formatting for hook tools.
//!
//! Interspersed flags, `--x=v`, `--x v`, `-r3`, `-r 3`, boolean `--app[=true|false]`,
//! `--` ends flags. Messages match juju/cmd ("option provided but not defined: --foo").
use serde_json::Value;
use std::collections::BTreeMap;

/// One accepted flag.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Long name (`relation`), or the single letter for short-only flags.
    pub long: &'static str,
    /// Single-letter alias.
    pub short: Option<char>,
    /// Whether it takes a value.
    pub value: bool,
}

/// Shorthand for a flag spec.
pub const fn flag(long: &'static str, short: Option<char>, value: bool) -> Spec {
    Spec { long, short, value }
}

/// Why parsing stopped: `-h`, or a usage error in juju/cmd's words (exit 2).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// `-h` / `--help`.
    #[error("help requested")]
    Help,
    /// A flag the command does not take (as typed, dashes included).
    #[error("option provided but not defined: {0}")]
    Undefined(String),
    /// A value flag at the end of the line.
    #[error("option needs an argument: {0}")]
    NeedsValue(String),
    /// `--flag=x` for a boolean flag, x not a boolean.
    #[error("invalid value {value:?} for option {flag}: parse error")]
    NotBool {
        /// The flag as typed.
        flag: String,
        /// The value.
        value: String,
    },
    /// `--format` naming a format the tool does not offer.
    #[error("invalid value {0:?} for option --format: unknown format {0:?}")]
    UnknownFormat(String),
}

/// The parsed command line.
#[derive(Debug, Default)]
pub struct Parsed {
    values: BTreeMap<&'static str, String>,
    bools: BTreeMap<&'static str, bool>,
    /// Positional arguments in order.
    pub args: Vec<String>,
}

impl Parsed {
    /// The same flags with other positional arguments.
    pub fn with_args(p: &Parsed, args: Vec<String>) -> Parsed {
        Parsed {
            values: p.values.clone(),
            bools: p.bools.clone(),
            args,
        }
    }

    /// Value of a value flag (last one wins).
    pub fn value(&self, long: &str) -> Option<&str> {
        self.values.get(long).map(String::as_str)
    }

    /// Whether a boolean flag is on.
    pub fn on(&self, long: &str) -> bool {
        self.bools.get(long).copied().unwrap_or(false)
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" | "1" | "t" | "T" => Some(true),
        "false" | "False" | "FALSE" | "0" | "f" | "F" => Some(false),
        _ => None,
    }
}

/// Parse `args` against `specs`.
pub fn parse(args: &[String], specs: &[Spec]) -> Result<Parsed, FlagError> {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            p.args.extend(args[i..].iter().cloned());
            break;
        }
        if a.len() < 2 || !a.starts_with('-') {
            p.args.push(a.clone());
            continue;
        }
        let (dashes, body) = if let Some(b) = a.strip_prefix("--") {
            ("--", b)
        } else {
            ("-", &a[1..])
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        if name == "h" || name == "help" {
            return Err(FlagError::Help);
        }
        let spec = specs.iter().find(|s| {
            s.long == name
                || (name.chars().count() == 1 && s.short.is_some_and(|c| name.starts_with(c)))
        });
        // `-r3`: a single dash, a known one-letter value flag, and the value glued on.
        let glued = if dashes == "-" && spec.is_none() && inline.is_none() {
            name.chars().next().and_then(|c| {
                specs
                    .iter()
                    .find(|s| s.value && s.short == Some(c))
                    .map(|s| (s, name[c.len_utf8()..].to_string()))
            })
        } else {
            None
        };
        if let Some((s, v)) = glued {
            p.values.insert(s.long, v);
            continue;
        }
        let Some(spec) = spec else {
            return Err(FlagError::Undefined(format!("{dashes}{name}")));
        };
        if spec.value {
            let v = match inline {
                Some(v) => v,
                None if i < args.len() => {
                    i += 1;
                    args[i - 1].clone()
                }
                None => return Err(FlagError::NeedsValue(format!("{dashes}{name}"))),
            };
            p.values.insert(spec.long, v);
        } else {
            let on = match inline {
                None => true,
                Some(v) => parse_bool(&v).ok_or_else(|| FlagError::NotBool {
                    flag: format!("{dashes}{name}"),
                    value: v.clone(),
                })?,
            };
            p.bools.insert(spec.long, on);
        }
    }
    Ok(p)
}

/// Output format of a tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// juju/cmd "smart".
    Smart,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

impl Format {
    /// Parse `--format` (`allowed` lists the formats this tool accepts).
    pub fn parse(s: Option<&str>, default: Format, allowed: &[&str]) -> Result<Format, FlagError> {
        let Some(s) = s else { return Ok(default) };
        let f = match s {
            "smart" => Format::Smart,
            "json" => Format::Json,
            "yaml" => Format::Yaml,
            _ => return Err(FlagError::UnknownFormat(s.into())),
        };
        if !allowed.contains(&s) {
            return Err(FlagError::UnknownFormat(s.into()));
        }
        Ok(f)
    }
}

/// Render `v` as juju/cmd would.
pub fn render(v: &Value, f: Format) -> String {
    match f {
        Format::Json => {
            let mut s = serde_json::to_string(v).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Yaml => match v {
            Value::Null => String::new(),
            _ => crate::yaml::to_string(v).unwrap_or_default(),
        },
        Format::Smart => match v {
            Value::Null => String::new(),
            Value::String(s) if s.is_empty() => String::new(),
            Value::String(s) => format!("{s}\n"),
            Value::Bool(b) => if *b { "True\n" } else { "False\n" }.to_string(),
            Value::Array(items) if items.iter().all(|x| x.is_string()) => items
                .iter()
                .filter_map(|x| x.as_str())
                .map(|s| format!("{s}\n"))
                .collect(),
            _ => crate::yaml::to_string(v).unwrap_or_default(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }
    const SPECS: &[Spec] = &[
        flag("relation", Some('r'), true),
        flag("app", None, false),
        flag("format", None, true),
    ];

    #[test]
    fn gnuflag_forms() {
        let p = parse(&v(&["-", "app/0", "--app", "--format=json", "-r3"]), SPECS).unwrap();
        assert_eq!(p.args, v(&["-", "app/0"]));
        assert!(p.on("app"));
        assert_eq!(p.value("format"), Some("json"));
        assert_eq!(p.value("relation"), Some("3"));
        let p = parse(&v(&["-r", "db:1", "--app=False", "--", "--x"]), SPECS).unwrap();
        assert_eq!(p.value("relation"), Some("db:1"));
        assert!(!p.on("app"));
        assert_eq!(p.args, v(&["--x"]));
    }

    #[test]
    fn gnuflag_errors() {
        assert_eq!(
            parse(&v(&["--foo"]), SPECS).unwrap_err(),
            FlagError::Undefined("--foo".into())
        );
        assert_eq!(
            parse(&v(&["-r"]), SPECS).unwrap_err(),
            FlagError::NeedsValue("-r".into())
        );
        assert_eq!(parse(&v(&["--help"]), SPECS).unwrap_err(), FlagError::Help);
        let err = parse(&v(&["--app=maybe"]), SPECS).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value \"maybe\" for option --app: parse error"
        );
        let err = Format::parse(Some("xml"), Format::Smart, &["json"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value \"xml\" for option --format: unknown format \"xml\""
        );
    }

    #[test]
    fn smart_output() {
        assert_eq!(render(&Value::Bool(true), Format::Smart), "True\n");
        assert_eq!(
            render(&serde_json::json!(["a", "b"]), Format::Smart),
            "a\nb\n"
        );
        assert_eq!(
            render(&serde_json::json!({"b": "1", "a": "2"}), Format::Json),
            "{\"a\":\"2\",\"b\":\"1\"}\n"
        );
        assert_eq!(render(&Value::Null, Format::Json), "null\n");
        assert_eq!(render(&serde_json::json!(42), Format::Smart), "42\n");
    }
}
