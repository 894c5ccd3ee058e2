//! Action tasks as `juju run` and `juju show-task` print them.
use super::{j2y, map, opt, s};
use crate::model::{civil, go_time, Task};
use serde_yaml::Value as Y;

/// `show-task` / `run --format yaml|json`: the task under its unit's name.
pub fn task_view(t: &Task) -> Y {
    let log: Vec<Y> = t
        .log
        .iter()
        .map(|l| match log_entry(l) {
            Some((secs, msg)) => s(format!("{} {msg}", go_time(secs))),
            None => s(l.as_str()),
        })
        .collect();
    map([(
        t.unit.as_str(),
        map([
            ("id", s(t.id.to_string())),
            ("message", opt(&t.message)),
            (
                "log",
                if log.is_empty() {
                    Y::Null
                } else {
                    Y::Sequence(log)
                },
            ),
            ("results", j2y(&t.results)),
            ("status", s(t.status.as_str())),
            (
                "timing",
                // A queued task has not started, a running one not completed.
                map([
                    ("completed", when(t.timing[2])),
                    ("enqueued", when(t.timing[0])),
                    ("started", when(t.timing[1])),
                ]),
            ),
            ("unit", s(t.unit.as_str())),
        ]),
    )])
}

/// A task time as Go prints it; left out (`Null`) when it has not happened (0).
fn when(secs: u64) -> Y {
    if secs == 0 {
        Y::Null
    } else {
        s(go_time(secs))
    }
}

/// A stored action-log line: (seconds since the epoch, message).
fn log_entry(line: &str) -> Option<(u64, &str)> {
    let (secs, msg) = line.split_once(' ')?;
    Some((secs.parse().ok()?, msg))
}

/// The action-log lines `juju run` streams to stderr, as `15:04:05 <message>`.
pub fn task_log_lines(t: &Task) -> Vec<String> {
    t.log
        .iter()
        .map(|l| match log_entry(l) {
            Some((secs, msg)) => {
                let (_, _, _, h, m, sec) = civil(secs);
                format!("{h:02}:{m:02}:{sec:02} {msg}")
            }
            None => l.clone(),
        })
        .collect()
}

/// juju 3's plain `run` output for one task, all on stdout: `Action id N failed: M`
/// when failed; the action-set results as YAML (without return-code, stdout, stderr and
/// their encodings) and a blank line; then the captured stdout and stderr, each trimmed
/// of surrounding newlines.
pub fn plain_task(t: &Task) -> Result<String, serde_yaml::Error> {
    let results = t.results.as_object().cloned().unwrap_or_default();
    let text = |k: &str| {
        results
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let (stdout, stderr) = (text("stdout"), text("stderr"));
    let shown: serde_json::Map<String, serde_json::Value> = results
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.to_ascii_lowercase().as_str(),
                "return-code" | "stdout" | "stderr" | "stdout-encoding" | "stderr-encoding"
            )
        })
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    let output = if results.is_empty() {
        format!("Task {} {}\n", t.id, t.status)
    } else if shown.is_empty() {
        String::new()
    } else {
        crate::yaml::to_string(&serde_json::Value::Object(shown))?
    };
    let mut out = String::new();
    if t.status == "failed" {
        out.push_str(&format!("Action id {} failed: {}\n", t.id, t.message));
    }
    out.push_str(&output);
    out.push('\n');
    for captured in [stdout, stderr] {
        if !captured.is_empty() {
            out.push_str(captured.trim_matches('\n'));
            out.push('\n');
        }
    }
    Ok(out)
}
