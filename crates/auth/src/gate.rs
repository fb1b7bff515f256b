//! The per-request gate behind access tokens: a signature alone is not enough, the
//! token's user must still be active and its device not revoked. Answers are cached for a
//! moment so a busy client costs no query per request; revocations on this node drop the
//! cached answer at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use domain::policy::Actor;
use domain::ports::{DeviceStore, UserStore};
use domain::{DeviceRowId, Role, UserId, Username};
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

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

type Key = (UserId, DeviceRowId);

/// A lookup under way, shared by every request that missed the same key meanwhile.
type Lookup = Shared<BoxFuture<'static, Result<Option<Admitted>, Failure>>>;

/// A failed lookup, as each of the requests that shared it receives it.
#[derive(Clone, Debug)]
struct Failure(Arc<domain::Error>);

impl Failure {
    fn to_error(&self) -> Error {
        match &*self.0 {
            domain::Error::Unavailable { what, cause } => {
                domain::Error::unavailable(what, cause.to_string()).into()
            }
            other => domain::Error::internal(other.to_string()).into(),
        }
    }
}

pub(crate) struct Gate {
    users: Arc<dyn UserStore>,
    devices: Arc<dyn DeviceStore>,
    ttl: Duration,
    cache: DashMap<Key, Verdict>,
    /// Lookups under way, at most one per key: when a node restarts and thousands of
    /// sockets reconnect at once, the misses of one key cost one lookup, not one each.
    loading: DashMap<Key, (u64, Lookup)>,
    /// Bumped by every `forget_*`, so a lookup that began before a revocation does not
    /// cache the answer it read before it.
    epoch: AtomicU64,
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
            loading: DashMap::new(),
            epoch: AtomicU64::new(0),
        }
    }

    /// The actor a verified token stands for, with the user's current role, username and
    /// device id (all as of at most `ttl` ago).
    pub(crate) async fn admit(&self, claims: &AccessClaims) -> Result<(Actor, Admitted)> {
        let admitted = self
            .verdict((claims.sub, claims.dev))
            .await?
            .ok_or(Error::InvalidToken)?;
        let actor = Actor {
            user_id: claims.sub,
            device: claims.dev,
            role: admitted.role,
            username: admitted.username.clone(),
        };
        Ok((actor, admitted))
    }

    /// The cached verdict, or the one a lookup (shared with concurrent misses) finds.
    async fn verdict(&self, key: Key) -> Result<Option<Admitted>> {
        let cached = self
            .cache
            .get(&key)
            .filter(|entry| entry.0.elapsed() < self.ttl)
            .map(|entry| entry.1.clone());
        if let Some(admitted) = cached {
            return Ok(admitted);
        }
        // Cloned out at once: a map entry must not stay locked across an await.
        let (epoch, lookup) = self
            .loading
            .entry(key)
            .or_insert_with(|| (self.epoch.load(Ordering::Acquire), self.look_up(key)))
            .value()
            .clone();
        let outcome = lookup.clone().await;
        self.loading.remove_if(&key, |_, (_, l)| l.ptr_eq(&lookup));
        let admitted = outcome.map_err(|failure| failure.to_error())?;
        if self.epoch.load(Ordering::Acquire) == epoch {
            if self.cache.len() > 100_000 {
                self.cache.retain(|_, v| v.0.elapsed() < self.ttl);
            }
            self.cache.insert(key, (Instant::now(), admitted.clone()));
        }
        Ok(admitted)
    }

    /// Reads the user and the device; runs to the end even if the request that began it
    /// goes away, as long as another one waits for it.
    fn look_up(&self, (user, device): Key) -> Lookup {
        let users = self.users.clone();
        let devices = self.devices.clone();
        async move {
            let found = async {
                let Some(user) = users.by_id(user).await? else {
                    return Ok(None);
                };
                let device = devices
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
            };
            found.await.map_err(|e: domain::Error| Failure(Arc::new(e)))
        }
        .boxed()
        .shared()
    }

    /// Whether `user` is active and `device` one of theirs and not revoked, as of at most
    /// `ttl` ago.
    pub(crate) async fn admits(&self, user: UserId, device: DeviceRowId) -> Result<bool> {
        Ok(self.verdict((user, device)).await?.is_some())
    }

    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    pub(crate) fn forget_user(&self, user: UserId) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.cache.retain(|(u, _), _| *u != user);
        self.loading.retain(|(u, _), _| *u != user);
    }

    pub(crate) fn forget_device(&self, device: DeviceRowId) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.cache.retain(|(_, d), _| *d != device);
        self.loading.retain(|(_, d), _| *d != device);
    }
}

#[cfg(test)]
mod tests {
    //! The gate against stores that count their lookups and take a while to answer, so
    //! concurrent misses overlap the way a reconnect storm makes them.
    #![allow(clippy::unwrap_used, clippy::panic)]

    use std::sync::atomic::AtomicUsize;

    use async_trait::async_trait;
    use chrono::{DateTime, Utc};
    use domain::{Device, DeviceId, Email, NewUser, Page, PageRequest, User};

    use super::*;

    /// One active user per id asked for, each with an active device; counts `by_id`s.
    #[derive(Default)]
    struct Counting {
        users: AtomicUsize,
        devices: AtomicUsize,
    }

