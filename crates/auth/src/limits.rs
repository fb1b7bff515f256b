//! The in-process rate limiter (GCRA, via governor): one keyed limiter per kind of limit.
//! A multi-node deployment puts a shared limiter behind the same port.

use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;
use domain::limits::{RateKey, RateLimiter};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Attempts allowed per minute for each limit (0 = unlimited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quotas {
    pub comments_per_user: u32,
    pub comments_per_device: u32,
    pub logins_per_ip: u32,
    pub logins_per_account: u32,
    pub registrations_per_ip: u32,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            comments_per_user: 30,
            comments_per_device: 30,
            logins_per_ip: 30,
            logins_per_account: 10,
            registrations_per_ip: 10,
        }
    }
}

/// Limits attempts per key within this process.
#[derive(Debug)]
pub struct InProcessLimiter {
    comments_per_user: Option<DefaultKeyedRateLimiter<RateKey>>,
    comments_per_device: Option<DefaultKeyedRateLimiter<RateKey>>,
    logins_per_ip: Option<DefaultKeyedRateLimiter<RateKey>>,
    logins_per_account: Option<DefaultKeyedRateLimiter<RateKey>>,
    registrations_per_ip: Option<DefaultKeyedRateLimiter<RateKey>>,
    clock: DefaultClock,
}

fn per_minute(n: u32) -> Option<DefaultKeyedRateLimiter<RateKey>> {
    NonZeroU32::new(n).map(|n| governor::RateLimiter::keyed(Quota::per_minute(n)))
}

impl InProcessLimiter {
    pub fn new(quotas: Quotas) -> Self {
        Self {
            comments_per_user: per_minute(quotas.comments_per_user),
            comments_per_device: per_minute(quotas.comments_per_device),
            logins_per_ip: per_minute(quotas.logins_per_ip),
            logins_per_account: per_minute(quotas.logins_per_account),
            registrations_per_ip: per_minute(quotas.registrations_per_ip),
            clock: DefaultClock::default(),
        }
    }

    /// Forgets keys that are back to a full quota (call now and then).
    pub fn shrink(&self) {
        for limiter in [
            &self.comments_per_user,
            &self.comments_per_device,
            &self.logins_per_ip,
            &self.logins_per_account,
            &self.registrations_per_ip,
        ]
        .into_iter()
        .flatten()
        {
            limiter.retain_recent();
        }
    }
}

#[async_trait]
impl RateLimiter for InProcessLimiter {
    async fn check(&self, key: &RateKey) -> Result<(), Duration> {
        let limiter = match key {
            RateKey::CommentsByUser(_) => &self.comments_per_user,
            RateKey::CommentsByDevice(_) => &self.comments_per_device,
            RateKey::LoginsByIp(_) => &self.logins_per_ip,
            RateKey::LoginsByAccount(_) => &self.logins_per_account,
            RateKey::RegistrationsByIp(_) => &self.registrations_per_ip,
        };
        let Some(limiter) = limiter else {
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
