//! One parser per command: its flags, its arity, its values checked, into a
//! [`Request`]; and `juju run`'s `key=value` parameters.
use super::args::{ArgsError, OutFormat, Request, ShowFilter};
use crate::charm::Base;
use crate::engine::Location;
use crate::flags::{flag, parse, Parsed, Spec};
use crate::model::{MachinesKind, StatusKind};
use serde_json::Value;
use std::path::PathBuf;

/// Builds one command's request from the arguments after its name.
type Parse = fn(&[String]) -> Result<Request, ArgsError>;

/// Every command: its name, the other names it answers to, its parser.
pub(super) const COMMANDS: &[(&str, &[&str], Parse)] = &[
    ("deploy", &[], deploy),
    ("config", &[], config),
    ("integrate", &["relate", "add-relation"], integrate),
    ("remove-relation", &[], remove_relation),
    ("add-unit", &[], add_unit),
    ("remove-unit", &[], remove_unit),
    ("set-leader", &[], set_leader),
    ("refresh", &["upgrade-charm"], refresh),
    ("run", &[], run),
    ("show-task", &[], show_task),
    ("exec", &[], exec),
    ("status", &[], status),
    ("show-unit", &[], show_unit),
    ("debug-log", &[], debug_log),
    ("resolve", &["resolved"], resolve),
    ("update-status", &[], update_status),
    ("settle", &[], |_| Ok(Request::Settle)),
    ("destroy", &["destroy-model"], |_| Ok(Request::Destroy)),
    ("netexec", &[], netexec),
    ("secrets", &["list-secrets"], secrets),
    ("show-secret", &[], show_secret),
    ("remove-application", &["remove-app"], remove_application),
    ("show-status-log", &[], show_status_log),
    ("model-config", &[], model_config),
    ("ssh", &[], ssh),
    ("scp", &[], scp),
];

fn secrets(a: &[String]) -> Result<Request, ArgsError> {
    let p = parse(a, &[FORMAT, flag("owner", None, true)])?;
    want(&p, 0, "secrets [--format tabular|yaml|json]")?;
    Ok(Request::Secrets {
        format: out_format(&p, &["tabular", "yaml", "json"])?,
    })
}

fn show_secret(a: &[String]) -> Result<Request, ArgsError> {
    const USAGE: &str =
        "show-secret ID|LABEL [--reveal] [--revision N] [--revisions] [--format yaml|json]";
    let p = parse(
        a,
        &[
            FORMAT,
            flag("reveal", Some('r'), false),
            flag("revision", None, true),
            flag("revisions", None, false),
        ],
    )?;
    want(&p, 1, USAGE)?;
    let revision =
        match p.value("revision") {
            None => None,
            Some(v) => Some(v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ArgsError::Invalid {
                    flag: "--revision",
                    value: v.into(),
                    expected: "a revision number".into(),
                }
            })?),
        };
    Ok(Request::ShowSecret {
        secret: p.args[0].clone(),
        reveal: p.on("reveal"),
        revision,
        revisions: p.on("revisions"),
        format: out_format(&p, &["yaml", "json"])?,
    })
}

const FORMAT: Spec = flag("format", None, true);
const NUM_UNITS: Spec = flag("num-units", Some('n'), true);

fn want(p: &Parsed, n: usize, usage: &'static str) -> Result<(), ArgsError> {
    if p.args.len() != n {
        return Err(ArgsError::Count {
            want: n,
            got: p.args.len(),
            usage,
        });
    }
    Ok(())
}

fn count(p: &Parsed) -> Result<u32, ArgsError> {
    match p.value("num-units") {
        None => Ok(1),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ArgsError::Invalid {
                flag: "-n",
                value: v.into(),
                expected: "a positive number of units".into(),
            }),
    }
}

fn out_format(p: &Parsed, allowed: &[&str]) -> Result<OutFormat, ArgsError> {
    match p.value("format") {
        None => Ok(OutFormat::Plain),
        Some(f) if !allowed.contains(&f) => Err(ArgsError::Invalid {
            flag: "--format",
            value: f.into(),
            expected: format!("one of {}", allowed.join(", ")),
        }),
        Some("yaml") => Ok(OutFormat::Yaml),
        Some("json") => Ok(OutFormat::Json),
        Some(_) => Ok(OutFormat::Plain),
    }
}

fn kv(s: &str) -> Result<(String, String), ArgsError> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| ArgsError::NotKeyValue(s.into()))
}

