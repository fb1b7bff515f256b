//! The Broker carries broadcasts between nodes. Every node publishes through it and
//! delivers what it receives to its own subscribers: `LocalBroker` is the single-node
//! case (straight to this node's hub), `RedisBroker` many nodes over Redis pub/sub.

mod access;
mod envelope;
mod probe;
mod redis;
mod sync;

use std::sync::Arc;

use crate::frame::Encoded;
use crate::hub::{Hub, SocketId};

pub use access::AccessChange;
pub use probe::probe as probe_redis;
pub use redis::{BrokerStatus, RedisBroker, RedisError};

/// Hands `frame` to this node's subscribers of `topic` (but `except`), counted by event.
pub(crate) fn deliver_locally(
    hub: &Hub,
    topic: &str,
    event: &'static str,
    frame: &Encoded,
    except: Option<SocketId>,
) {
    let delivered = hub.broadcast(topic, frame, except);
    metrics::counter!("realtime_deliveries_total", "event" => event).increment(delivered as u64);
}

/// Publishes pre-serialized frames on a topic.
pub trait Broker: Send + Sync + std::fmt::Debug {
    /// Delivers `frame` (a broadcast of `event`) to every subscriber of `topic` on every
    /// node, except the socket `except` (on this node).
    fn publish(&self, topic: &str, event: &'static str, frame: Encoded, except: Option<SocketId>);

    /// Gives the broker this node's presence, to keep up to date with the other nodes'
    /// members (a broker of one node has none to tell it of).
    fn attach_presence(&self, _presence: Arc<crate::Presence>) {}
}

/// One node: publishing is delivering to the local hub.
#[derive(Debug)]
pub struct LocalBroker {
    hub: Arc<Hub>,
}

impl LocalBroker {
    pub fn new(hub: Arc<Hub>) -> Self {
        Self { hub }
    }
}

impl Broker for LocalBroker {
    fn publish(&self, topic: &str, event: &'static str, frame: Encoded, except: Option<SocketId>) {
        deliver_locally(&self.hub, topic, event, &frame, except);
    }
}
