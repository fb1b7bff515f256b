//! The signed-in user's own account, public profiles, and administration (listing users,
//! changing roles, deactivating), all checked against the role policy.

use std::sync::Arc;

use domain::audit::{AuditAction, AuditEntry};
use domain::policy::{Action, Actor, Policy, Scope};
use domain::{Page, PageRequest, Role, User, UserId, Username};
use serde_json::json;

use crate::error::{Error, Result};
use crate::password::Password;
use crate::sessions::{Sessions, revoke_device_in};

/// A change to the caller's own account.
#[derive(Debug, Default)]
pub struct AccountChange {
    pub username: Option<Username>,
    /// `(current, new)`: the current password must be right.
    pub password: Option<(String, Password)>,
}

/// Account management.
#[derive(Clone)]
pub struct Accounts {
    sessions: Sessions,
    policy: Arc<dyn Policy>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Accounts")
    }
}

impl Accounts {
    pub fn new(sessions: Sessions, policy: Arc<dyn Policy>) -> Self {
        Self { sessions, policy }
    }

    fn authorize(&self, actor: &Actor, action: Action, scope: Scope) -> Result<()> {
        if self.policy.allows(actor.role, action, scope) {
            Ok(())
        } else {
            Err(Error::Domain(domain::Error::Forbidden(
                self.policy.refusal(actor.role, action, scope),
            )))
        }
    }

    /// Whether `actor` may see the private fields (email, activity) of `user`.
    pub fn may_view_private(&self, actor: &Actor, user: UserId) -> bool {
        self.policy
            .allows(actor.role, Action::ViewUserPrivate, Scope::of(actor, user))
    }

    /// Any user by id.
    pub async fn user(&self, id: UserId) -> Result<User> {
        self.sessions
            .stores()
            .users
            .by_id(id)
            .await?
            .ok_or(Error::Domain(domain::Error::NotFound("user")))
    }

    /// The caller's own account. `InvalidToken` if its row is gone (deleted by hand while
    /// the gate still held its "active" answer), and the gate forgets that answer, so the
    /// user's other requests get 401 at once too.
    pub async fn me(&self, actor: &Actor) -> Result<User> {
        match self.sessions.stores().users.by_id(actor.user_id).await? {
            Some(user) => Ok(user),
            None => {
                self.sessions.user_changed(actor.user_id);
                Err(Error::InvalidToken)
            }
        }
    }

    /// Changes the caller's username and/or password. A password change needs the
    /// current password and signs out every other device. All of it is one transaction.
    pub async fn update_own(&self, actor: &Actor, change: AccountChange) -> Result<User> {
        // The current password is checked, and the new one hashed, before the transaction
        // begins: hashing takes a while, and a transaction should not.
        let me = self.me(actor).await?;
        if let Some((current, _)) = &change.password
            && !self
                .sessions
                .hasher()
                .verify(current, Some(&me.password_hash))
                .await?
        {
            return Err(Error::WrongPassword);
        }
        let new_hash = match &change.password {
            Some((_, new)) => Some(self.sessions.hasher().hash(new).await?),
            None => None,
        };
        let tx = self.sessions.stores().transactions.begin().await?;
        let changed = async {
            if let Some(username) = &change.username {
                tx.users().set_username(actor.user_id, username).await?;
            }
            let mut signed_out = Vec::new();
            if let Some(hash) = &new_hash {
                tx.users().set_password_hash(actor.user_id, hash).await?;
                for device in tx.devices().list_for_user(actor.user_id).await? {
                    if device.id != actor.device && device.is_active {
                        revoke_device_in(&*tx, actor, device.id).await?;
                        signed_out.push(device.id);
                    }
                }
            }
            Ok::<_, Error>(signed_out)
        }
        .await;
        for device in tx.finish(changed).await? {
            self.sessions.signed_out(device);
        }
        // The gate's cached actor signs the user's comments with their username.
        self.sessions.user_changed(actor.user_id);
        self.me(actor).await
    }

    /// Users, newest first (admins only).
    pub async fn search(
        &self,
        actor: &Actor,
        prefix: Option<&str>,
        page: PageRequest<UserId>,
    ) -> Result<Page<User, UserId>> {
        self.authorize(actor, Action::ListUsers, Scope::Others)?;
        Ok(self.sessions.stores().users.search(prefix, page).await?)
    }

    /// Changes another user's role (admins only; audited).
    pub async fn set_role(&self, actor: &Actor, user: UserId, role: Role) -> Result<User> {
        self.authorize(actor, Action::ChangeRole, Scope::of(actor, user))?;
        let tx = self.sessions.stores().transactions.begin().await?;
        let changed = async {
            let before = tx
                .users()
                .by_id(user)
                .await?
                .ok_or(domain::Error::NotFound("user"))?;
            tx.users().set_role(user, role).await?;
            tx.audit()
                .record(AuditEntry {
                    action: AuditAction::RoleChanged,
                    actor: Some(actor.user_id),
                    subject: Some(*user.as_uuid()),
                    detail: json!({ "from": before.role, "to": role }),
                    ip: None,
                })
                .await
        }
        .await;
        tx.finish(changed).await?;
        self.sessions.user_changed(user);
        self.user(user).await
    }

    /// Deactivates (or reactivates) another user (admins only; audited). A deactivated
    /// user cannot log in, and its tokens stop working at once.
    pub async fn set_active(&self, actor: &Actor, user: UserId, active: bool) -> Result<User> {
        self.authorize(actor, Action::DeactivateUser, Scope::of(actor, user))?;
        let stores = self.sessions.stores();
        let tx = stores.transactions.begin().await?;
        let changed = async {
            tx.users().set_active(user, active).await?;
            if !active {
                // Sign every device out too, so reactivation starts from a fresh login
                // rather than reviving access tokens issued before the deactivation.
                tx.tokens().revoke_user(user).await?;
                for device in tx.devices().list_for_user(user).await? {
                    if device.is_active {
                        tx.devices().deactivate(user, device.id).await?;
                    }
                }
            }
            tx.audit()
                .record(AuditEntry {
                    action: if active {
                        AuditAction::UserReactivated
                    } else {
                        AuditAction::UserDeactivated
                    },
                    actor: Some(actor.user_id),
                    subject: Some(*user.as_uuid()),
                    detail: serde_json::Value::Null,
                    ip: None,
                })
                .await
        }
        .await;
        tx.finish(changed).await?;
        self.sessions.user_changed(user);
        if !active {
            stores.live.user_deactivated(user);
        }
        self.user(user).await
    }
}
