//! The per-request gate behind access tokens: a signature alone is not enough, the
//! token's user must still be active and its device not revoked. Answers are cached for a
//! moment so a busy client costs no query per request; revocations on this node drop the
//! cached answer at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use domain::policy::Actor;
use domain::ports::{DeviceStore, UserStore};
use domain::{DeviceRowId, Role, UserId, Username};

use crate::error::{Error, Result};
use crate::tokens::AccessClaims;

/// Who a live (user, device) pair is, as the gate last saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    pub role: Role,
    pub username: Username,
    /// The client-chosen device id.
    pub device_id: Arc<str>,
}

/// A cached verdict: who the pair is, or `None` when it is revoked.
type Verdict = (Instant, Option<Admitted>);

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

    /// The actor a verified token stands for, with the user's current role, username and
    /// device id (all as of at most `ttl` ago).
    pub(crate) async fn admit(&self, claims: &AccessClaims) -> Result<(Actor, Admitted)> {
        let key = (claims.sub, claims.dev);
        let cached = self
            .cache
            .get(&key)
            .filter(|entry| entry.0.elapsed() < self.ttl)
            .map(|entry| entry.1.clone());
        let admitted = match cached {
            Some(admitted) => admitted,
            None => {
                let admitted = self.look_up(claims.sub, claims.dev).await?;
                if self.cache.len() > 100_000 {
                    self.cache.retain(|_, v| v.0.elapsed() < self.ttl);
                }
                self.cache.insert(key, (Instant::now(), admitted.clone()));
                admitted
            }
        };
        let admitted = admitted.ok_or(Error::InvalidToken)?;
        let actor = Actor {
            user_id: claims.sub,
            device: claims.dev,
            role: admitted.role,
            username: admitted.username.clone(),
        };
        Ok((actor, admitted))
    }

    async fn look_up(&self, user: UserId, device: DeviceRowId) -> Result<Option<Admitted>> {
        let Some(user) = self.users.by_id(user).await? else {
            return Ok(None);
        };
        let device = self
            .devices
            .by_id(device)
            .await?
            .filter(|d| d.is_active && d.user_id == user.id);
        Ok(match device {
            Some(device) if user.is_active => Some(Admitted {
                role: user.role,
                username: user.username,
                device_id: Arc::from(device.device_id.as_str()),
            }),
            _ => None,
        })
    }

    pub(crate) fn forget_user(&self, user: UserId) {
        self.cache.retain(|(u, _), _| *u != user);
    }

    pub(crate) fn forget_device(&self, device: DeviceRowId) {
        self.cache.retain(|(_, d), _| *d != device);
    }
}
