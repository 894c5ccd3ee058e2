//! Time as Juju prints it: seconds since the epoch to UTC dates in the formats of
//! `juju status`, `juju show-task` and goal-state.

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(super) fn hms(secs: u64) -> (u64, u64, u64) {
    let d = secs % 86400;
    (d / 3600, d / 60 % 60, d % 60)
}

/// Civil UTC date from seconds: (year, month, day, h, m, s).
pub fn civil(secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let days = (secs / 86400) as i64;
    let (h, m, s) = hms(secs);
    // Howard Hinnant's days_from_civil inverse.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if mo <= 2 { y + 1 } else { y }, mo, d, h, m, s)
}

/// `23 Jul 2024 10:00:00Z` (juju status `since`, UTC).
pub fn juju_time(secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, m, s) = civil(secs);
    format!(
        "{d:02} {} {y} {h:02}:{m:02}:{s:02}Z",
        MONTHS[(mo as usize).saturating_sub(1) % 12]
    )
}

/// `2024-07-23 10:00:00 +0000 UTC`: Go's `time.Time.String()`, which `juju run
/// --format yaml` and `juju show-task` print for timing and log entries.
pub fn go_time(secs: u64) -> String {
    let (y, mo, d, h, m, s) = civil(secs);
    format!("{y}-{mo:02}-{d:02} {h:02}:{m:02}:{s:02} +0000 UTC")
}

/// `2024-07-23 10:00:00Z` (goal-state, action timing).
pub fn iso_time(secs: u64) -> String {
    let (y, mo, d, h, m, s) = civil(secs);
    format!("{y}-{mo:02}-{d:02} {h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(juju_time(1721728800), "23 Jul 2024 10:00:00Z");
        assert_eq!(iso_time(0), "1970-01-01 00:00:00Z");
        assert_eq!(go_time(1721728800), "2024-07-23 10:00:00 +0000 UTC");
        assert_eq!(civil(951782400), (2000, 2, 29, 0, 0, 0));
    }
}
