//! Rate limits shared by every node, so spreading requests over nodes does not multiply a
//! user's allowance. The same GCRA as the in-process limiter, kept in Redis: one key per
//! limit and subject (`rts:rate:<limit>:<subject>`, holding the theoretical arrival time
//! in ms), checked and updated atomically by one Lua script (EVALSHA, one round trip),
//! on Redis's clock so nodes' clocks need not agree. While Redis does not answer, each
//! node falls back to its own in-process limiter rather than letting everything through.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::limits::{RateKey, RateLimiter};
use fred::interfaces::ClientLike;
use fred::prelude::Client;
use fred::types::scripts::Script;

/// GCRA: `ARGV[1]` is the interval between attempts (ms), `ARGV[2]` the burst. Answers
/// 0 (allowed) or how many ms until the next attempt would be.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - now > burst * interval then
  return next_tat - now - burst * interval
end
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil(next_tat - now))
return 0
";

/// Attempts per minute for a limit; 0 means unlimited.
pub type QuotaOf = Arc<dyn Fn(&RateKey) -> u32 + Send + Sync>;

/// The limiter every node shares.
pub struct SharedLimiter {
    client: Client,
    script: Script,
    quota: QuotaOf,
    fallback: Arc<dyn RateLimiter>,
}

impl std::fmt::Debug for SharedLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimiter").finish_non_exhaustive()
    }
}

impl SharedLimiter {
    pub(crate) fn new(client: Client, quota: QuotaOf, fallback: Arc<dyn RateLimiter>) -> Self {
        Self {
            client,
            script: Script::from_lua(GCRA),
            quota,
            fallback,
        }
    }
}

#[async_trait]
impl RateLimiter for SharedLimiter {
    async fn check(&self, key: &RateKey) -> Result<(), Duration> {
        let per_minute = (self.quota)(key);
        if per_minute == 0 {
            return Ok(());
        }
        if !self.client.is_connected() {
            return self.fallback.check(key).await;
        }
        let interval_ms = (60_000 / u64::from(per_minute)).max(1);
        let redis_key = format!("rts:rate:{}:{}", key.kind(), key.subject());
        let answer: Result<i64, _> = self
            .script
            .evalsha_with_reload(
                &self.client,
                redis_key,
                vec![interval_ms.to_string(), per_minute.to_string()],
            )
            .await;
        match answer {
            Ok(0) => Ok(()),
            Ok(wait_ms) => Err(Duration::from_millis(wait_ms.max(1) as u64)),
            Err(e) => {
                tracing::debug!(error = %e, "shared rate limit unavailable; counting here");
                metrics::counter!("realtime_shared_limit_fallbacks_total").increment(1);
                self.fallback.check(key).await
            }
        }
    }
}
