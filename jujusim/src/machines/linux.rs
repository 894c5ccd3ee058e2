//! [`LinuxMachines`]: machines as network + mount namespaces (needs root).
//!
//! Layout for model tag `t` and subnet `a.b.c`:
//! - netns `jujusim-t`: bridge `br0` with `a.b.c.1/24` (tests and `netexec` run here; nothing
//!   is added to the host network namespace);
//! - netns `jujusim-t-mN`: `eth0` = `a.b.c.(N+10)/24`, peer `pN` in `jujusim-t` on `br0`;
//! - an init process (see `init.rs`) in that netns holding a private mount namespace with
//!   overlays over `/etc`, `/var/lib`, `/var/log`, `/run`, `/srv` (upper layers under
//!   `<model dir>/machines/N/overlay/`) and host name `machine-N`. `/run` is an overlay too
//!   (not a fresh tmpfs) so packaged directories like `/run/haproxy` and `/run/lock` exist.

use std::ffi::CString;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

use super::init::{InitMessage, InitPlan, OverlayMount, MESSAGE_LEN};
use super::{create_dir, Machine, MachineError, Machines, ModelNet, OVERLAID_DIRS};

/// How long processes get between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(5);
/// How long we wait for SIGKILLed processes to disappear.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long we wait for the kernel to remove a deleted namespace's veth peer.
const VETH_GONE: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(10);
/// Prefix of the init's argv[0]; followed by the machine netns name.
const INIT_ARG0: &str = "jujusim-init:";
const NETNS_DIR: &str = "/run/netns";

/// Real isolation with network + mount namespaces (needs root; fails clearly without it).
#[derive(Clone, Copy, Debug, Default)]
pub struct LinuxMachines;

impl Machines for LinuxMachines {
    fn create_model(&self, net: &ModelNet) -> Result<(), MachineError> {
        preflight(net)?;
        create_dir(&net.dir)?;
        let ns = net.bridge_ns();
        if !netns_path(&ns).exists() {
            ip(&["netns", "add", &ns])?;
        }
        if !ip_succeeds(&["-n", &ns, "link", "show", "br0"]) {
            ip(&["-n", &ns, "link", "add", "br0", "type", "bridge"])?;
        }
        let cidr = format!("{}/24", net.bridge_address());
        ip(&["-n", &ns, "addr", "replace", &cidr, "dev", "br0"])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        ip(&["-n", &ns, "link", "set", "br0", "up"])
    }

    fn create_machine(&self, net: &ModelNet, id: u32) -> Result<Machine, MachineError> {
        preflight(net)?;
        let address = net.machine_address(id)?;
        let root = net.machine_root(id);
        let overlays = prepare_overlays(&root)?;
        let ns = net.machine_ns(id);
        let machine = Machine {
            id,
            address,
            cidr: net.cidr(),
            interface: "eth0".into(),
            mac: net.machine_mac(id),
            init_pid: None,
            root,
        };
        ip(&["netns", "add", &ns])?;
        match wire_machine(net, &machine, &ns).and_then(|()| spawn_init(&ns, id, overlays)) {
            Ok(pid) => Ok(Machine {
                init_pid: Some(pid),
                ..machine
            }),
            Err(e) => {
                // Leave nothing half-made behind; the original error is what matters.
                let _ = ip(&["netns", "del", &ns]);
                Err(e)
            }
        }
    }

