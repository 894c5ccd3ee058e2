//! Progress lines while a copy runs: at most one a second per image, and only when
//! bytes moved since the last one.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::ActionIo;
use crate::registry_client::Progress;

/// Human size, decimal units like `docker images`: `670 B`, `40.0 MB`, `1.05 GB`.
pub(crate) fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} B"),
        _ if v < 10.0 => format!("{v:.2} {}", UNITS[unit]),
        _ => format!("{v:.1} {}", UNITS[unit]),
    }
}

/// Runs `fut`, logging `label: <copied> of <total>, <done>/<blobs> blobs` every second
/// while bytes move.
pub(crate) async fn with_progress<T>(
    io: &dyn ActionIo,
    label: &str,
    progress: &Progress,
    fut: impl Future<Output = T>,
) -> T {
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tick.tick().await;
    tokio::pin!(fut);
    let mut last = 0;
    loop {
        tokio::select! {
            out = &mut fut => return out,
            _ = tick.tick() => {
                let bytes = progress.bytes.load(Ordering::Relaxed);
                if bytes != last {
                    last = bytes;
                    io.log(&format!(
                        "{label}: {} of {} copied, {}/{} blobs done ({:.0} s)",
                        human(bytes),
                        human(progress.total.load(Ordering::Relaxed)),
                        progress.blobs_done.load(Ordering::Relaxed),
                        progress.blobs_total.load(Ordering::Relaxed),
                        start.elapsed().as_secs_f64(),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn sizes() {
        assert_eq!(human(670), "670 B");
        assert_eq!(human(40_000_000), "40.0 MB");
        assert_eq!(human(1_050_000_000), "1.05 GB");
    }
}
