//! CPU time and memory of the server's processes (every node of the deployment), summed.

use std::time::Duration;

use crate::procfs;

/// The server's RSS once it stops shrinking: signing users up runs argon2 (19 MiB per
/// hash), and the allocator hands that memory back over the following seconds. Measuring
/// sockets against a baseline taken before that would undercount them.
async fn settled_rss(pid: u32) -> Option<u64> {
    let mut last = procfs::rss_kib(pid)?;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = procfs::rss_kib(pid)?;
        if now.abs_diff(last) <= last / 200 {
            return Some(now);
        }
        last = now;
    }
    Some(last)
}

/// The settled RSS of `pids` added up, one after the other (`None` if the last one could
/// not be read).
pub(super) async fn settled_rss_kib(pids: &[u32]) -> Option<u64> {
    let mut sum = None;
    for pid in pids {
        let settled = settled_rss(*pid).await;
        sum = settled.map(|kib| kib + sum.unwrap_or(0));
    }
    sum
}

/// The RSS of `pids` together, if every one answers.
pub(super) fn rss_kib(pids: &[u32]) -> Option<u64> {
    summed(pids, procfs::rss_kib)
}

/// The CPU time of `pids` together, in microseconds, if every one answers.
pub(super) fn cpu_micros(pids: &[u32]) -> Option<u64> {
    summed(pids, |pid| {
        procfs::cpu_time(pid).map(|d| d.as_micros() as u64)
    })
}

/// The sum over `pids` of `read`, if every one answers.
fn summed(pids: &[u32], read: impl Fn(u32) -> Option<u64>) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|pid| read(*pid)).sum()
}
