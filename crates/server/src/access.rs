//! Access changes reach every node: a device revoked or a user deactivated or changed on
//! this node closes its sockets here and is announced to the other nodes over Redis;
//! one announced by another node drops what this node's gate has cached about it and
//! closes its sockets here too.

use std::sync::Arc;

use auth::Sessions;
use domain::ports::LiveConnections;
use domain::{DeviceRowId, UserId};
use realtime::{AccessChange, Realtime, RedisBroker};

/// This node's sockets, and the other nodes when there are any.
pub(crate) struct NodeAccess {
    pub realtime: Arc<Realtime>,
    pub cluster: Option<Arc<RedisBroker>>,
}

impl NodeAccess {
    fn announce(&self, change: AccessChange) {
        if let Some(cluster) = &self.cluster {
            cluster.announce(change);
        }
    }
}

impl LiveConnections for NodeAccess {
    fn device_revoked(&self, device: DeviceRowId) {
        self.realtime.disconnect_device(device);
        self.announce(AccessChange::DeviceRevoked(device));
    }

    fn user_deactivated(&self, user: UserId) {
        self.realtime.disconnect_user(user);
        self.announce(AccessChange::UserDeactivated(user));
    }

    fn user_changed(&self, user: UserId) {
        self.announce(AccessChange::UserChanged(user));
    }
}

/// Applies on this node a change another node announced.
pub(crate) fn apply_remote(sessions: &Sessions, realtime: &Realtime, change: AccessChange) {
    tracing::debug!(?change, "access change from another node");
    match change {
        AccessChange::DeviceRevoked(device) => {
            sessions.forget_device(device);
            realtime.disconnect_device(device);
        }
        AccessChange::UserDeactivated(user) => {
            sessions.forget_user(user);
            realtime.disconnect_user(user);
        }
        AccessChange::UserChanged(user) => sessions.forget_user(user),
    }
}
