//! The Broker carries broadcasts between nodes and tells who else is there. Every node
//! publishes through it and delivers what it receives to its own subscribers:
//! `LocalBroker` is the single-node case (straight to this node's hub), `RedisBroker` many
//! nodes over Redis pub/sub. Besides broadcasts for sockets, nodes send each other
//! [`NodeMessage`]s about a topic; what a node hears of the others (who is alive, what
//! they say) comes out of the broker as [`PeerNews`], for presence to keep its members by.

mod access;
mod envelope;
mod listener;
mod liveness;
mod peers;
mod probe;
mod redis;
mod status;

use bytes::Bytes;
use domain::UserId;

use crate::frame::Encoded;
use crate::hub::{Hub, SocketId};

pub use access::AccessChange;
pub use peers::{PeerNews, Peers};
pub use probe::probe as probe_redis;
pub use redis::{RedisBroker, RedisError};
pub use status::BrokerStatus;

/// A message from one node to the other nodes listening to a topic, never seen by a
/// socket: `kind` means something to whoever sent it (presence's asks, answers and
/// changes), `body` is theirs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeMessage {
    pub kind: &'static str,
    pub body: Bytes,
}

/// Publishes pre-serialized frames on a topic.
pub trait Broker: Send + Sync + std::fmt::Debug {
    /// Delivers `frame` (a broadcast of `event`) to every subscriber of `topic` on every
    /// node, except the socket `except` (on this node).
    fn publish(&self, topic: &str, event: &'static str, frame: Encoded, except: Option<SocketId>);

    /// Delivers `frame`, a comment a large room held back, to its author's sockets and
    /// the room's moderators on every node.
    fn publish_held(&self, topic: &str, author: UserId, frame: Encoded);

    /// Sends `message` to the other nodes listening to `topic` (one node has none).
    fn tell_nodes(&self, _topic: &str, _message: NodeMessage) {}
}

/// One node: publishing is delivering to the local hub.
#[derive(Debug)]
pub struct LocalBroker {
    hub: std::sync::Arc<Hub>,
}

impl LocalBroker {
    pub fn new(hub: std::sync::Arc<Hub>) -> Self {
        Self { hub }
    }
}

impl Broker for LocalBroker {
    fn publish(&self, topic: &str, event: &'static str, frame: Encoded, except: Option<SocketId>) {
        self.hub.deliver(topic, event, &frame, except);
    }

    fn publish_held(&self, topic: &str, author: UserId, frame: Encoded) {
        self.hub.deliver_held(topic, author, &frame);
    }
}
