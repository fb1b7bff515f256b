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