    async fn slow() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    fn user(id: UserId) -> User {
        User {
            id,
            email: Email::parse("ann@example.com").unwrap(),
            username: Username::parse("ann").unwrap(),
            password_hash: String::new(),
            role: Role::User,
            is_active: true,
            last_login_at: None,
            inserted_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[async_trait]
    impl UserStore for Counting {
        async fn by_id(&self, id: UserId) -> domain::Result<Option<User>> {
            self.users.fetch_add(1, Ordering::SeqCst);
            slow().await;
            Ok(Some(user(id)))
        }
        async fn insert(&self, _: NewUser) -> domain::Result<User> {
            panic!("not used by the gate")
        }
        async fn by_email(&self, _: &Email) -> domain::Result<Option<User>> {
            panic!("not used by the gate")
        }
        async fn record_login(&self, _: UserId, _: DateTime<Utc>) -> domain::Result<()> {
            panic!("not used by the gate")
        }
        async fn set_role(&self, _: UserId, _: Role) -> domain::Result<()> {
            panic!("not used by the gate")
        }
        async fn set_active(&self, _: UserId, _: bool) -> domain::Result<()> {
            panic!("not used by the gate")
        }
        async fn set_username(&self, _: UserId, _: &Username) -> domain::Result<()> {
            panic!("not used by the gate")
        }
        async fn set_password_hash(&self, _: UserId, _: &str) -> domain::Result<()> {
            panic!("not used by the gate")
        }
        async fn search(
            &self,
            _: Option<&str>,
            _: PageRequest<UserId>,
        ) -> domain::Result<Page<User, UserId>> {
            panic!("not used by the gate")
        }
    }

    /// The device's owner is encoded nowhere, so the fake answers with the owner the
    /// test registered in `owners`.
    struct Devices {
        counting: Arc<Counting>,
        owners: DashMap<DeviceRowId, UserId>,
    }

    #[async_trait]
    impl DeviceStore for Devices {
        async fn by_id(&self, id: DeviceRowId) -> domain::Result<Option<Device>> {
            self.counting.devices.fetch_add(1, Ordering::SeqCst);
            slow().await;
            let owner = *self.owners.get(&id).unwrap();
            Ok(Some(Device {
                id,
                user_id: owner,
                device_id: DeviceId::parse("phone").unwrap(),
                device_info: serde_json::Value::Null,
                is_active: true,
                last_seen_at: Utc::now(),
                inserted_at: Utc::now(),
            }))
        }
        async fn upsert(
            &self,
            _: UserId,
            _: &DeviceId,
            _: serde_json::Value,
        ) -> domain::Result<Device> {
            panic!("not used by the gate")
        }
        async fn list_for_user(&self, _: UserId) -> domain::Result<Vec<Device>> {
            panic!("not used by the gate")
        }
        async fn deactivate(&self, _: UserId, _: DeviceRowId) -> domain::Result<()> {
            panic!("not used by the gate")
        }
    }

    fn claims(user: UserId, device: DeviceRowId) -> AccessClaims {
        AccessClaims {
            sub: user,
            dev: device,
            role: Role::User,
            jti: uuid::Uuid::now_v7(),
            iss: "test".into(),
            iat: 0,
            exp: u64::MAX,
        }
    }

    /// `sockets` connections over `keys` (user, device) pairs miss the cache at once;
    /// answers the (users.by_id, devices.by_id) calls they cost.
    async fn storm(sockets: usize, keys: usize) -> (usize, usize) {
        let counting = Arc::new(Counting::default());
        let devices = Arc::new(Devices {
            counting: counting.clone(),
            owners: DashMap::new(),
        });
        let pairs: Vec<Key> = (0..keys)
            .map(|_| {
                let pair = (UserId::generate(), DeviceRowId::generate());
                devices.owners.insert(pair.1, pair.0);
                pair
            })
            .collect();
        let gate = Gate::new(counting.clone(), devices, Duration::from_secs(2));
        let admits = (0..sockets).map(|i| {
            let (user, device) = pairs[i % keys];
            let claims = claims(user, device);
            let gate = &gate;
            async move { gate.admit(&claims).await.map(|(actor, _)| actor.user_id) }
        });
        let admitted = futures_util::future::join_all(admits).await;
        for (i, outcome) in admitted.into_iter().enumerate() {
            assert_eq!(outcome.unwrap(), pairs[i % keys].0);
        }
        (
            counting.users.load(Ordering::SeqCst),
            counting.devices.load(Ordering::SeqCst),
        )
    }

    #[tokio::test]
    async fn concurrent_misses_of_one_key_share_one_lookup() {
        assert_eq!(storm(100, 1).await, (1, 1));
    }

    /// The reconnect storm of docs/benchmarks.md: 10,000 sockets of 2,500 devices (four
    /// tabs each) reconnect at once. Run with `--nocapture` to see the count.
    #[tokio::test]
    async fn a_reconnect_storm_looks_each_key_up_once() {
        let (users, devices) = storm(10_000, 2_500).await;
        println!("10000 sockets, 2500 keys: {users} user lookups, {devices} device lookups");
        assert_eq!((users, devices), (2_500, 2_500));
    }

    #[tokio::test]
    async fn a_forget_during_a_lookup_keeps_its_answer_out_of_the_cache() {
        let counting = Arc::new(Counting::default());
        let devices = Arc::new(Devices {
            counting: counting.clone(),
            owners: DashMap::new(),
        });
        let (user, device) = (UserId::generate(), DeviceRowId::generate());
        devices.owners.insert(device, user);
        let gate = Gate::new(counting.clone(), devices, Duration::from_secs(2));
        let claims = claims(user, device);
        let first = gate.admit(&claims);
        let forget = async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            gate.forget_user(user);
        };
        let (first, ()) = tokio::join!(first, forget);
        first.unwrap();
        gate.admit(&claims).await.unwrap();
        assert_eq!(
            counting.users.load(Ordering::SeqCst),
            2,
            "the answer read before the forget was not reused"
        );
    }
}
