//! A hook that starts the registry exits, and whoever reads its stdout/stderr (the unit
//! agent, jujusim) sees EOF, although the registry it started keeps running.
//!
//! One binary, two roles, so neither can be mistaken for the other: run by `cargo test`
//! (no harness: `main` is the test), it runs itself again with [`HOOK_ENV`] set, and that
//! second process plays the hook: it starts the registry through the supervisor and
//! exits. A helper that looked like a passing test would hide a broken stand-in.

mod support;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use charm::workload::service::read_stat;
use charm::workload::{Service, Supervisor};
use support::supervised::{
    http_get, running_pid, spec_for, wait_ready, Fixture, DEADLINE, WATCHER,
};

/// Set (to the registry's config path) only in the stand-in hook process.
const HOOK_ENV: &str = "SUPERVISOR_DETACH_HOOK_CONFIG";
const NAME: &str = "start_returns_while_the_registry_keeps_running";

fn main() {
    if let Some(config) = std::env::var_os(HOOK_ENV) {
        Supervisor::new(spec_for(Path::new(&config)), Path::new(WATCHER))
            .start()
            .unwrap();
        println!("hook done");
        return;
    }
    // libtest's command line, as far as `cargo test` passes it: `--list`, filters
    // (`--exact`), `--ignored` (nothing here is ignored); other flags do not matter.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return;
    }
    let exact = args.iter().any(|a| a == "--exact");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let selected = filters.iter().all(|f| {
        if exact {
            *f == NAME
        } else {
            NAME.contains(f.as_str())
        }
    }) && !args.iter().any(|a| a == "--ignored");
    if !selected {
        println!("running 0 tests (filtered out: {NAME})");
        return;
    }
    println!("running 1 test");
    start_returns_while_the_registry_keeps_running();
    println!("test {NAME} ... ok");
}

/// The registry's environment is exactly PATH and the spec's (HTTP_PROXY): nothing of the
/// hook's.
fn assert_clean_environment(pid: u32) {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let mut names: Vec<String> = environ
        .split(|b| *b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| {
            String::from_utf8_lossy(v)
                .split('=')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["HTTP_PROXY", "PATH"], "the registry's environment");
}

fn start_returns_while_the_registry_keeps_running() {
    // The hook's stdout/stderr are pipes, as a unit agent (or jujusim) would read them.
    // The reader must see EOF when the hook exits, although the registry it started
    // keeps running.
    let fx = Fixture::new();
    let mut hook = Command::new(std::env::current_exe().unwrap())
        .env(HOOK_ENV, fx.config())
        // The s3 driver panics at start with this set: it must never reach the registry.
        .env("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut out, mut err) = (hook.stdout.take().unwrap(), hook.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut o, mut e) = (String::new(), String::new());
        out.read_to_string(&mut o).unwrap();
        err.read_to_string(&mut e).unwrap();
        tx.send((o, e)).unwrap();
    });
    let (stdout, stderr) = rx
        .recv_timeout(DEADLINE)
        .expect("the hook's pipes never reached EOF: the registry holds them");
    assert!(hook.wait().unwrap().success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("hook done"), "{stdout}");

    wait_ready(fx.addr);
    let pid = running_pid(&fx.sup);
    let ppid = read_stat(pid).unwrap().unwrap().ppid;
    assert_ne!(ppid, std::process::id(), "adopted by init, not our child");
    assert_clean_environment(pid);

    // Started again by the watcher (no hook): the same clean environment.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    support::wait::eventually("a new registry", DEADLINE, || {
        match fx.sup.status().unwrap() {
            charm::workload::ServiceStatus::Running { pid: p } if p != pid => Some(()),
            _ => None,
        }
    });
    wait_ready(fx.addr);
    let pid = running_pid(&fx.sup);
    assert_clean_environment(pid);
    // Not our child: stop() must still see it go.
    fx.sup.stop().unwrap();
    assert!(read_stat(pid).unwrap().is_none_or(|st| !st.is_alive()));
    assert_eq!(http_get(fx.addr, "/v2/"), None);
}
