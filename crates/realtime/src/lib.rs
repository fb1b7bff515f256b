//! The Phoenix Channels V2 side of realtime-server, with no knowledge of any web framework:
//! the frame codec, per-socket sessions (frames in, frames out), the topic hub with
//! pre-serialized fanout and bounded queues, presence in the Phoenix.Presence format, the
//! `video:<id>` room, and the Broker that carries broadcasts between nodes.
//!
//! A node starts with its [`Rooms`] (hub, broker, presence and the rooms' audience), whose
//! [`RoomFeed`] the comment use case announces through, then its [`Realtime`].
//!
//! A transport (crates/http) authenticates the connection, calls [`Realtime::open`], feeds
//! every text frame to [`Session::receive`], writes what it returns, drains the socket's
//! [`OutboxReceiver`], closes when it is kicked, and drops the [`Registration`] once the
//! connection is gone.

mod audience;
mod broker;
mod config;
mod events;
mod feed;
pub mod frame;
mod hub;
mod nodes;
mod presence;
mod replies;
mod room;
mod session;
mod shared_limits;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use domain::comments::Comments;
use domain::{DeviceRowId, UserId};

pub use broker::{
    AccessChange, Broker, BrokerStatus, LocalBroker, NodeMessage, PeerNews, Peers, RedisBroker,
    RedisError, probe_redis,
};
pub use config::RealtimeConfig;
pub use feed::RoomFeed;
pub use hub::{
    CloseReason, Hub, Outbox, OutboxReceiver, QueueLimits, SocketId, TopicChange, Viewer,
};
pub use presence::{Connection, Member, Presence, PresenceObserver};
pub use room::SocketUser;
pub use room::{topic_of, video_of};
pub use session::{Fatal, Session};
pub use shared_limits::{QuotaOf, SharedLimiter};

#[derive(Debug)]
struct Registered {
    user: UserId,
    device: DeviceRowId,
    address: IpAddr,
    outbox: Outbox,
}

/// The sockets open on this node, with counts per user and per client address kept as
/// sockets come and go, so a limit check costs two lookups however many are open.
#[derive(Debug, Default)]
struct Registry {
    sockets: HashMap<SocketId, Registered>,
    per_user: HashMap<UserId, usize>,
    per_address: HashMap<IpAddr, usize>,
}

fn count_down<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = counts.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(key);
        }
    }
}

/// Why a socket was not opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("this server has as many sockets open as it allows; try again later")]
    NodeFull,
    #[error("too many sockets open for this user")]
    TooManyForUser,
    #[error("too many sockets open from this address")]
    TooManyForAddress,
}

/// Keeps a socket counted as open until the transport is done with it (its closing
/// handshake included), whereas the session is dropped as soon as the conversation ends.
#[derive(Debug)]
pub struct Registration {
    rt: Arc<Realtime>,
    id: SocketId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.rt.forget_socket(self.id);
    }
}

/// An opened socket: its session, the receiving end of its queue, and its registration.
#[derive(Debug)]
pub struct Opened {
    pub session: Session,
    pub outbox: OutboxReceiver,
    pub registration: Registration,
}

/// The live side of every room of this node: how broadcasts reach their sockets (hub and
/// broker), who is in them (presence) and how many, in which mode (the audience).
#[derive(Debug)]
pub struct Rooms {
    hub: Arc<Hub>,
    broker: Arc<dyn Broker>,
    presence: Arc<Presence>,
    audience: Arc<audience::Audience>,
}

impl Rooms {
    /// The rooms over `broker`; with several nodes, `peers` (from [`RedisBroker::start`])
    /// keeps presence and the rooms' counts in step with the other nodes'.
    pub fn new(
        hub: Arc<Hub>,
        broker: Arc<dyn Broker>,
        peers: Option<Peers>,
        config: &RealtimeConfig,
    ) -> Arc<Self> {
        let presence = Presence::new(broker.clone(), hub.clone(), config.presence_window);
        let audience = audience::Audience::new(
            presence.clone(),
            hub.clone(),
            broker.clone(),
            config.audience(),
        );
        if let Some(peers) = peers {
            nodes::spawn(presence.clone(), audience.clone(), broker.clone(), peers);
        }
        Arc::new(Self {
            hub,
            broker,
            presence,
            audience,
        })
    }

