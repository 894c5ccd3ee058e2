//! Fake Juju hook tools for integration tests.
//!
//! Every tool is a symlink to one shell script that records its exact argv and stdin
//! under the fake's directory and answers with canned stdout/stderr/exit code. The
//! script is written once per test process (before any test can spawn), because
//! executing a file that another thread still holds open for writing fails with ETXTBSY.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use charm::juju::ProcessRunner;

const SCRIPT: &str = r#"#!/bin/sh
# Fake hook tool: $0 is <root>/bin/<tool>.
name=${0##*/}
d=${0%/*}; d=${d%/*}
n=$(cat "$d/counter" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$d/counter"
mkdir -p "$d/calls/$n"
printf '%s\0' "$name" "$@" > "$d/calls/$n/argv"
# Secret values come as key#file=PATH: keep what each file held, and its mode, at call time.
i=0
for a in "$@"; do
  case "$a" in *'#file='*)
    i=$((i + 1)); f=${a#*#file=}
    stat -c '%a' "$f" > "$d/calls/$n/file$i.mode" 2>/dev/null
    stat -c '%a' "${f%/*}" > "$d/calls/$n/file$i.dirmode" 2>/dev/null
    cat "$f" > "$d/calls/$n/file$i" 2>/dev/null;;
  esac
done
if [ -f "$d/resp/$name.noread" ]; then : > "$d/calls/$n/stdin"; exit 0; fi
cat > "$d/calls/$n/stdin"
if [ -f "$d/resp/$name.out" ]; then cat "$d/resp/$name.out"; fi
if [ -f "$d/resp/$name.err" ]; then cat "$d/resp/$name.err" >&2; fi
code=$(cat "$d/resp/$name.code" 2>/dev/null || echo 0)
if [ "$code" = kill ]; then kill -KILL $$; fi
exit "$code"
"#;

/// The shared script, written once per process via write-then-rename.
fn script() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join(format!("fake-hook-tool-{}.sh", std::process::id()));
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, SCRIPT).unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
        fs::rename(&tmp, &path).unwrap();
        path
    })
}

/// One recorded tool invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub tool: String,
    pub args: Vec<String>,
    pub stdin: Vec<u8>,
    /// For each `key#file=PATH` argument, in order: (file mode, its directory's mode,
    /// contents) as the tool found them.
    pub files: Vec<(String, String, String)>,
}

impl Call {
    /// `tool arg...` as one vector, for compact assertions.
    pub fn argv(&self) -> Vec<String> {
        let mut v = vec![self.tool.clone()];
        v.extend(self.args.iter().cloned());
        v
    }
}

/// A directory of fake hook tools.
pub struct FakeTools {
    dir: tempfile::TempDir,
}

impl Default for FakeTools {
    fn default() -> Self {
        Self::new()
    }
}

/// Every tool the charm may call; all are installed (answering nothing, exit 0).
pub const ALL_TOOLS: &[&str] = &[
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "application-version-set",
    "close-port",
    "config-get",
    "is-leader",
    "juju-log",
    "leader-get",
    "leader-set",
    "network-get",
    "open-port",
    "opened-ports",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-set",
    "secret-add",
    "secret-get",
    "secret-info-get",
    "secret-remove",
    "secret-set",
    "state-delete",
    "state-get",
    "state-set",
    "status-set",
    "unit-get",
];

impl FakeTools {
    /// A fresh directory with every tool in [`ALL_TOOLS`] installed.
    pub fn new() -> Self {
        let script = script();
        let dir = tempfile::tempdir().unwrap();
        for sub in ["bin", "calls", "resp"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let fake = FakeTools { dir };
        for tool in ALL_TOOLS {
            std::os::unix::fs::symlink(script, fake.bin_dir().join(tool)).unwrap();
        }
        fake
    }

    /// The directory to put on PATH.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// A runner that finds tools only in [`Self::bin_dir`].
    pub fn runner(&self) -> ProcessRunner {
        ProcessRunner::with_path(self.bin_dir())
    }

    /// Removes a tool, so calling it fails to spawn.
    pub fn remove(&self, tool: &str) {
        fs::remove_file(self.bin_dir().join(tool)).unwrap();
    }

    /// Makes `tool` print `stdout` and exit 0.
    pub fn respond(&self, tool: &str, stdout: &str) {
        fs::write(
            self.dir.path().join("resp").join(format!("{tool}.out")),
            stdout,
        )
        .unwrap();
    }

    /// Makes `tool` print `stderr` and exit with `code`.
    pub fn fail(&self, tool: &str, code: i32, stderr: &str) {
        let resp = self.dir.path().join("resp");
        fs::write(resp.join(format!("{tool}.err")), stderr).unwrap();
        fs::write(resp.join(format!("{tool}.code")), code.to_string()).unwrap();
    }

    /// Makes `tool` exit 0 at once without reading its stdin.
    pub fn ignore_stdin(&self, tool: &str) {
        fs::write(
            self.dir.path().join("resp").join(format!("{tool}.noread")),
            "",
        )
        .unwrap();
    }

    /// Makes `tool` die from SIGKILL (no exit code).
    pub fn kill(&self, tool: &str) {
        fs::write(
            self.dir.path().join("resp").join(format!("{tool}.code")),
            "kill",
        )
        .unwrap();
    }

    /// All calls so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        let calls = self.dir.path().join("calls");
        let mut numbered: Vec<(u32, PathBuf)> = fs::read_dir(&calls)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name().to_str().unwrap().parse().unwrap(), e.path())
            })
            .collect();
        numbered.sort();
        numbered
            .into_iter()
            .map(|(_, p)| {
                let raw = fs::read(p.join("argv")).unwrap();
                let mut parts: Vec<String> = raw
                    .split(|b| *b == 0)
                    .map(|s| String::from_utf8(s.to_vec()).unwrap())
                    .collect();
                parts.pop(); // the record ends with a NUL
                let tool = parts.remove(0);
                let files = (1..)
                    .map_while(|i| {
                        let text = |suffix: &str| {
                            fs::read_to_string(p.join(format!("file{i}{suffix}"))).ok()
                        };
                        Some((
                            text(".mode")?.trim().to_string(),
                            text(".dirmode")?.trim().to_string(),
                            text("")?,
                        ))
                    })
                    .collect();
                Call {
                    tool,
                    args: parts,
                    stdin: fs::read(p.join("stdin")).unwrap(),
                    files,
                }
            })
            .collect()
    }

    /// The only call so far (panics otherwise).
    pub fn only_call(&self) -> Call {
        let mut calls = self.calls();
        assert_eq!(calls.len(), 1, "expected exactly one call, got {calls:?}");
        calls.remove(0)
    }
}

/// `["a", "b"]` → `vec!["a".to_string(), "b".to_string()]`.
pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
