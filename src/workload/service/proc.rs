//! Reading /proc: is a pid still the process we started?
//!
//! A pid alone is not an identity (pids are recycled); pid + start time (field 22 of
//! `/proc/<pid>/stat`, clock ticks since boot) + boot id is.

use std::fs;
use std::io;

/// The fields of `/proc/<pid>/stat` the supervisor needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3: `R`, `S`, `D`, `Z` (zombie), `X` (dead), ...
    pub state: char,
    /// Field 4: parent pid.
    pub ppid: u32,
    /// Field 22: start time in clock ticks after boot.
    pub start_time: u64,
}

impl ProcStat {
    /// A zombie or dead process is not running, even though /proc still lists it.
    pub fn is_alive(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses `/proc/<pid>/stat`.
///
/// # Format
///
/// ```text
/// 10419 (cat) R 10400 10400 9280 0 -1 4194304 101 0 0 0 0 0 0 0 20 0 1 0 41092 ...
/// ```
///
/// The command name (field 2) may contain spaces and parentheses, so fields are counted
/// after the LAST `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let after = &text[text.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    // Fields 3 and 4 were the first after ')'; field 22 is 18 further on.
    let start_time = fields.nth(17)?.parse().ok()?;
    Some(ProcStat {
        state,
        ppid,
        start_time,
    })
}

/// `/proc/<pid>/stat` parsed; `None` when there is no such process.
pub fn read_stat(pid: u32) -> io::Result<Option<ProcStat>> {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(text) => parse_stat(&text).map(Some).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unparsable /proc/{pid}/stat: {text:?}"),
            )
        }),
        // ESRCH: the process vanished between open and read.
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(3) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether any thread of process `pid` has not exited yet. A thread group leader shows
/// `Z` as soon as its own thread has exited, while the process's other threads (a Go
/// program's) may still be running or exiting, holding its files and sockets (its
/// listening port); only when none is alive are they closed. False when it is gone.
pub fn threads_alive(pid: u32) -> io::Result<bool> {
    let dir = match fs::read_dir(format!("/proc/{pid}/task")) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(3) => {
            return Ok(false)
        }
        Err(e) => return Err(e),
    };
    for entry in dir {
        let tid = entry?.file_name();
        let path = format!("/proc/{pid}/task/{}/stat", tid.to_string_lossy());
        match fs::read_to_string(&path) {
            Ok(text) if parse_stat(&text).is_some_and(|st| st.is_alive()) => return Ok(true),
            Ok(_) => {}
            // The thread was collected between the listing and the read.
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(3) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// The argv of a process; `None` when gone. Empty for a zombie or kernel thread.
pub fn read_cmdline(pid: u32) -> io::Result<Option<Vec<String>>> {
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(bytes) => Ok(Some(
            bytes
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect(),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(3) => Ok(None),
        Err(e) => Err(e),
    }
}

/// This boot's id (changes on reboot, so a pid file from an earlier boot is never trusted).
pub fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_start_time_and_state() {
        let line = "10419 (cat) R 10400 10400 9280 0 -1 4194304 101 0 0 0 0 0 0 0 20 0 1 0 41092 3133440 389";
        assert_eq!(
            parse_stat(line),
            Some(ProcStat {
                state: 'R',
                ppid: 10400,
                start_time: 41092
            })
        );
    }

    #[test]
    fn command_names_with_spaces_and_parens_do_not_shift_fields() {
        let line = "7 (a) b (c) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0";
        let st = parse_stat(line).unwrap();
        assert_eq!((st.state, st.ppid, st.start_time), ('Z', 1, 555));
        assert!(!st.is_alive());
    }

    #[test]
    fn truncated_stat_is_none() {
        assert_eq!(parse_stat("1 (init) S 0 1"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let st = read_stat(me).unwrap().unwrap();
        assert!(st.is_alive());
        assert!(st.start_time > 0);
        assert!(!read_cmdline(me).unwrap().unwrap().is_empty());
        assert_eq!(read_stat(u32::MAX / 2).unwrap(), None);
        assert!(boot_id().is_some_and(|b| b.len() >= 32));
        assert!(threads_alive(me).unwrap());
        assert!(!threads_alive(u32::MAX / 2).unwrap());
    }
}
