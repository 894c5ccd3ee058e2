//! The machine "init": the process that holds a machine's mount and UTS namespaces.
//!
//! The parent prepares an [`InitPlan`] (every path already a `CString`), then spawns
//! `sleep infinity` (argv[0] `jujusim-init:<netns>`) with [`InitPlan::run`] as its
//! `pre_exec`. `run` is the child between fork and exec, so it only makes raw syscalls:
//! no allocation, no locks. It reports one fixed-size [`InitMessage`] through a
//! close-on-exec pipe, like youki's channel: `Ready` just before exec, or
//! `Failed(step, errno)`.
//!
//! Why not re-exec our own binary with a hidden argv: the machines are also created from test
//! binaries and from library users whose `main` we do not control; `sleep` exists everywhere
//! and the namespaces survive exec, so no hook in `main.rs` is needed.

use std::ffi::{CStr, CString, OsStr};
use std::fmt;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::Mode;

use super::OVERLAID_DIRS;

/// A setup step of the machine init, named when it fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitStep {
    /// setsid(): leave the caller's session so its signals do not reach the machine.
    NewSession,
    /// setns() into the machine's network namespace.
    JoinNetwork,
    /// unshare(CLONE_NEWNS | CLONE_NEWUTS).
    Unshare,
    /// Remount / recursively private so nothing propagates back to the host.
    PrivateRoot,
    /// Mount the overlay over `OVERLAID_DIRS[i]`.
    Overlay(usize),
    /// Mount a sysfs of the machine's netns on /sys (keeping /sys/fs/cgroup), like `ip netns exec`.
    Sysfs,
    /// `sethostname("machine-<N>")`.
    Hostname,
}

impl fmt::Display for InitStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitStep::NewSession => write!(f, "setsid"),
            InitStep::JoinNetwork => write!(f, "joining the machine network namespace"),
            InitStep::Unshare => write!(f, "unsharing mount and UTS namespaces"),
            InitStep::PrivateRoot => write!(f, "making / recursively private"),
            InitStep::Overlay(i) => {
                write!(
                    f,
                    "mounting overlay on {}",
                    OVERLAID_DIRS.get(*i).unwrap_or(&"?")
                )
            }
            InitStep::Sysfs => write!(f, "mounting the machine's /sys"),
            InitStep::Hostname => write!(f, "setting the host name"),
        }
    }
}

/// The one message the init sends its parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InitMessage {
    /// Every step succeeded; exec follows.
    Ready,
    /// `step` failed with `errno`.
    Failed(InitStep, Errno),
}

/// Wire size of an [`InitMessage`].
pub(crate) const MESSAGE_LEN: usize = 8;

impl InitMessage {
    /// Fixed-size encoding (no allocation: used between fork and exec).
    pub(crate) fn encode(self) -> [u8; MESSAGE_LEN] {
        let mut buf = [0u8; MESSAGE_LEN];
        match self {
            InitMessage::Ready => buf[0] = b'R',
            InitMessage::Failed(step, errno) => {
                buf[0] = b'F';
                let (code, index) = match step {
                    InitStep::NewSession => (1, 0),
                    InitStep::JoinNetwork => (2, 0),
                    InitStep::Unshare => (3, 0),
                    InitStep::PrivateRoot => (4, 0),
                    InitStep::Overlay(i) => (5, i as u8),
                    InitStep::Hostname => (6, 0),
                    InitStep::Sysfs => (7, 0),
                };
                buf[1] = code;
                buf[2] = index;
                buf[4..8].copy_from_slice(&(errno as i32).to_le_bytes());
            }
        }
        buf
    }

    /// Decode what the child wrote; `None` for anything malformed or truncated.
    pub(crate) fn decode(buf: &[u8]) -> Option<InitMessage> {
        if buf.len() != MESSAGE_LEN {
            return None;
        }
        match buf[0] {
            b'R' => Some(InitMessage::Ready),
            b'F' => {
                let step = match buf[1] {
                    1 => InitStep::NewSession,
                    2 => InitStep::JoinNetwork,
                    3 => InitStep::Unshare,
                    4 => InitStep::PrivateRoot,
                    5 => InitStep::Overlay(usize::from(buf[2])),
                    6 => InitStep::Hostname,
                    7 => InitStep::Sysfs,
                    _ => return None,
                };
                let errno = i32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
                Some(InitMessage::Failed(step, Errno::from_raw(errno)))
            }
            _ => None,
        }
    }
}

/// One overlay mount, prepared by the parent.
pub(crate) struct OverlayMount {
    /// Mount point (also the lower dir), e.g. "/etc".
    pub target: CString,
    /// "lowerdir=...,upperdir=...,workdir=...".
    pub options: CString,
}

