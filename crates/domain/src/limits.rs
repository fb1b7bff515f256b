//! Rate limits as the domain sees them: a key and a verdict. The limiter behind the
//! [`RateLimiter`] port is in-process for a single node and shared (Redis) for many.

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

impl RateKey {
    /// The limit's name, for configuration, metrics and error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            RateKey::CommentsByUser(_) => "comments_per_user",
            RateKey::CommentsByDevice(_) => "comments_per_device",
            RateKey::LoginsByIp(_) => "logins_per_ip",
            RateKey::LoginsByAccount(_) => "logins_per_account",
            RateKey::RegistrationsByIp(_) => "registrations_per_ip",
        }
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
