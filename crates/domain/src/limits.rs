//! Rate limits as the domain sees them: a key, the limit it counts against, that limit's
//! quota, and a verdict. The limiter behind the [`RateLimiter`] port is in-process for a
//! single node and shared (Redis) for many; both ask [`Quotas::of`] how much to allow.

use std::time::Duration;

use async_trait::async_trait;

use crate::ids::{DeviceRowId, UserId};

/// What is being limited, and for whom.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RateKey {
    CommentsByUser(UserId),
    CommentsByDevice(DeviceRowId),
    LoginsByIp(String),
    LoginsByAccount(String),
    RegistrationsByIp(String),
}

/// A kind of rate limit: what is counted, per whom. Every [`RateKey`] counts against one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    CommentsPerUser,
    CommentsPerDevice,
    LoginsPerIp,
    LoginsPerAccount,
    RegistrationsPerIp,
}

impl Limit {
    /// Every kind of limit.
    pub const ALL: [Limit; 5] = [
        Limit::CommentsPerUser,
        Limit::CommentsPerDevice,
        Limit::LoginsPerIp,
        Limit::LoginsPerAccount,
        Limit::RegistrationsPerIp,
    ];

    /// The limit's name, for configuration (`RTS_RATE_<NAME>`), metrics and error messages.
    pub fn name(self) -> &'static str {
        match self {
            Limit::CommentsPerUser => "comments_per_user",
            Limit::CommentsPerDevice => "comments_per_device",
            Limit::LoginsPerIp => "logins_per_ip",
            Limit::LoginsPerAccount => "logins_per_account",
            Limit::RegistrationsPerIp => "registrations_per_ip",
        }
    }
}

/// Attempts allowed per minute under each [`Limit`] (0 = unlimited). The defaults are the
/// ones a deployment gets unless it sets `RTS_RATE_*`.
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

impl Quotas {
    /// Attempts per minute allowed under `limit`: the one place a limit meets its quota.
    pub fn of(&self, limit: Limit) -> u32 {
        match limit {
            Limit::CommentsPerUser => self.comments_per_user,
            Limit::CommentsPerDevice => self.comments_per_device,
            Limit::LoginsPerIp => self.logins_per_ip,
            Limit::LoginsPerAccount => self.logins_per_account,
            Limit::RegistrationsPerIp => self.registrations_per_ip,
        }
    }
}

impl RateKey {
    /// The limit this key counts against.
    pub fn limit(&self) -> Limit {
        match self {
            RateKey::CommentsByUser(_) => Limit::CommentsPerUser,
            RateKey::CommentsByDevice(_) => Limit::CommentsPerDevice,
            RateKey::LoginsByIp(_) => Limit::LoginsPerIp,
            RateKey::LoginsByAccount(_) => Limit::LoginsPerAccount,
            RateKey::RegistrationsByIp(_) => Limit::RegistrationsPerIp,
        }
    }

    /// The limit's name, for configuration, metrics and error messages.
    pub fn kind(&self) -> &'static str {
        self.limit().name()
    }

    /// Whom the limit counts for: a user or device id, an address, an account's email.
    pub fn subject(&self) -> String {
        match self {
            RateKey::CommentsByUser(user) => user.to_string(),
            RateKey::CommentsByDevice(device) => device.to_string(),
            RateKey::LoginsByIp(s)
            | RateKey::LoginsByAccount(s)
            | RateKey::RegistrationsByIp(s) => s.clone(),
        }
    }
}

/// The name of the WebSocket's per-socket push limit (`RTS_WS_PUSHES_PER_SECOND`), for
/// [`refusal`].
pub const SOCKET_PUSHES: &str = "ws_pushes_per_second";
/// The name of the WebSocket's per-socket join limit (`RTS_WS_JOINS_PER_SECOND`).
pub const SOCKET_JOINS: &str = "ws_joins_per_second";

/// What a person reads when the limit named `limit` ([`RateKey::kind`], [`SOCKET_PUSHES`]
/// or [`SOCKET_JOINS`]) refuses them: what they did too often and when to try again, as
/// "You're posting too fast; try again in 2 s". REST messages, socket replies and the page
/// all say this; the limit's name itself is for logs and metrics.
pub fn refusal(limit: &str, retry_after: Duration) -> String {
    let what = match limit {
        "comments_per_user" | "comments_per_device" | SOCKET_PUSHES => "You're posting too fast",
        "logins_per_ip" | "logins_per_account" => "Too many sign-in attempts",
        "registrations_per_ip" => "Too many sign-ups from this address",
        SOCKET_JOINS => "You're joining rooms too fast",
        _ => "Too many attempts",
    };
    format!("{what}; try again in {}", wait_for_people(retry_after))
}

/// A wait as people say it, rounded up: "2 s", "5 min", "2 h".
fn wait_for_people(wait: Duration) -> String {
    // Rounded up as REST's Retry-After is, so the two say the same number.
    let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    match secs {
        0..=99 => format!("{secs} s"),
        100..=5999 => format!("{} min", secs.div_ceil(60)),
        _ => format!("{} h", secs.div_ceil(3600)),
    }
}

/// Counts one attempt against the key's limit.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// `Err(wait)` when the limit is reached; retry after `wait`.
    async fn check(&self, key: &RateKey) -> Result<(), Duration>;
}

/// A limiter that never limits (tests, tools).
#[derive(Clone, Copy, Debug, Default)]
pub struct Unlimited;

#[async_trait]
impl RateLimiter for Unlimited {
    async fn check(&self, _key: &RateKey) -> Result<(), Duration> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_has_its_own_quota_and_name() {
        let quotas = Quotas {
            comments_per_user: 1,
            comments_per_device: 2,
            logins_per_ip: 3,
            logins_per_account: 4,
            registrations_per_ip: 5,
        };
        assert_eq!(Limit::ALL.map(|l| quotas.of(l)), [1, 2, 3, 4, 5]);
        let names: std::collections::BTreeSet<_> = Limit::ALL.map(Limit::name).into();
        assert_eq!(names.len(), Limit::ALL.len(), "{names:?}");
        let key = RateKey::LoginsByAccount("a@example.com".into());
        assert_eq!(quotas.of(key.limit()), 4);
        assert_eq!(key.kind(), "logins_per_account");
    }

    #[test]
    fn refusals_say_what_and_when_without_internal_names() {
        let ms = Duration::from_millis;
        assert_eq!(
            refusal("comments_per_user", ms(1_200)),
            "You're posting too fast; try again in 2 s"
        );
        assert_eq!(
            refusal(SOCKET_PUSHES, ms(10)),
            "You're posting too fast; try again in 1 s"
        );
        assert_eq!(
            refusal("logins_per_account", ms(300_000)),
            "Too many sign-in attempts; try again in 5 min"
        );
        assert_eq!(
            refusal("registrations_per_ip", ms(3_600_000 + 1)),
            "Too many sign-ups from this address; try again in 61 min"
        );
        assert_eq!(
            refusal("registrations_per_ip", ms(6_000_001)),
            "Too many sign-ups from this address; try again in 2 h"
        );
        assert_eq!(
            refusal(SOCKET_JOINS, Duration::ZERO),
            "You're joining rooms too fast; try again in 1 s"
        );
        for key in [
            RateKey::CommentsByUser(UserId::generate()),
            RateKey::LoginsByIp("10.0.0.1".into()),
            RateKey::RegistrationsByIp("10.0.0.1".into()),
        ] {
            let message = refusal(key.kind(), ms(2_000));
            assert!(!message.contains(key.kind()), "{message}");
            assert!(!message.starts_with("Too many attempts"), "{message}");
        }
    }
}