/// Everything the child needs, prepared before fork.
pub(crate) struct InitPlan {
    /// The machine's network namespace (`/run/netns/<name>`), opened by the parent.
    pub netns: File,
    /// Overlays in `OVERLAID_DIRS` order.
    pub overlays: Vec<OverlayMount>,
    /// "machine-<N>".
    pub hostname: CString,
    /// Write end of the report pipe (close-on-exec).
    pub report: OwnedFd,
}

impl InitPlan {
    /// Runs in the child between fork and exec: raw syscalls only.
    pub(crate) fn run(&self) -> std::io::Result<()> {
        match self.steps() {
            Ok(()) => {
                self.send(InitMessage::Ready);
                Ok(())
            }
            Err((step, errno)) => {
                self.send(InitMessage::Failed(step, errno));
                Err(std::io::Error::from_raw_os_error(errno as i32))
            }
        }
    }

    fn steps(&self) -> Result<(), (InitStep, Errno)> {
        let at = |step: InitStep| move |e: Errno| (step, e);
        nix::unistd::setsid().map_err(at(InitStep::NewSession))?;
        setns(&self.netns, CloneFlags::CLONE_NEWNET).map_err(at(InitStep::JoinNetwork))?;
        unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS)
            .map_err(at(InitStep::Unshare))?;
        // First, before any mount: nothing we mount may propagate to the host (youki does the same).
        mount(
            None::<&str>,
            c"/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(at(InitStep::PrivateRoot))?;
        // Our copies of `ip netns` mounts would keep other machines' namespaces alive after
        // `ip netns del`; drop them (not a mount point: nothing to do).
        let _ = umount2(c"/run/netns", MntFlags::MNT_DETACH);
        for (i, o) in self.overlays.iter().enumerate() {
            mount(
                Some(c"overlay"),
                o.target.as_c_str(),
                Some(c"overlay"),
                MsFlags::empty(),
                Some(o.options.as_c_str()),
            )
            .map_err(at(InitStep::Overlay(i)))?;
        }
        self.mount_sysfs().map_err(at(InitStep::Sysfs))?;
        nix::unistd::sethostname(OsStr::from_bytes(self.hostname.to_bytes()))
            .map_err(at(InitStep::Hostname))?;
        Ok(())
    }

    /// The host's /sys lists the host's interfaces; mount one for the machine's netns on top,
    /// carrying the cgroup mounts over through a staging dir in the (already private) /run.
    fn mount_sysfs(&self) -> Result<(), Errno> {
        const STAGE: &CStr = c"/run/.jujusim-cgroup";
        const CGROUP: &CStr = c"/sys/fs/cgroup";
        let none = None::<&CStr>;
        let rbind = MsFlags::MS_BIND | MsFlags::MS_REC;
        let staged = match nix::unistd::mkdir(STAGE, Mode::from_bits_truncate(0o700)) {
            Ok(()) | Err(Errno::EEXIST) => match mount(Some(CGROUP), STAGE, none, rbind, none) {
                Ok(()) => true,
                Err(Errno::ENOENT) => false,
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        mount(Some(c"sysfs"), c"/sys", Some(c"sysfs"), flags, none)?;
        if staged {
            mount(Some(STAGE), CGROUP, none, rbind, none)?;
            umount2(STAGE, MntFlags::MNT_DETACH)?;
        }
        // SAFETY: rmdir(2) on a static C string; nothing else to uphold.
        let _ = unsafe { nix::libc::rmdir(STAGE.as_ptr()) };
        Ok(())
    }

    fn send(&self, msg: InitMessage) {
        // Best effort: if the parent is gone there is nobody to tell.
        let _ = nix::unistd::write(&self.report, &msg.encode());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let all = [
            InitMessage::Ready,
            InitMessage::Failed(InitStep::NewSession, Errno::EPERM),
            InitMessage::Failed(InitStep::JoinNetwork, Errno::EINVAL),
            InitMessage::Failed(InitStep::Unshare, Errno::EPERM),
            InitMessage::Failed(InitStep::PrivateRoot, Errno::EACCES),
            InitMessage::Failed(InitStep::Overlay(3), Errno::ENODEV),
            InitMessage::Failed(InitStep::Hostname, Errno::EPERM),
            InitMessage::Failed(InitStep::Sysfs, Errno::EBUSY),
        ];
        for m in all {
            assert_eq!(InitMessage::decode(&m.encode()), Some(m));
        }
    }

    #[test]
    fn garbage_does_not_decode() {
        assert_eq!(InitMessage::decode(b""), None);
        assert_eq!(InitMessage::decode(b"R"), None);
        assert_eq!(InitMessage::decode(b"X0000000"), None);
        assert_eq!(InitMessage::decode(b"F\x09\0\0\0\0\0\0"), None);
    }

    #[test]
    fn steps_name_the_directory() {
        assert_eq!(
            InitStep::Overlay(1).to_string(),
            "mounting overlay on /var/lib"
        );
    }
}
