//! Ports without races: a test that serves on loopback first moves its thread into a
//! network namespace of its own, where every port is free and nothing else listens.
//!
//! Picking a "free" port on the shared loopback (bind port 0, close, hand the number to a
//! child) races with every other test doing the same. In a namespace of the test's own no
//! other process can take the port, and a registry answering there is the test's own.
//! Namespaces belong to threads: the calling thread moves, and every thread and process
//! it starts afterwards (the registry, curl, a stand-in hook) is created in the new one.
//! The namespace goes away with its last process. Needs root (the suite runs as root).

use std::cell::Cell;

use nix::sched::{unshare, CloneFlags};

/// A fresh network namespace for the calling thread, with `lo` up; hands out ports.
pub struct PrivateLoopback {
    next: Cell<u16>,
}

impl PrivateLoopback {
    /// Moves the calling thread into a new network namespace and brings `lo` up.
    pub fn new() -> Self {
        unshare(CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("unshare(CLONE_NEWNET) failed ({e}); tests run as root"));
        loopback_up();
        PrivateLoopback {
            next: Cell::new(5000),
        }
    }

    /// A port no one else in this namespace was given (5000, 5001, ...).
    pub fn port(&self) -> u16 {
        let p = self.next.get();
        self.next.set(p + 1);
        p
    }
}

/// `ip link set lo up`, with the ioctl `ip` itself would make.
fn loopback_up() {
    use nix::libc;
    // SAFETY: a plain socket and two ioctls on a zeroed ifreq that lives across them.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let get = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req);
        assert!(
            get == 0,
            "SIOCGIFFLAGS lo: {}",
            std::io::Error::last_os_error()
        );
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        let set = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        assert!(set == 0, "SIOCSIFFLAGS lo up: {err}");
    }
}
