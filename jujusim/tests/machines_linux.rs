//! LinuxMachines against the real kernel (needs root, as on CI).
mod support;

use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jujusim::machines::{LinuxMachines, Machine, MachineError, Machines, ModelNet};
use support::eventually;
use support::machines::{sh_in, Net};

fn sh_in_bridge(model: &Net, script: &str) -> (bool, String) {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    let out = model.on_bridge(cmd);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A tiny HTTP server on 0.0.0.0:5000 answering the machine's host name.
fn serve_hostname(machine: &Machine) -> Child {
    let script = r#"
import http.server, socket
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = socket.gethostname().encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("0.0.0.0", 5000), H).serve_forever()
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    LinuxMachines.enter(machine, &mut cmd).unwrap();
    cmd.spawn().unwrap()
}

fn netns_names() -> String {
    String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned()
}

fn ours_in_netns_list(tag: &str) -> bool {
    let prefix = format!("jujusim-{tag}");
    netns_names()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .any(|n| n == prefix || n.starts_with(&format!("{prefix}-")))
}

/// A live (non-zombie) process's start time (field 22 of /proc/PID/stat): with the pid it
/// names one process, so a pid reused by a concurrent test does not look like a survivor.
fn identity(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    // fields[0] is the state (field 3); a zombie still has a /proc entry.
    (fields.first() != Some(&"Z")).then(|| fields.get(19).map(|s| s.to_string()))?
}

#[test]
fn two_machines_are_isolated_and_cleaned_up() {
    let started = Instant::now();
    let mut model = Net::new("iso", [10, 97, 1]);
    let m0 = model.add_machine(0);
    let m1 = model.add_machine(1);
    eprintln!("create model + 2 machines: {:?}", started.elapsed());
    assert_eq!(m0.address, Ipv4Addr::new(10, 97, 1, 10));
    assert_eq!(m1.address, Ipv4Addr::new(10, 97, 1, 11));
    assert_eq!(m0.cidr, "10.97.1.0/24");
    each_sees_only_its_own_address_and_reaches_the_other(&m0, &m1);
    let servers = vec![serve_hostname(&m0), serve_hostname(&m1)];
    both_serve_the_same_port(&model, &m0, &m1);
    writes_stay_private_and_host_files_show(&m0, &m1);
    cwd_and_sys_are_the_machine_s(&m0);
    destroy_leaves_no_process_namespace_or_mount(model, &m0, &m1, servers);
}

/// Each machine sees only its own address (and MAC, host name); L2 crosses the bridge.
fn each_sees_only_its_own_address_and_reaches_the_other(m0: &Machine, m1: &Machine) {
    for m in [m0, m1] {
        let (ok, out) = sh_in(
            m,
            "ip -4 -o addr show; cat /sys/class/net/eth0/address; hostname",
        );
        assert!(ok, "{out}");
        assert!(out.contains(&format!("inet {}/24", m.address)), "{out}");
        let other = if m.id == 0 { m1 } else { m0 };
        assert!(!out.contains(&format!("inet {}/", other.address)), "{out}");
        assert!(out.contains(&m.mac), "{out}");
        assert!(out.contains(&format!("machine-{}", m.id)), "{out}");
    }

    let (ok, out) = sh_in(m0, &format!("ping -c 1 -W 2 {}", m1.address));
    assert!(ok, "ping m0 -> m1: {out}");
}

/// Same port on both machines at once; the bridge namespace reaches both.
fn both_serve_the_same_port(model: &Net, m0: &Machine, m1: &Machine) {
    for m in [m0, m1] {
        let url = format!("http://{}:5000/", m.address);
        let body = eventually(&url, Duration::from_secs(10), || {
            let (ok, out) = sh_in_bridge(model, &format!("curl -fsS -m 2 {url}"));
            if ok {
                Ok(out)
            } else {
                Err(out)
            }
        });
        assert_eq!(body, format!("machine-{}", m.id));
    }
}

/// Private /etc: a write in m0 is invisible on the host and in m1; host content visible.
fn writes_stay_private_and_host_files_show(m0: &Machine, m1: &Machine) {
    let file = "/etc/docker/registry/x-iso1";
    let (ok, out) = sh_in(
        m0,
        &format!("mkdir -p /etc/docker/registry && echo m0 > {file} && cat {file}"),
    );
    assert!(ok && out.trim() == "m0", "{out}");
    assert!(!Path::new(file).exists(), "{file} leaked to the host");
    let (ok, _) = sh_in(m1, &format!("test -e {file}"));
    assert!(!ok, "{file} leaked to machine 1");
    let host_release = std::fs::read_to_string("/etc/os-release").unwrap();
    let (ok, inside) = sh_in(m1, "cat /etc/os-release");
    assert!(ok);
    assert_eq!(inside, host_release);
    for dir in ["/var/lib", "/var/log", "/run", "/srv"] {
        let probe = format!("{dir}/jujusim-probe-iso1");
        let (ok, out) = sh_in(m1, &format!("touch {probe} && test -e {probe}"));
        assert!(ok, "{dir}: {out}");
        assert!(!Path::new(&probe).exists(), "{probe} leaked to the host");
    }
}