fn split_dashdash(a: &[String]) -> (Vec<String>, Vec<String>) {
    match a.iter().position(|x| x == "--") {
        Some(i) => (a[..i].to_vec(), a[i + 1..].to_vec()),
        None => (a.to_vec(), vec![]),
    }
}

fn deploy(a: &[String]) -> Result<Request, ArgsError> {
    const USAGE: &str =
        "deploy CHARM [APP] [-n N] [--config k=v ...] [--base OS@CHANNEL] [--machines linux|host]";
    let p = parse(
        a,
        &[
            NUM_UNITS,
            flag("config", None, true),
            flag("machines", None, true),
            flag("base", None, true),
        ],
    )?;
    // --config may repeat: collect every occurrence by hand.
    let mut config = Vec::new();
    let mut i = 0;
    while i < a.len() {
        if a[i] == "--config" && i + 1 < a.len() {
            config.push(kv(&a[i + 1])?);
            i += 1;
        } else if let Some(v) = a[i].strip_prefix("--config=") {
            config.push(kv(v)?);
        }
        i += 1;
    }
    if p.args.is_empty() || p.args.len() > 2 {
        return Err(ArgsError::Usage(USAGE));
    }
    let machines = match p.value("machines") {
        None => None,
        Some("linux") => Some(MachinesKind::Linux),
        Some("host") => Some(MachinesKind::Host),
        Some(o) => {
            return Err(ArgsError::Invalid {
                flag: "--machines",
                value: o.into(),
                expected: "linux or host".into(),
            })
        }
    };
    Ok(Request::Deploy {
        charm: PathBuf::from(&p.args[0]),
        app: p.args.get(1).cloned(),
        n: count(&p)?,
        config,
        machines,
        base: p.value("base").map(Base::parse).transpose()?,
    })
}