    fn enter(&self, machine: &Machine, cmd: &mut Command) -> Result<(), MachineError> {
        let name = format!("machine {}", machine.id);
        let pid = machine.init_pid.ok_or_else(|| MachineError::NoInit {
            machine: name.clone(),
        })?;
        if !is_our_init(pid, |ns| ns.ends_with(&format!("-m{}", machine.id))) {
            return Err(MachineError::InitGone { machine: name, pid });
        }
        // Opened in the child (open is async-signal-safe), so no namespace fd lingers in a
        // caller's Command and keeps a destroyed netns alive.
        let ns_file = |kind: &str| c_path(Path::new(&format!("/proc/{pid}/ns/{kind}")));
        let (net_ns, uts_ns, mnt_ns) = (ns_file("net")?, ns_file("uts")?, ns_file("mnt")?);
        let (cwd, explicit) = match cmd.get_current_dir() {
            Some(dir) => (absolute(dir)?, true),
            None => (absolute(Path::new("."))?, false),
        };
        let cwd = c_path(&cwd)?;
        // std changes directory before pre_exec, in the host mount namespace, where the
        // directory may not exist; and joining a mount namespace resets the cwd anyway.
        cmd.current_dir("/");
        let hook = move || {
            let (net, uts, mnt) = (open_ns(&net_ns)?, open_ns(&uts_ns)?, open_ns(&mnt_ns)?);
            setns(&net, CloneFlags::CLONE_NEWNET)?;
            setns(&uts, CloneFlags::CLONE_NEWUTS)?;
            // Mount last: it also moves our root and cwd to the machine's.
            setns(&mnt, CloneFlags::CLONE_NEWNS)?;
            match nix::unistd::chdir(cwd.as_c_str()) {
                Err(e) if explicit => Err(e.into()),
                Err(_) => Ok(nix::unistd::chdir(c"/")?),
                Ok(()) => Ok(()),
            }
        };
        // SAFETY: the hook only calls open/setns/chdir on values prepared before fork.
        unsafe { cmd.pre_exec(hook) };
        Ok(())
    }

    fn enter_model_network(&self, net: &ModelNet, cmd: &mut Command) -> Result<(), MachineError> {
        check_root()?;
        let path = netns_path(&net.bridge_ns());
        if !path.exists() {
            return Err(MachineError::io(
                format!("opening {} (is the model created?)", path.display()),
                std::io::ErrorKind::NotFound.into(),
            ));
        }
        let path = c_path(&path)?;
        let hook = move || Ok(setns(open_ns(&path)?, CloneFlags::CLONE_NEWNET)?);
        // SAFETY: the hook only calls open/setns on a path prepared before fork.
        unsafe { cmd.pre_exec(hook) };
        Ok(())
    }

    fn destroy_machine(&self, net: &ModelNet, machine: &Machine) -> Result<(), MachineError> {
        check_root()?;
        let ns = net.machine_ns(machine.id);
        // Members are found by their network namespace only: it stays pinned by its
        // /run/netns bind mount until `ip netns del` below, so its inode cannot be reused
        // while we look. A mount namespace is freed once its last process dies and the
        // kernel hands its inode number to the next new namespace (e.g. the one `ip -n`
        // makes for itself in another model): matching on it killed other tests' processes.
        let targets: Vec<(&str, NsId)> = ns_id(&netns_path(&ns))
            .map(|id| ("net", id))
            .into_iter()
            .collect();
        stop_members(&ns, &targets)?;
        if netns_path(&ns).exists() {
            ip(&["netns", "del", &ns])?;
            wait_veth_gone(net, machine.id);
        }
        let overlay = machine.root.join("overlay");
        if overlay.exists() {
            std::fs::remove_dir_all(&overlay)
                .map_err(|e| MachineError::io(format!("removing {}", overlay.display()), e))?;
        }
        Ok(())
    }

    fn destroy_model(&self, net: &ModelNet) -> Result<(), MachineError> {
        check_root()?;
        net.validate_tag()?;
        // Machines the caller forgot: stop their processes and drop their namespaces too.
        let prefix = format!("{}-m", net.bridge_ns());
        for ns in list_netns()?.into_iter().filter(|n| n.starts_with(&prefix)) {
            if let Some(id) = ns_id(&netns_path(&ns)) {
                stop_members(&ns, &[("net", id)])?;
            }
            ip(&["netns", "del", &ns])?;
        }
        let ns = net.bridge_ns();
        if let Some(id) = ns_id(&netns_path(&ns)) {
            stop_members(&ns, &[("net", id)])?;
            ip(&["netns", "del", &ns])?;
        }
        Ok(())
    }
}

fn check_root() -> Result<(), MachineError> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(MachineError::NotRoot)
    }
}

/// Checks shared by model and machine creation.
fn preflight(net: &ModelNet) -> Result<(), MachineError> {
    check_root()?;
    net.validate_tag()?;
    let dir = absolute(&net.dir)?;
    if let Some(overlaid) = OVERLAID_DIRS.iter().find(|d| dir.starts_with(d)) {
        return Err(MachineError::ModelDirOverlaid { dir, overlaid });
    }
    Ok(())
}

fn absolute(path: &Path) -> Result<PathBuf, MachineError> {
    std::path::absolute(path)
        .map_err(|e| MachineError::io(format!("resolving {}", path.display()), e))
}

