//! Random bytes for push ids and access tokens, from the OS (not security-critical here).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha1::{Digest, Sha1};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `N` random bytes; should the OS source fail, a hash of the time and a counter.
pub(crate) fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if getrandom::fill(&mut out).is_err() {
        for (i, chunk) in out.chunks_mut(20).enumerate() {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let digest = Sha1::digest(format!("{nanos}/{n}/{i}").as_bytes());
            chunk.copy_from_slice(&digest[..chunk.len()]);
        }
    }
    out
}

/// Lower-case hex of `N` random bytes.
pub(crate) fn hex<const N: usize>() -> String {
    bytes::<N>().iter().map(|b| format!("{b:02x}")).collect()
}
