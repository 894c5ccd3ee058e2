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

/// `2024-07-23T10:00:00Z`: Go's RFC 3339 form, as secret metadata and status history
/// print times.
pub fn rfc3339(secs: u64) -> String {
    let (y, mo, d, h, m, s) = civil(secs);
    format!("{y}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

/// Seconds since the epoch of a civil UTC date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Parse `2006-01-02T15:04:05` with `Z`, `±hh:mm` or (UTC) no zone, as `--expire`
/// takes a time; fractions of a second are dropped.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let (date, rest) = s.split_once('T')?;
    let mut dp = date.splitn(3, '-');
    let (y, mo, d): (i64, u32, u32) = (
        dp.next()?.parse().ok()?,
        dp.next()?.parse().ok()?,
        dp.next()?.parse().ok()?,
    );
    let (clock, offset) = match rest.find(['Z', '+', '-']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let clock = clock.split('.').next()?;
    let mut cp = clock.splitn(3, ':');
    let (h, mi, sec): (i64, i64, i64) = (
        cp.next()?.parse().ok()?,
        cp.next()?.parse().ok()?,
        cp.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let off = match offset {
        "" | "Z" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    let t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    u64::try_from(t).ok()
}

/// Parse a Go duration (`90s`, `1h30m`, `1.5h`, `500ms`) into seconds.
pub fn parse_go_duration(s: &str) -> Option<f64> {
    let (sign, mut rest) = match s.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * unit;
        rest = &rest[u..];
    }
    Some(sign * total)
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

    #[test]
    fn expire_forms() {
        assert_eq!(parse_rfc3339("2024-07-23T10:00:00Z"), Some(1721728800));
        assert_eq!(parse_rfc3339("2024-07-23T10:00:00"), Some(1721728800));
        assert_eq!(parse_rfc3339("2024-07-23T12:00:00+02:00"), Some(1721728800));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00.5Z"), Some(951782400));
        assert_eq!(parse_rfc3339("24h"), None);
        assert_eq!(rfc3339(1721728800), "2024-07-23T10:00:00Z");
        assert_eq!(parse_go_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_go_duration("500ms"), Some(0.5));
        assert_eq!(parse_go_duration("-2s"), Some(-2.0));
        assert_eq!(parse_go_duration("2d"), None);
        assert_eq!(parse_go_duration("x"), None);
    }
}
