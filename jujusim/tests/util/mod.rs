//! Test harness: a temp model dir, tiny inline charms, and the jujusim binary.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::Command;

/// One finished jujusim invocation.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A sandbox: temp dir with `model/`, charms and an events log.
pub struct Sim {
    pub tmp: tempfile::TempDir,
}

impl Sim {
    pub fn new() -> Sim {
        Sim {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    pub fn model(&self) -> PathBuf {
        self.tmp.path().join("model")
    }

    pub fn events_file(&self) -> PathBuf {
        self.tmp.path().join("events.log")
    }

    /// Write a charm dir; `body` is bash run after the event is logged (`$H` = hook path).
    pub fn charm(
        &self,
        name: &str,
        metadata: &str,
        config: Option<&str>,
        actions: Option<&str>,
        body: &str,
    ) -> PathBuf {
        let dir = self.tmp.path().join(format!("charm-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("metadata.yaml"),
            format!("name: {name}\n{metadata}"),
        )
        .unwrap();
        if let Some(c) = config {
            std::fs::write(dir.join("config.yaml"), c).unwrap();
        }
        if let Some(a) = actions {
            std::fs::write(dir.join("actions.yaml"), a).unwrap();
        }
        let script = format!(
            "#!/bin/bash\nH=\"$JUJU_DISPATCH_PATH\"\necho \"$JUJU_UNIT_NAME $JUJU_DISPATCH_PATH $JUJU_REMOTE_UNIT${{JUJU_DEPARTING_UNIT:+ departing=$JUJU_DEPARTING_UNIT}}\" >> {}\n{body}\n",
            self.events_file().display()
        );
        let d = dir.join("dispatch");
        std::fs::write(&d, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    pub fn run(&self, args: &[&str]) -> Out {
        let out = Command::new(env!("CARGO_BIN_EXE_jujusim"))
            .arg("--model")
            .arg(self.model())
            .args(args)
            .output()
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Run and require success, printing the unit logs if it failed.
    pub fn ok(&self, args: &[&str]) -> Out {
        let o = self.run(args);
        if o.code != 0 {
            let log =
                std::fs::read_to_string(self.model().join("debug-log.txt")).unwrap_or_default();
            panic!(
                "jujusim {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}\n--- debug-log ---\n{log}",
                o.code, o.stdout, o.stderr
            );
        }
        o
    }

    /// Deploy with host machines.
    pub fn deploy(&self, charm: &Path, extra: &[&str]) -> Out {
        let mut args = vec!["deploy", charm.to_str().unwrap(), "--machines", "host"];
        args.extend_from_slice(extra);
        self.ok(&args)
    }

    /// All events so far (and clear them).
    pub fn take_events(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.events_file()).unwrap_or_default();
        let _ = std::fs::remove_file(self.events_file());
        text.lines().map(|l| l.trim_end().to_string()).collect()
    }

    /// Events of one unit, without the unit name.
    pub fn of(events: &[String], unit: &str) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| e.strip_prefix(&format!("{unit} ")))
            .map(String::from)
            .collect()
    }

    /// `exec UNIT -- argv...`.
    pub fn exec(&self, unit: &str, argv: &[&str]) -> Out {
        let mut args = vec!["exec", unit, "--"];
        args.extend_from_slice(argv);
        self.run(&args)
    }
}
