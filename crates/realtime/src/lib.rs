//! The Phoenix Channels V2 side of realtime-server, with no knowledge of any web framework:
//! the frame codec, per-socket sessions (frames in, frames out), the topic hub with
//! pre-serialized fanout and bounded queues, presence in the Phoenix.Presence format, the
//! `video:<id>` room, and the Broker that carries broadcasts between nodes.
//!
//! A transport (crates/http) authenticates the connection, calls [`Realtime::open`], feeds
//! every text frame to [`Session::receive`], writes what it returns, drains the socket's
//! [`OutboxReceiver`], and closes when it is kicked.

mod broker;
mod feed;
pub mod frame;
mod hub;
mod presence;
mod session;
mod video;
mod views;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::comments::Comments;
use domain::{DeviceRowId, UserId};

pub use broker::{Broker, LocalBroker};
pub use feed::RoomFeed;
pub use hub::{CloseReason, Hub, Outbox, OutboxReceiver, SocketId};
pub use presence::Presence;
pub use session::{Fatal, Session, SocketUser};
pub use views::comment_json;

/// Limits and timings of the realtime side.
#[derive(Clone, Copy, Debug)]
pub struct RealtimeConfig {
    /// Channels one socket may have joined at once.
    pub max_channels: usize,
    /// Frames queued for one socket before it counts as too slow and is closed.
    pub outbox_capacity: usize,
    /// Pushes (comments, reactions) per second per socket, and the burst allowed.
    pub pushes_per_second: f64,
    pub push_burst: f64,
    /// Presence changes within this window go out as one diff.
    pub presence_window: Duration,
    /// Comments sent on a plain join.
    pub join_history: u16,
    /// Most comments sent on a join with `since`.
    pub since_limit: u16,
    /// Largest text frame accepted, in bytes.
    pub max_frame_bytes: usize,
    /// A socket that sends nothing for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            max_channels: 20,
            outbox_capacity: 1024,
            pushes_per_second: 5.0,
            push_burst: 20.0,
            presence_window: Duration::from_millis(50),
            join_history: 50,
            since_limit: 500,
            max_frame_bytes: 16 * 1024,
            idle_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug)]
struct Registered {
    user: UserId,
    device: DeviceRowId,
    outbox: Outbox,
}

/// The realtime service of one node, shared by all its sockets.
pub struct Realtime {
    hub: Arc<Hub>,
    broker: Arc<dyn Broker>,
    presence: Arc<Presence>,
    comments: Comments,
    config: RealtimeConfig,
    sockets: Mutex<HashMap<SocketId, Registered>>,
}

impl std::fmt::Debug for Realtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Realtime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Realtime {
    pub fn new(
        hub: Arc<Hub>,
        broker: Arc<dyn Broker>,
        comments: Comments,
        config: RealtimeConfig,
    ) -> Arc<Self> {
        let presence = Presence::new(broker.clone(), config.presence_window);
        Arc::new(Self {
            hub,
            broker,
            presence,
            comments,
            config,
            sockets: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &RealtimeConfig {
        &self.config
    }

    /// A session for an authenticated connection, and the receiving end of its queue.
    pub fn open(self: &Arc<Self>, user: SocketUser) -> (Session, OutboxReceiver) {
        let (outbox, receiver) = Outbox::new(self.config.outbox_capacity);
        let id = self.hub.next_socket_id();
        self.lock_sockets().insert(
            id,
            Registered {
                user: user.actor.user_id,
                device: user.actor.device,
                outbox: outbox.clone(),
            },
        );
        metrics::gauge!("realtime_open_sockets").increment(1.0);
        (Session::new(id, Arc::clone(self), user, outbox), receiver)
    }

    fn lock_sockets(&self) -> std::sync::MutexGuard<'_, HashMap<SocketId, Registered>> {
        self.sockets.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn forget_socket(&self, id: SocketId) {
        if self.lock_sockets().remove(&id).is_some() {
            metrics::gauge!("realtime_open_sockets").decrement(1.0);
        }
    }

    /// Closes every socket of the device on this node (code 1001).
    pub fn disconnect_device(&self, device: DeviceRowId) -> usize {
        self.close_where(|r| r.device == device, CloseReason::Revoked)
    }

    /// Closes every socket of the user on this node (code 1001).
    pub fn disconnect_user(&self, user: UserId) -> usize {
        self.close_where(|r| r.user == user, CloseReason::Revoked)
    }

    /// Closes every socket on this node (shutdown, code 1012).
    pub fn close_all(&self) -> usize {
        self.close_where(|_| true, CloseReason::Shutdown)
    }

    fn close_where(&self, pick: impl Fn(&Registered) -> bool, reason: CloseReason) -> usize {
        let sockets = self.lock_sockets();
        sockets
            .values()
            .filter(|r| pick(r))
            .map(|r| r.outbox.close(reason))
            .count()
    }

    pub fn open_sockets(&self) -> usize {
        self.lock_sockets().len()
    }
}

impl domain::ports::LiveConnections for Realtime {
    fn device_revoked(&self, device: DeviceRowId) {
        self.disconnect_device(device);
    }

    fn user_deactivated(&self, user: UserId) {
        self.disconnect_user(user);
    }
}
