//! Sign-up, login, refresh and logout, and turning an access token back into an actor.
//!
//! A session is bound to a device: login registers or refreshes the device, and the refresh
//! tokens of a device form a chain in which every use replaces the token. Presenting a spent
//! token means a copy leaked, so the device's whole chain is revoked.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use domain::audit::{AuditAction, AuditEntry};
use domain::limits::{RateKey, RateLimiter};
use domain::mirror::{Mirror, MirrorChange};
use domain::policy::Actor;
use domain::ports::{
    AuditLog, DeviceStore, LiveConnections, RefreshTokenStore, Transaction, UnitOfWork, UserStore,
};
use domain::tokens::{NewRefreshToken, Rotation};
use domain::{
    Device, DeviceId, DeviceRowId, Email, NewUser, RefreshTokenId, Role, User, UserId, Username,
};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::gate::Gate;
use crate::password::{Password, PasswordHasher};
use crate::tokens::{AccessTokens, hash_refresh_token, new_refresh_token};

mod admission;
mod devices;

pub(crate) use devices::revoke_device_in;

/// The stores and services sessions need.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Stores {
    /// Every change that writes more than one row goes through one transaction.
    pub transactions: Arc<dyn UnitOfWork>,
    pub users: Arc<dyn UserStore>,
    pub devices: Arc<dyn DeviceStore>,
    pub tokens: Arc<dyn RefreshTokenStore>,
    pub audit: Arc<dyn AuditLog>,
    pub limiter: Arc<dyn RateLimiter>,
    /// Sockets to close when a device or user is revoked.
    pub live: Arc<dyn LiveConnections>,
}

/// Token lifetimes.
#[derive(Clone, Copy, Debug)]
pub struct SessionTimes {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// How long a "this device and user are still active" answer is reused.
    pub gate_ttl: Duration,
}

impl Default for SessionTimes {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            gate_ttl: Duration::from_secs(2),
        }
    }
}

/// A signed-in session: what register, login and refresh answer with.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: User,
    pub device: DeviceRowId,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// What a new account needs.
#[derive(Debug)]
pub struct SignUp {
    pub email: Email,
    pub username: Username,
    pub password: Password,
    pub device_id: DeviceId,
    pub device_info: Value,
    /// The client's address, for the per-address limit.
    pub ip: Option<String>,
}

/// A login attempt.
#[derive(Debug)]
pub struct Login {
    pub email: Email,
    /// As typed; checked, never validated (a rule change must not lock anyone out).
    pub password: String,
    pub device_id: DeviceId,
    pub device_info: Value,
    pub ip: Option<String>,
}

/// The session service.
#[derive(Clone)]
pub struct Sessions {
    stores: Stores,
    hasher: PasswordHasher,
    access: AccessTokens,
    times: SessionTimes,
    gate: Arc<Gate>,
    mirror: Mirror,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("times", &self.times)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    pub fn new(
        stores: Stores,
        hasher: PasswordHasher,
        access: AccessTokens,
        times: SessionTimes,
    ) -> Self {
        let gate = Arc::new(Gate::new(
            stores.users.clone(),
            stores.devices.clone(),
            times.gate_ttl,
        ));
        Self {
            stores,
            hasher,
            access,
            times,
            gate,
            mirror: Mirror::Off,
        }
    }

    /// With the mirror on, a login also writes the user's `last_login_at` to the mirror
    /// outbox, in the login's transaction.
    pub fn mirrored(mut self, mirror: Mirror) -> Self {
        self.mirror = mirror;
        self
    }

    pub(crate) fn stores(&self) -> &Stores {
        &self.stores
    }

    pub(crate) fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Creates an account (role user) and signs it in on the given device. Attempts count
    /// against the client address's limit before the password is hashed.
    pub async fn register(&self, sign_up: SignUp) -> Result<Session> {
        if let Some(ip) = &sign_up.ip {
            self.limit(RateKey::RegistrationsByIp(ip.clone())).await?;
        }
        let password_hash = self.hasher.hash(&sign_up.password).await?;
        let tx = self.stores.transactions.begin().await?;
        let opened = async {
            let user = tx
                .users()
                .insert(NewUser {
                    email: sign_up.email,
                    username: sign_up.username,
                    password_hash,
                    role: Role::User,
                })
                .await?;
            let device = tx
                .devices()
                .upsert(user.id, &sign_up.device_id, sign_up.device_info)
                .await?;
            self.open(&*tx, user, &device).await
        }
        .await;
        tx.finish(opened).await
    }