fn config(a: &[String]) -> Result<Request, ArgsError> {
    let p = parse(a, &[flag("reset", None, true), FORMAT])?;
    let app = p.args.first().cloned().ok_or(ArgsError::Usage(
        "config APP [KEY | k=v ... | --reset k,...]",
    ))?;
    let reset: Vec<String> = p
        .value("reset")
        .map(|r| {
            r.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let rest = &p.args[1..];
    let (set, get) = if rest.len() == 1 && !rest[0].contains('=') {
        (vec![], Some(rest[0].clone()))
    } else {
        (rest.iter().map(|s| kv(s)).collect::<Result<_, _>>()?, None)
    };
    if get.is_some() && !reset.is_empty() {
        return Err(ArgsError::GetAndReset);
    }
    Ok(Request::Config {
        app,
        get,
        set,
        reset,
        format: out_format(&p, &["yaml", "json"])?,
    })
}

fn integrate(a: &[String]) -> Result<Request, ArgsError> {
    let p = parse(a, &[])?;
    want(&p, 2, "integrate A[:endpoint] B[:endpoint]")?;
    Ok(Request::Integrate {
        a: p.args[0].clone(),
        b: p.args[1].clone(),
    })
}

fn remove_relation(a: &[String]) -> Result<Request, ArgsError> {
    let p = parse(a, &[])?;
    if p.args.is_empty() || p.args.len() > 2 {
        return Err(ArgsError::Usage(
            "remove-relation A[:endpoint] B[:endpoint] | remove-relation ID",
        ));
    }
    Ok(Request::RemoveRelation {
        a: p.args[0].clone(),
        b: p.args.get(1).cloned(),
    })
}

fn add_unit(a: &[String]) -> Result<Request, ArgsError> {
    let p = parse(a, &[NUM_UNITS])?;
    want(&p, 1, "add-unit APP [-n N]")?;
    Ok(Request::AddUnit {
        app: p.args[0].clone(),
        n: count(&p)?,
    })
}

fn remove_unit(a: &[String]) -> Result<Request, ArgsError> {
    // Juju's prompt flags are accepted; jujusim never prompts.
    let p = parse(
        a,
        &[flag("no-prompt", None, false), flag("force", None, false)],
    )?;
    if p.args.is_empty() {
        return Err(ArgsError::Usage("remove-unit UNIT ..."));
    }
    Ok(Request::RemoveUnit {
        units: p.args.clone(),
    })
}

fn set_leader(a: &[String]) -> Result<Request, ArgsError> {
    let p = parse(a, &[])?;
    want(&p, 1, "set-leader UNIT")?;
    Ok(Request::SetLeader {
        unit: p.args[0].clone(),
    })
}

fn refresh(a: &[String]) -> Result<Request, ArgsError> {
    let p = parse(a, &[flag("path", None, true)])?;
    want(&p, 1, "refresh APP --path CHARM")?;
    let path = p.value("path").ok_or(ArgsError::NoCharmPath)?;
    Ok(Request::Refresh {
        app: p.args[0].clone(),
        path: PathBuf::from(path),
    })
}

fn run(a: &[String]) -> Result<Request, ArgsError> {
    let p = parse(
        a,
        &[
            FORMAT,
            flag("string-args", None, false),
            flag("wait", None, true),
            flag("background", None, false),
        ],
    )?;
    if p.args.len() < 2 {
        return Err(ArgsError::Usage("run UNIT ACTION [k=v ...] [--background]"));
    }
    Ok(Request::Run {
        unit: p.args[0].clone(),
        action: p.args[1].clone(),
        params: action_params(&p.args[2..])?,
        format: out_format(&p, &["plain", "yaml", "json"])?,
        background: p.on("background"),
    })
}

fn show_task(a: &[String]) -> Result<Request, ArgsError> {
    let p = parse(a, &[FORMAT])?;
    want(&p, 1, "show-task ID")?;
    let id = p.args[0]
        .parse()
        .map_err(|_| ArgsError::TaskId(p.args[0].clone()))?;
    Ok(Request::ShowTask {
        id,
        format: out_format(&p, &["yaml", "json"])?,
    })
}

fn exec(a: &[String]) -> Result<Request, ArgsError> {
    let (before, after) = split_dashdash(a);
    let p = parse(&before, &[flag("unit", Some('u'), true)])?;
    let unit = match (p.value("unit"), p.args.first()) {
        (Some(u), _) => u.to_string(),
        (None, Some(u)) => u.clone(),
        _ => return Err(ArgsError::Usage("exec UNIT -- CMD ...")),
    };
    let mut argv = after;
    if argv.is_empty() {
        argv = p
            .args
            .iter()
            .skip(usize::from(p.value("unit").is_none()))
            .cloned()
            .collect();
    }
    if argv.is_empty() {
        return Err(ArgsError::NoCommand);
    }
    Ok(Request::Exec { unit, argv })
}

fn status(a: &[String]) -> Result<Request, ArgsError> {
    let p = parse(
        a,
        &[
            FORMAT,
            flag("relations", None, false),
            flag("utc", None, false),
        ],
    )?;
    Ok(Request::Status {
        format: out_format(&p, &["tabular", "yaml", "json"])?,
        relations: p.on("relations"),
    })
}

fn show_unit(a: &[String]) -> Result<Request, ArgsError> {
    let p = parse(
        a,
        &[
            FORMAT,
            flag("endpoint", None, true),
            flag("related-unit", None, true),
            flag("app", None, false),
        ],
    )?;
    if p.args.is_empty() {
        return Err(ArgsError::NoUnit);
    }
    Ok(Request::ShowUnit {
        units: p.args.clone(),
        format: out_format(&p, &["yaml", "json"])?,
        filter: ShowFilter {
            endpoint: p.value("endpoint").map(String::from),
            related_unit: p.value("related-unit").map(String::from),
            app_only: p.on("app"),
        },
    })
}

fn debug_log(a: &[String]) -> Result<Request, ArgsError> {
    let p = parse(
        a,
        &[
            flag("replay", None, false),
            flag("lines", Some('n'), true),
            flag("include", None, true),
            flag("no-tail", None, false),
        ],
    )?;
    let lines = match p.value("lines") {
        Some(n) => n.parse().map_err(|_| ArgsError::Invalid {
            flag: "--lines",
            value: n.into(),
            expected: "a number of lines".into(),
        })?,
        None => 10,
    };
    Ok(Request::DebugLog {
        replay: p.on("replay"),
        lines,
        include: p.value("include").map(String::from),
    })
}

fn resolve(a: &[String]) -> Result<Request, ArgsError> {
    // `--retry` is the default (as in Juju 3); accepted so older habits work.
    let p = parse(
        a,
        &[flag("no-retry", None, false), flag("retry", None, false)],
    )?;
    want(&p, 1, "resolve UNIT [--retry|--no-retry]")?;
    if p.on("retry") && p.on("no-retry") {
        return Err(ArgsError::RetryConflict);
    }
    Ok(Request::Resolve {
        unit: p.args[0].clone(),
        retry: !p.on("no-retry"),
    })
}

fn update_status(a: &[String]) -> Result<Request, ArgsError> {
    let p = parse(a, &[])?;
    if p.args.len() > 1 {
        return Err(ArgsError::Usage("update-status [UNIT|APP]"));
    }
    Ok(Request::UpdateStatus {
        target: p.args.first().cloned(),
    })
}

fn netexec(a: &[String]) -> Result<Request, ArgsError> {
    let (before, after) = split_dashdash(a);
    let argv = if after.is_empty() { before } else { after };
    if argv.is_empty() {
        return Err(ArgsError::Usage("netexec -- CMD ..."));
    }
    Ok(Request::Netexec { argv })
}

fn remove_application(a: &[String]) -> Result<Request, ArgsError> {
    let p = parse(
        a,
        &[flag("no-prompt", None, false), flag("force", None, false)],
    )?;
    if p.args.is_empty() {
        return Err(ArgsError::Usage("remove-application APP ..."));
    }
    Ok(Request::RemoveApplication {
        apps: p.args.clone(),
    })
}

fn show_status_log(a: &[String]) -> Result<Request, ArgsError> {
    const USAGE: &str =
        "show-status-log UNIT [-n N] [--type unit|workload|juju-unit] [--format tabular|yaml|json]";
    let p = parse(
        a,
        &[
            FORMAT,
            flag("n", None, true),
            flag("type", None, true),
            flag("utc", None, false),
        ],
    )?;
    want(&p, 1, USAGE)?;
    let lines = match p.value("n") {
        None => 20,
        Some(n) => n.parse().map_err(|_| ArgsError::Invalid {
            flag: "-n",
            value: n.into(),
            expected: "a number of entries".into(),
        })?,
    };
    let kind = match p.value("type") {
        None | Some("unit") => None,
        Some("workload") => Some(StatusKind::Workload),
        Some("juju-unit") => Some(StatusKind::JujuUnit),
        Some(other) => return Err(ArgsError::StatusType(other.into())),
    };
    Ok(Request::ShowStatusLog {
        unit: p.args[0].clone(),
        lines,
        kind,
        format: out_format(&p, &["tabular", "yaml", "json"])?,
    })
}

fn model_config(a: &[String]) -> Result<Request, ArgsError> {
    let p = parse(a, &[])?;
    let (set, get): (Vec<&String>, Vec<&String>) = p.args.iter().partition(|x| x.contains('='));
    match (set.as_slice(), get.as_slice()) {
        ([], []) => Ok(Request::ModelConfig {
            get: None,
            set: vec![],
        }),
        ([], [key]) => Ok(Request::ModelConfig {
            get: Some(key.to_string()),
            set: vec![],
        }),
        (set, []) => Ok(Request::ModelConfig {
            get: None,
            set: set.iter().map(|s| kv(s)).collect::<Result<_, _>>()?,
        }),
        _ => Err(ArgsError::Usage("model-config [KEY | k=v ...]")),
    }
}

fn ssh(a: &[String]) -> Result<Request, ArgsError> {
    let (before, after) = split_dashdash(a);
    let p = parse(&before, &[])?;
    let (target, rest) = p
        .args
        .split_first()
        .ok_or(ArgsError::Usage("ssh UNIT|MACHINE [-- CMD ...]"))?;
    let mut argv = rest.to_vec();
    argv.extend(after);
    Ok(Request::Ssh {
        target: target.clone(),
        argv,
    })
}

fn scp(a: &[String]) -> Result<Request, ArgsError> {
    const USAGE: &str = "scp [-r] SOURCE DESTINATION (one of them <unit or machine>:<path>)";
    let (before, after) = split_dashdash(a);
    let p = parse(&before, &[flag("r", None, false)])?;
    // `juju scp -- -r SRC DST` passes scp's own flags after `--`.
    let recursive = p.on("r") || after.first().is_some_and(|x| x == "-r");
    let mut ends: Vec<String> = p.args.clone();
    ends.extend(after.into_iter().filter(|x| x != "-r"));
    let [from, to] = ends.as_slice() else {
        return Err(ArgsError::Usage(USAGE));
    };
    let (from, to) = (Location::parse(from), Location::parse(to));
    match (&from, &to) {
        (Location::Local(_), Location::Remote { .. })
        | (Location::Remote { .. }, Location::Local(_)) => Ok(Request::Scp {
            from,
            to,
            recursive,
        }),
        _ => Err(ArgsError::ScpEnds),
    }
}

/// Parse `k=v` action args as YAML scalars with dotted keys (like `juju run`).
pub fn action_params(args: &[String]) -> Result<serde_json::Map<String, Value>, ArgsError> {
    let mut out = serde_json::Map::new();
    for a in args {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| ArgsError::ActionParam(a.clone()))?;
        let segs: Vec<&str> = k.split('.').collect();
        insert(&mut out, &segs, yaml_scalar(v));
    }
    Ok(out)
}

/// A `juju run` value: YAML (`3` is a number, `true` a bool), an empty value an empty
/// string unless it is spelled as null.
fn yaml_scalar(v: &str) -> Value {
    let is_null_literal = matches!(v.trim(), "null" | "~" | "Null" | "NULL");
    serde_yaml::from_str::<serde_yaml::Value>(v)
        .ok()
        .and_then(|y| serde_json::to_value(y).ok())
        .map(|j| {
            if j.is_null() && !is_null_literal {
                Value::String(String::new())
            } else {
                j
            }
        })
        .unwrap_or_else(|| Value::String(v.to_string()))
}

fn insert(map: &mut serde_json::Map<String, Value>, path: &[&str], v: Value) {
    match path {
        [] => {}
        [last] => {
            map.insert(last.to_string(), v);
        }
        [first, rest @ ..] => {
            let e = map
                .entry(first.to_string())
                .or_insert_with(|| Value::Object(Default::default()));
            if !e.is_object() {
                *e = Value::Object(Default::default());
            }
            if let Value::Object(inner) = e {
                insert(inner, rest, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::args::LowArgs;
    use super::*;
    use serde_json::json;

    fn request(line: &[&str]) -> Result<Request, String> {
        let low = LowArgs::parse(line.iter().map(|s| s.to_string()).collect())
            .map_err(|e| e.to_string())?;
        Request::from_low(&low).map_err(|e| e.to_string())
    }

    #[test]
    fn commands_and_aliases_parse_into_requests() {
        assert!(matches!(
            request(&["relate", "a", "b:x"]),
            Ok(Request::Integrate { a, b }) if a == "a" && b == "b:x"
        ));
        assert!(matches!(
            request(&["--model", "/m", "deploy", "./c", "x", "-n", "2", "--config", "k=v"]),
            Ok(Request::Deploy { n: 2, ref config, ref app, .. })
                if config == &[("k".to_string(), "v".to_string())] && app.as_deref() == Some("x")
        ));
        assert!(matches!(request(&["status", "-h"]), Ok(Request::Help)));
        assert!(matches!(request(&[]), Ok(Request::Help)));
        assert!(matches!(
            request(&["exec", "-u", "a/0", "--", "echo", "hi"]),
            Ok(Request::Exec { unit, argv }) if unit == "a/0" && argv == ["echo", "hi"]
        ));
    }

    #[test]
    fn mistakes_are_named_with_the_fix() {
        let cases: [(&[&str], &str); 8] = [
            (
                &["statsu"],
                "unknown command \"statsu\" (similar: status); see `jujusim help`",
            ),
            (
                &["add-unit", "a", "-n", "0"],
                "invalid value \"0\" for option -n: expected a positive number of units",
            ),
            (
                &["integrate", "a"],
                "expected 2 argument(s), got 1; usage: integrate A[:endpoint] B[:endpoint]",
            ),
            (
                &["status", "--format", "xml"],
                "invalid value \"xml\" for option --format: expected one of tabular, yaml, json",
            ),
            (
                &["config", "a", "k", "--reset", "k"],
                "cannot get a key and --reset at once",
            ),
            (
                &["run", "a/0", "go", "x"],
                "argument \"x\" must be of the form key[.key...]=value",
            ),
            (
                &["debug-log", "-n", "many"],
                "invalid value \"many\" for option --lines: expected a number of lines",
            ),
            (&["--model"], "option needs an argument: --model"),
        ];
        for (line, msg) in cases {
            assert_eq!(request(line).err().as_deref(), Some(msg), "{line:?}");
        }
    }

    #[test]
    fn action_params_are_yaml_scalars_with_dotted_keys() {
        let args: Vec<String> = ["n=3", "flag=true", "a.b=x", "empty=", "none=null"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            Value::Object(action_params(&args).unwrap()),
            json!({"n": 3, "flag": true, "a": {"b": "x"}, "empty": "", "none": null})
        );
    }
}
