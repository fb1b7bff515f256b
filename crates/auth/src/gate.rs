//! The per-request gate behind access tokens: a signature alone is not enough, the
//! token's user must still be active and its device not revoked. Answers are cached for a
//! moment so a busy client costs no query per request; revocations on this node drop the
//! cached answer at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use domain::policy::Actor;
use domain::ports::{DeviceStore, UserStore};
use domain::{DeviceRowId, Role, UserId};

use crate::error::{Error, Result};
use crate::tokens::AccessClaims;

/// A cached verdict: the user's current role, or `None` when the pair is revoked.
type Verdict = (Instant, Option<Role>);

pub(crate) struct Gate {
    users: Arc<dyn UserStore>,
    devices: Arc<dyn DeviceStore>,
    ttl: Duration,
    cache: DashMap<(UserId, DeviceRowId), Verdict>,
}

impl Gate {
    pub(crate) fn new(
        users: Arc<dyn UserStore>,
        devices: Arc<dyn DeviceStore>,
        ttl: Duration,
    ) -> Self {
        Self {
            users,
            devices,
            ttl,
            cache: DashMap::new(),
        }
    }

    /// The actor a verified token stands for, with the user's current role.
    pub(crate) async fn admit(&self, claims: &AccessClaims) -> Result<Actor> {
        let key = (claims.sub, claims.dev);
        let cached = self
            .cache
            .get(&key)
            .filter(|entry| entry.0.elapsed() < self.ttl)
            .map(|entry| entry.1);
        let role = match cached {
            Some(role) => role,
            None => {
                let role = self.look_up(claims.sub, claims.dev).await?;
                if self.cache.len() > 100_000 {
                    self.cache.retain(|_, v| v.0.elapsed() < self.ttl);
                }
                self.cache.insert(key, (Instant::now(), role));
                role
            }
        };
        let role = role.ok_or(Error::InvalidToken)?;
        Ok(Actor {
            user_id: claims.sub,
            device: claims.dev,
            role,
        })
    }

    async fn look_up(&self, user: UserId, device: DeviceRowId) -> Result<Option<Role>> {
        let Some(user) = self.users.by_id(user).await? else {
            return Ok(None);
        };
        let device_ok = self
            .devices
            .by_id(device)
            .await?
            .is_some_and(|d| d.is_active && d.user_id == user.id);
        Ok((user.is_active && device_ok).then_some(user.role))
    }

    pub(crate) fn forget_user(&self, user: UserId) {
        self.cache.retain(|(u, _), _| *u != user);
    }

    pub(crate) fn forget_device(&self, device: DeviceRowId) {
        self.cache.retain(|(_, d), _| *d != device);
    }
}