    /// Checks the password and signs in on the device (registering or refreshing it).
    /// Unknown emails and wrong passwords cost the same and answer the same.
    pub async fn login(&self, login: Login) -> Result<Session> {
        if let Some(ip) = &login.ip {
            self.limit(RateKey::LoginsByIp(ip.clone())).await?;
        }
        self.limit(RateKey::LoginsByAccount(login.email.as_str().to_owned()))
            .await?;
        let user = self.stores.users.by_email(&login.email).await?;
        let stored = user.as_ref().map(|u| u.password_hash.as_str());
        let matches = self.hasher.verify(&login.password, stored).await?;
        let failure = match &user {
            _ if !matches => Some((Error::InvalidCredentials, "wrong_credentials")),
            Some(u) if !u.is_active => Some((Error::AccountDeactivated, "deactivated")),
            _ => None,
        };
        if let Some((error, reason)) = failure {
            self.audit(AuditEntry {
                action: AuditAction::LoginFailed,
                actor: user.as_ref().map(|u| u.id),
                subject: None,
                detail: json!({ "reason": reason, "device_id": login.device_id }),
                ip: login.ip,
            })
            .await?;
            return Err(error);
        }
        let Some(user) = user else {
            return Err(Error::InvalidCredentials);
        };
        let tx = self.stores.transactions.begin().await?;
        let opened = async {
            let device = tx
                .devices()
                .upsert(user.id, &login.device_id, login.device_info)
                .await?;
            let at = Utc::now();
            tx.users().record_login(user.id, at).await?;
            if self.mirror == Mirror::On {
                tx.outbox()
                    .enqueue(&MirrorChange::SignedIn { user: user.id, at })
                    .await?;
            }
            tx.audit()
                .record(AuditEntry {
                    action: AuditAction::LoginSucceeded,
                    actor: Some(user.id),
                    subject: Some(*device.id.as_uuid()),
                    detail: json!({ "device_id": device.device_id }),
                    ip: login.ip,
                })
                .await?;
            let user = User {
                last_login_at: Some(at),
                ..user
            };
            self.open(&*tx, user, &device).await
        }
        .await;
        let session = tx.finish(opened).await?;
        self.gate.forget_device(session.device);
        Ok(session)
    }

    /// Spends a refresh token for a new pair. A token presented again after it was spent
    /// revokes every session of its device (reuse); one revoked unused (logout, device
    /// revocation, deactivation) is just invalid.
    pub async fn refresh(&self, presented: &str) -> Result<Session> {
        if presented.is_empty() || presented.len() > 256 {
            return Err(Error::InvalidRefreshToken);
        }
        let (secret, hash) = new_refresh_token()?;
        let next = NewRefreshToken {
            id: RefreshTokenId::generate(),
            user_id: UserId::generate(),
            device: DeviceRowId::generate(),
            hash,
            expires_at: Utc::now() + self.times.refresh_ttl,
        };
        let tx = self.stores.transactions.begin().await?;
        let rotation = async {
            let rotation = tx
                .tokens()
                .rotate(&hash_refresh_token(presented), next)
                .await?;
            if let Rotation::Reused { user_id, device } = rotation {
                // Whoever holds a copy may also hold a live access token: the device is
                // signed out, in the transaction that revoked its tokens, and audited.
                match tx.devices().deactivate(user_id, device).await {
                    Ok(()) | Err(domain::Error::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
                tx.audit()
                    .record(AuditEntry {
                        action: AuditAction::RefreshTokenReused,
                        actor: Some(user_id),
                        subject: Some(*device.as_uuid()),
                        detail: Value::Null,
                        ip: None,
                    })
                    .await?;
            }
            Ok(rotation)
        }
        .await;
        match tx.finish(rotation).await? {
            Rotation::Rotated { user_id, device } => {
                let user = self
                    .stores
                    .users
                    .by_id(user_id)
                    .await?
                    .ok_or(Error::InvalidRefreshToken)?;
                if !user.is_active {
                    self.stores.tokens.revoke_user(user.id).await?;
                    return Err(Error::AccountDeactivated);
                }
                self.session(user, device.id, secret)
            }
            Rotation::Reused { user_id, device } => {
                tracing::warn!(user.id = %user_id, device.id = %device, "refresh token reused; device signed out");
                self.signed_out(device);
                Err(Error::RefreshTokenReused)
            }
            Rotation::Rejected => Err(Error::InvalidRefreshToken),
        }
    }

    /// Ends the session of the caller's device: its refresh tokens are revoked and the
    /// device is marked inactive, so its access tokens stop working too.
    pub async fn logout(&self, actor: &Actor) -> Result<()> {
        let tx = self.stores.transactions.begin().await?;
        let ended = async {
            tx.tokens().revoke_device(actor.device).await?;
            tx.devices().deactivate(actor.user_id, actor.device).await
        }
        .await;
        tx.finish(ended).await?;
        self.signed_out(actor.device);
        Ok(())
    }

    /// The session answered for `user` on `device`: a new access token beside the refresh
    /// token just stored.
    fn session(&self, user: User, device: DeviceRowId, refresh_token: String) -> Result<Session> {
        let access_token = self.access.issue(user.id, device, user.role)?;
        Ok(Session {
            user,
            device,
            access_token,
            refresh_token,
            expires_in: self.access.ttl().as_secs(),
        })
    }

    /// A new session for `user` on `device`, its refresh token stored through `tx`.
    async fn open(&self, tx: &dyn Transaction, user: User, device: &Device) -> Result<Session> {
        let (secret, hash) = new_refresh_token()?;
        tx.tokens()
            .issue(NewRefreshToken {
                id: RefreshTokenId::generate(),
                user_id: user.id,
                device: device.id,
                hash,
                expires_at: Utc::now() + self.times.refresh_ttl,
            })
            .await?;
        self.session(user, device.id, secret)
    }

    async fn limit(&self, key: RateKey) -> Result<()> {
        self.stores
            .limiter
            .check(&key)
            .await
            .map_err(|retry_after| {
                Error::Domain(domain::Error::RateLimited {
                    limit: key.kind(),
                    retry_after,
                })
            })
    }

    pub(crate) async fn audit(&self, entry: AuditEntry) -> Result<()> {
        Ok(self.stores.audit.record(entry).await?)
    }
}