/// cwd is kept when it exists inside the machine; /sys shows the machine's interfaces.
fn cwd_and_sys_are_the_machine_s(m0: &Machine) {
    let mut pwd = Command::new("pwd");
    pwd.current_dir("/var/log");
    LinuxMachines.enter(m0, &mut pwd).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&pwd.output().unwrap().stdout).trim(),
        "/var/log"
    );
    // The machine's /sys shows its own interfaces; cgroups are still mounted.
    let (ok, out) = sh_in(
        m0,
        "ls /sys/class/net; test -d /sys/fs/cgroup && ls /sys/fs/cgroup | wc -l",
    );
    assert!(ok, "{out}");
    assert_eq!(
        out.split_whitespace().take(2).collect::<Vec<_>>(),
        ["eth0", "lo"],
        "{out}"
    );
    let host_cgroups = std::fs::read_dir("/sys/fs/cgroup")
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(
        out.split_whitespace().nth(2),
        Some(host_cgroups.to_string().as_str()),
        "{out}"
    );
}

/// Destroying the machines and the model kills every process in them and leaves no
/// namespace, mount or overlay behind.
fn destroy_leaves_no_process_namespace_or_mount(
    mut model: Net,
    m0: &Machine,
    m1: &Machine,
    mut servers: Vec<Child>,
) {
    let tag = model.net.tag.clone();
    let inits: Vec<i32> = [m0, m1].iter().map(|m| m.init_pid.unwrap()).collect();
    let server_pids: Vec<i32> = servers.iter().map(|c| c.id() as i32).collect();
    let before: Vec<(i32, Option<String>)> = inits
        .iter()
        .chain(&server_pids)
        .map(|p| (*p, identity(*p)))
        .collect();
    let started = Instant::now();
    model.destroy_all();
    eprintln!("destroy 2 machines + model: {:?}", started.elapsed());

    for s in &mut servers {
        let status = eventually("server exit", Duration::from_secs(2), || {
            s.try_wait().unwrap().ok_or("running")
        });
        assert!(!status.success());
    }
    for (pid, id) in &before {
        assert!(id.is_some(), "pid {pid} was not running before destroy");
        // A killed process leaves its namespaces (destroy's test for "gone") a moment
        // before it is a zombie; on a loaded machine that moment is visible here.
        eventually(
            &format!("pid {pid} to be gone after destroy"),
            Duration::from_secs(2),
            || {
                (identity(*pid) != *id)
                    .then_some(())
                    .ok_or("survived destroy")
            },
        );
    }
    assert!(!ours_in_netns_list(&tag), "{}", netns_names());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&format!("jujusim-{tag}")), "{mounts}");
    assert!(
        !mounts.contains(&model.net.dir.display().to_string()),
        "{mounts}"
    );
    assert!(!model.net.dir.join("machines/0/overlay").exists());
}

#[test]
fn destroy_kills_processes_that_ignore_sigterm_and_ids_can_be_reused() {
    let mut model = Net::new("kil", [10, 97, 2]);
    let tag = model.net.tag.clone();
    let m = model.add_machine(3);
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "trap '' TERM; echo ready; exec sleep 1000"])
        .process_group(0)
        .stdout(Stdio::piped());
    LinuxMachines.enter(&m, &mut cmd).unwrap();
    let mut stubborn = cmd.spawn().unwrap();
    drop(cmd);
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(stubborn.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready");

    let started = Instant::now();
    LinuxMachines.destroy_machine(&model.net, &m).unwrap();
    model.machines.clear();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(4),
        "SIGTERM should have been ignored: {took:?}"
    );
    let status = eventually("stubborn exit", Duration::from_secs(2), || {
        stubborn.try_wait().unwrap().ok_or("running")
    });
    assert!(!status.success());

    // Same id again right away: the bridge port of the old machine must be gone.
    let again = model.add_machine(3);
    let (ok, out) = sh_in_bridge(&model, &format!("ping -c 1 -W 2 {}", again.address));
    assert!(ok, "{out}");
    model.destroy_all();
    assert!(!ours_in_netns_list(&tag));
}

#[test]
fn enter_refuses_a_pid_that_is_not_our_init() {
    let dir = tempfile::tempdir().unwrap();
    let machine = Machine {
        id: 0,
        address: Ipv4Addr::new(10, 97, 3, 10),
        cidr: "10.97.3.0/24".into(),
        interface: "eth0".into(),
        mac: "02:0a:61:03:00:00".into(),
        init_pid: Some(std::process::id() as i32),
        root: dir.path().into(),
    };
    let err = LinuxMachines
        .enter(&machine, &mut Command::new("true"))
        .unwrap_err();
    assert!(matches!(err, MachineError::InitGone { .. }), "{err}");
    let none = Machine {
        init_pid: None,
        ..machine
    };
    let err = LinuxMachines
        .enter(&none, &mut Command::new("true"))
        .unwrap_err();
    assert!(matches!(err, MachineError::NoInit { .. }), "{err}");
}

#[test]
fn a_model_dir_under_an_overlaid_dir_is_rejected_with_the_fix() {
    let net = ModelNet {
        tag: "ovl1".into(),
        dir: "/var/lib/jujusim/models/x".into(),
        subnet: [10, 97, 4],
    };
    let err = LinuxMachines.create_machine(&net, 0).unwrap_err();
    assert!(
        matches!(
            err,
            MachineError::ModelDirOverlaid {
                overlaid: "/var/lib",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("put the model dir elsewhere"),
        "{err}"
    );
    assert!(!ours_in_netns_list("ovl1"));
}

#[test]
fn bad_tags_are_rejected_before_touching_the_system() {
    let net = ModelNet {
        tag: "Bad-Tag".into(),
        dir: "/tmp/jujusim-bad".into(),
        subnet: [10, 97, 5],
    };
    let err = LinuxMachines.create_model(&net).unwrap_err();
    assert!(matches!(err, MachineError::InvalidTag { .. }), "{err}");
}