fn c_path(path: &Path) -> Result<CString, MachineError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|e| {
        MachineError::io(
            format!("path {}", path.display()),
            std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        )
    })
}

/// Opens a namespace file close-on-exec (async-signal-safe: used between fork and exec).
fn open_ns(path: &CString) -> nix::Result<std::os::fd::OwnedFd> {
    nix::fcntl::open(
        path.as_c_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
}

fn netns_path(ns: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(ns)
}

fn list_netns() -> Result<Vec<String>, MachineError> {
    match std::fs::read_dir(NETNS_DIR) {
        Ok(entries) => Ok(entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(MachineError::io(format!("listing {NETNS_DIR}"), e)),
    }
}

/// Runs `ip <args>`; a failure carries the command line and ip's stderr.
fn ip(args: &[&str]) -> Result<(), MachineError> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| MachineError::io("running `ip` (is iproute2 installed?)", e))?;
    if out.status.success() {
        return Ok(());
    }
    Err(MachineError::Command {
        cmd: format!("ip {}", args.join(" ")),
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}

fn ip_succeeds(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The veth pair straight between the bridge and machine namespaces (no host-side names).
fn wire_machine(net: &ModelNet, machine: &Machine, ns: &str) -> Result<(), MachineError> {
    let bridge = net.bridge_ns();
    let port = format!("p{}", machine.id);
    let cidr = format!("{}/24", machine.address);
    ip(&[
        "-n", &bridge, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", ns,
    ])?;
    ip(&["-n", ns, "link", "set", "eth0", "address", &machine.mac])?;
    ip(&["-n", &bridge, "link", "set", &port, "master", "br0", "up"])?;
    ip(&["-n", ns, "link", "set", "lo", "up"])?;
    ip(&["-n", ns, "addr", "add", &cidr, "dev", "eth0"])?;
    ip(&["-n", ns, "link", "set", "eth0", "up"])
}

/// Upper/work dirs for each overlaid directory; returns the mounts in `OVERLAID_DIRS` order.
fn prepare_overlays(root: &Path) -> Result<Vec<OverlayMount>, MachineError> {
    let root = absolute(root)?;
    // overlayfs options are comma/colon separated and cannot quote.
    let text = root.to_string_lossy();
    if text.contains([',', ':', '\\']) || text.contains(char::is_whitespace) {
        return Err(MachineError::io(
            format!("machine dir {}", root.display()),
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "contains ',', ':', '\\' or whitespace, which overlayfs options cannot carry; use a plainer model dir",
            ),
        ));
    }
    let srv = Path::new("/srv");
    if !srv.exists() {
        create_dir(srv)?;
    }
    OVERLAID_DIRS
        .iter()
        .map(|dir| {
            let layer = root
                .join("overlay")
                .join(dir.trim_start_matches('/').replace('/', "-"));
            let (upper, work) = (layer.join("upper"), layer.join("work"));
            create_dir(&upper)?;
            create_dir(&work)?;
            let options = format!(
                "lowerdir={dir},upperdir={},workdir={}",
                upper.display(),
                work.display()
            );
            Ok(OverlayMount {
                target: c_path(Path::new(dir))?,
                options: c_path(Path::new(&options))?,
            })
        })
        .collect()
}

fn sleep_binary() -> Result<&'static str, MachineError> {
    ["/usr/bin/sleep", "/bin/sleep"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| {
            MachineError::io(
                "finding sleep for the machine init",
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no /usr/bin/sleep or /bin/sleep",
                ),
            )
        })
}

