//! Who is still let in: turning an access token back into an actor (through the gate's
//! briefly cached answer), checking open sockets again, and forgetting what is cached
//! when a device is revoked or a user changes, here or on another node.

use domain::policy::Actor;
use domain::{DeviceRowId, UserId};

use super::Sessions;
use crate::error::Result;
use crate::gate::Admitted;

impl Sessions {
    /// The device's tokens were revoked (and committed): forget cached answers and close
    /// its sockets.
    pub(crate) fn signed_out(&self, device: DeviceRowId) {
        self.gate.forget_device(device);
        self.stores.live.device_revoked(device);
    }

    /// The user changed (role, name, password, deleted): forget what is cached about them
    /// here, and tell the other nodes.
    pub(crate) fn user_changed(&self, user: UserId) {
        self.gate.forget_user(user);
        self.stores.live.user_changed(user);
    }

    /// Another node revoked the device or changed the user: forget what this node has
    /// cached about it (its sockets are the realtime side's business).
    pub fn forget_device(&self, device: DeviceRowId) {
        self.gate.forget_device(device);
    }

    /// See [`forget_device`](Self::forget_device).
    pub fn forget_user(&self, user: UserId) {
        self.gate.forget_user(user);
    }

    /// Whether the user and device behind an open socket are still allowed in (the user
    /// active, the device not revoked), as of at most [`admission_lifetime`] ago. Sockets
    /// are checked with it in case the news of a revocation was lost (a Redis outage).
    ///
    /// [`admission_lifetime`]: Self::admission_lifetime
    pub async fn still_admitted(&self, user: UserId, device: DeviceRowId) -> Result<bool> {
        self.gate.admits(user, device).await
    }

    /// How long an answer about a user and device is reused before it is read again.
    pub fn admission_lifetime(&self) -> std::time::Duration {
        self.gate.ttl()
    }

    /// The actor behind a bearer access token, if the token is ours, unexpired, and its
    /// user and device are still active.
    pub async fn authenticate(&self, bearer: &str) -> Result<Actor> {
        let claims = self.access.verify(bearer)?;
        Ok(self.gate.admit(&claims).await?.0)
    }

    /// Like [`authenticate`](Self::authenticate), for a socket: with the username and
    /// device id too (from the same briefly cached lookup, so a burst of socket connects
    /// costs no queries) and when the token expires, which ends the socket.
    pub async fn authenticate_socket(
        &self,
        bearer: &str,
    ) -> Result<(Actor, Admitted, std::time::SystemTime)> {
        let claims = self.access.verify(bearer)?;
        let expires = std::time::UNIX_EPOCH + std::time::Duration::from_secs(claims.exp);
        let (actor, admitted) = self.gate.admit(&claims).await?;
        Ok((actor, admitted, expires))
    }
}