    /// What the comment use case announces through.
    pub fn feed(&self) -> Arc<RoomFeed> {
        Arc::new(RoomFeed::new(self.broker.clone(), self.audience.clone()))
    }
}

/// The realtime service of one node, shared by all its sockets.
pub struct Realtime {
    hub: Arc<Hub>,
    presence: Arc<Presence>,
    /// What every session of this node asks: the room and the limits.
    context: Arc<session::Context>,
    registry: Mutex<Registry>,
}

impl std::fmt::Debug for Realtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Realtime")
            .field("config", &self.context.config)
            .finish_non_exhaustive()
    }
}

impl Realtime {
    /// The realtime service of `rooms`, posting through `comments`.
    pub fn new(rooms: Arc<Rooms>, comments: Comments, config: RealtimeConfig) -> Arc<Self> {
        let history = room::HistoryLimits {
            latest: config.join_history,
            replay: config.since_limit,
            replay_bytes: config.since_bytes,
        };
        let (hub, presence) = (rooms.hub.clone(), rooms.presence.clone());
        let room = room::VideoRoom::new(comments, rooms, history);
        Arc::new(Self {
            hub,
            presence,
            context: Arc::new(session::Context { room, config }),
            registry: Mutex::new(Registry::default()),
        })
    }

    pub fn config(&self) -> &RealtimeConfig {
        &self.context.config
    }

    /// Who is in which room, on every node.
    pub fn presence(&self) -> &Arc<Presence> {
        &self.presence
    }

    /// A session for an authenticated connection from `address`, unless a socket limit
    /// says no.
    pub fn open(self: &Arc<Self>, user: SocketUser, address: IpAddr) -> Result<Opened, Refused> {
        let config = &self.context.config;
        let mut registry = self.lock_registry();
        if registry.sockets.len() >= config.max_sockets {
            return Err(Refused::NodeFull);
        }
        let user_id = user.actor.user_id;
        if registry.per_user.get(&user_id).copied().unwrap_or(0) >= config.max_sockets_per_user {
            return Err(Refused::TooManyForUser);
        }
        if registry.per_address.get(&address).copied().unwrap_or(0)
            >= config.max_sockets_per_address
        {
            return Err(Refused::TooManyForAddress);
        }
        let (outbox, receiver) = Outbox::new(QueueLimits {
            frames: config.outbox_capacity,
            bytes: config.outbox_bytes,
        });
        let id = self.hub.next_socket_id();
        registry.sockets.insert(
            id,
            Registered {
                user: user_id,
                device: user.actor.device,
                address,
                outbox: outbox.clone(),
            },
        );
        *registry.per_user.entry(user_id).or_default() += 1;
        *registry.per_address.entry(address).or_default() += 1;
        drop(registry);
        metrics::gauge!("realtime_open_sockets").increment(1.0);
        Ok(Opened {
            session: Session::new(id, Arc::clone(&self.context), user, outbox),
            outbox: receiver,
            registration: Registration {
                rt: Arc::clone(self),
                id,
            },
        })
    }

    fn lock_registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn forget_socket(&self, id: SocketId) {
        let mut registry = self.lock_registry();
        if let Some(gone) = registry.sockets.remove(&id) {
            count_down(&mut registry.per_user, &gone.user);
            count_down(&mut registry.per_address, &gone.address);
            drop(registry);
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
        let registry = self.lock_registry();
        registry
            .sockets
            .values()
            .filter(|r| pick(r))
            .map(|r| r.outbox.close(reason))
            .count()
    }

    /// The user and device of every socket open on this node, each pair once.
    pub fn connected_devices(&self) -> Vec<(UserId, DeviceRowId)> {
        let registry = self.lock_registry();
        let mut pairs: Vec<(UserId, DeviceRowId)> = registry
            .sockets
            .values()
            .map(|r| (r.user, r.device))
            .collect();
        drop(registry);
        pairs.sort_unstable_by_key(|(u, d)| (*u.as_uuid(), *d.as_uuid()));
        pairs.dedup();
        pairs
    }

    /// Sockets counted as open: from [`open`](Self::open) until their registration is
    /// dropped.
    pub fn open_sockets(&self) -> usize {
        self.lock_registry().sockets.len()
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