/// Spawns the init and waits for its typed report; returns its pid.
fn spawn_init(ns: &str, id: u32, overlays: Vec<OverlayMount>) -> Result<i32, MachineError> {
    let path = netns_path(ns);
    let netns = File::open(&path)
        .map_err(|e| MachineError::io(format!("opening {}", path.display()), e))?;
    let (reader, writer) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| MachineError::io("creating the init report pipe", e.into()))?;
    let hostname = CString::new(format!("machine-{id}")).map_err(|e| {
        MachineError::io(
            "host name",
            std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        )
    })?;
    let plan = InitPlan {
        netns,
        overlays,
        hostname,
        report: writer,
    };
    let mut cmd = Command::new(sleep_binary()?);
    cmd.arg0(format!("{INIT_ARG0}{ns}"))
        .arg("infinity")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: InitPlan::run makes raw syscalls only, on values prepared before fork.
    unsafe { cmd.pre_exec(move || plan.run()) };
    let spawned = cmd.spawn();
    // Drop our copy of the write end (held by the hook) so the read below sees EOF.
    drop(cmd);
    let mut buf = Vec::with_capacity(MESSAGE_LEN);
    std::io::Read::read_to_end(&mut File::from(reader), &mut buf)
        .map_err(|e| MachineError::io("reading the init report pipe", e))?;
    match (spawned, InitMessage::decode(&buf)) {
        (Ok(child), Some(InitMessage::Ready)) => i32::try_from(child.id())
            .map_err(|e| MachineError::io("init pid", std::io::Error::other(e))),
        (_, Some(InitMessage::Failed(step, errno))) => Err(MachineError::InitFailed {
            machine: ns.to_owned(),
            step,
            errno,
        }),
        (Err(e), _) => Err(MachineError::io(format!("starting the init of {ns}"), e)),
        (Ok(child), None) => {
            reap(child.id() as i32);
            Err(MachineError::io(
                format!("starting the init of {ns}"),
                std::io::Error::other(format!("no ready report (got {} bytes)", buf.len())),
            ))
        }
    }
}

/// Like youki's refresh_status: a stored pid counts only if /proc says it is our init.
fn is_our_init(pid: i32, ns_matches: impl Fn(&str) -> bool) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    // A zombie has an empty cmdline, so it fails here too.
    let arg0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    std::str::from_utf8(arg0)
        .ok()
        .and_then(|a| a.strip_prefix(INIT_ARG0))
        .is_some_and(ns_matches)
}

/// Identity of a namespace (or any file): device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NsId {
    dev: u64,
    ino: u64,
}

fn ns_id(path: &Path) -> Option<NsId> {
    std::fs::metadata(path).ok().map(|m| NsId {
        dev: m.dev(),
        ino: m.ino(),
    })
}

/// Live processes (not us) whose `kind` namespace is one of `targets`.
fn members(targets: &[(&str, NsId)]) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            targets
                .iter()
                .any(|(kind, id)| ns_id(Path::new(&format!("/proc/{pid}/ns/{kind}"))) == Some(*id))
        })
        .filter(|pid| !is_dead(*pid))
        .collect()
}

/// A zombie (`Z`) or dying (`X`) task holds nothing but its pid until its parent (often
/// PID 1, for daemons the charm started) collects it: it is gone, not a survivor.
fn is_dead(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // The state follows the parenthesised command name, which may itself contain ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .is_some_and(|state| matches!(state, 'Z' | 'X' | 'x'))
}

/// SIGTERM every member, wait (bounded), SIGKILL the rest, wait again; reap our inits.
fn stop_members(ns: &str, targets: &[(&str, NsId)]) -> Result<(), MachineError> {
    if targets.is_empty() {
        return Ok(());
    }
    let mut inits = Vec::new();
    for (signal, grace) in [(Signal::SIGTERM, TERM_GRACE), (Signal::SIGKILL, KILL_GRACE)] {
        let pids = members(targets);
        if pids.is_empty() {
            break;
        }
        for pid in &pids {
            let _ = kill(Pid::from_raw(*pid), signal);
        }
        // Reap only inits: other children belong to callers that will wait for them.
        inits.extend(pids.into_iter().filter(|p| is_our_init(*p, |n| n == ns)));
        let deadline = Instant::now() + grace;
        while !members(targets).is_empty() && Instant::now() < deadline {
            inits.iter().for_each(|p| reap(*p));
            std::thread::sleep(POLL);
        }
    }
    inits.iter().for_each(|p| reap(*p));
    let left = members(targets);
    if left.is_empty() {
        Ok(())
    } else {
        Err(MachineError::Busy {
            ns: ns.to_owned(),
            pids: left,
        })
    }
}

/// Collects `pid` if it is our exited child (the init is, in a long-lived caller).
fn reap(pid: i32) {
    let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
}

/// Deleting the machine netns removes its veth; the peer in the bridge goes asynchronously.
/// Wait for it so that the same machine id can be created again right away.
fn wait_veth_gone(net: &ModelNet, id: u32) {
    let (bridge, port) = (net.bridge_ns(), format!("p{id}"));
    let deadline = Instant::now() + VETH_GONE;
    while ip_succeeds(&["-n", &bridge, "link", "show", &port]) && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
}
