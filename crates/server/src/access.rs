//! Access changes reach every node: a device revoked or a user deactivated or changed on
//! this node closes its sockets here and is announced to the other nodes over Redis;
//! one announced by another node drops what this node's gate has cached about it and
//! closes its sockets here too. An announcement lost while Redis was away is made good
//! by checking every open socket's user and device again: when Redis is back, and every
//! minute anyway.

use std::sync::Arc;
use std::time::Duration;

use auth::Sessions;
use domain::ports::LiveConnections;
use domain::{DeviceRowId, UserId};
use realtime::{AccessChange, BrokerStatus, Realtime, RedisBroker};

/// How often every open socket's user and device are checked again, whatever Redis said.
/// Answers come through the gate's cache, so a user active on REST costs nothing more.
const RECHECK_EVERY: Duration = Duration::from_secs(60);

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

/// Checks the sockets of this node again every [`RECHECK_EVERY`] and, with Redis, once
/// more each time it is back, after the gate's cached answers from before have run out.
pub(crate) fn spawn_recheck(
    sessions: Sessions,
    realtime: Arc<Realtime>,
    redis: Option<Arc<BrokerStatus>>,
) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(RECHECK_EVERY);
        every.tick().await;
        loop {
            let reconnected = async {
                match &redis {
                    Some(status) => status.connected_again().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = every.tick() => {}
                () = reconnected => {
                    tokio::time::sleep(sessions.admission_lifetime()).await;
                }
            }
            recheck(&sessions, &realtime).await;
        }
    });
}

/// Closes the sockets of every user and device no longer allowed in. A check that cannot
/// be made (the database away) leaves the socket open: the next one decides.
async fn recheck(sessions: &Sessions, realtime: &Realtime) {
    let mut closed = 0;
    for (user, device) in realtime.connected_devices() {
        if let Ok(false) = sessions.still_admitted(user, device).await {
            sessions.forget_device(device);
            closed += realtime.disconnect_device(device);
        }
    }
    if closed > 0 {
        tracing::info!(
            closed,
            "sockets of revoked devices or inactive users closed on a recheck"
        );
        metrics::counter!("realtime_access_recheck_closed_total").increment(closed as u64);
    }
}
