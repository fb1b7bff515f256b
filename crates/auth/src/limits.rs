//! The in-process rate limiter (GCRA, via governor): one keyed limiter per kind of limit,
//! sized by the domain's [`Quotas`]. A multi-node deployment puts a shared limiter behind
//! the same port.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;
use domain::limits::{Limit, Quotas, RateKey, RateLimiter};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Limits attempts per key within this process.
#[derive(Debug)]
pub struct InProcessLimiter {
    /// One per limit with a quota; a limit without one (0) is not counted.
    limiters: HashMap<Limit, DefaultKeyedRateLimiter<RateKey>>,
    clock: DefaultClock,
}

impl InProcessLimiter {
    pub fn new(quotas: Quotas) -> Self {
        let limiters = Limit::ALL
            .into_iter()
            .filter_map(|limit| {
                let per_minute = NonZeroU32::new(quotas.of(limit))?;
                Some((
                    limit,
                    governor::RateLimiter::keyed(Quota::per_minute(per_minute)),
                ))
            })
            .collect();
        Self {
            limiters,
            clock: DefaultClock::default(),
        }
    }

    /// Forgets keys that are back to a full quota (call now and then).
    pub fn shrink(&self) {
        for limiter in self.limiters.values() {
            limiter.retain_recent();
        }
    }
}

#[async_trait]
impl RateLimiter for InProcessLimiter {
    async fn check(&self, key: &RateKey) -> Result<(), Duration> {
        let Some(limiter) = self.limiters.get(&key.limit()) else {
            return Ok(());
        };
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_key_has_its_own_budget() {
        let limiter = InProcessLimiter::new(Quotas {
            logins_per_ip: 3,
            ..Quotas::default()
        });
        let a = RateKey::LoginsByIp("10.0.0.1".into());
        let b = RateKey::LoginsByIp("10.0.0.2".into());
        for _ in 0..3 {
            assert!(limiter.check(&a).await.is_ok());
        }
        let wait = limiter
            .check(&a)
            .await
            .expect_err("fourth attempt is limited");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(
            limiter.check(&b).await.is_ok(),
            "another key is not affected"
        );
    }

    #[tokio::test]
    async fn zero_means_unlimited() {
        let limiter = InProcessLimiter::new(Quotas {
            logins_per_ip: 0,
            ..Quotas::default()
        });
        let key = RateKey::LoginsByIp("x".into());
        for _ in 0..1000 {
            assert!(limiter.check(&key).await.is_ok());
        }
    }
}
