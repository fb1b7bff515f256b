//! Many nodes as one room: broadcasts travel between nodes over Redis pub/sub (fred).
//!
//! A node delivers a broadcast to its own sockets at once, then publishes it once, in an
//! [`envelope`](super::envelope) naming the node, on the topic's channel. Each node is
//! subscribed to the channels of the topics its own sockets have joined (and only those;
//! the hub says when a topic gains its first or loses its last local subscriber), skips
//! what it published itself, and hands the frame, as received, to its hub (the
//! [`listener`]). One publisher task sends in order, so broadcasts from one node on one
//! topic keep their order.
//!
//! Redis trouble never stops a node: it connects in the background and reconnects for
//! ever (exponential backoff up to 2 s). While Redis is away, local delivery goes on,
//! broadcasts for other nodes are dropped (and counted; clients recover them with the
//! join's `after`), and subscriptions are made again as soon as it is back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use fred::prelude::{Builder, Client, Config, ReconnectPolicy};
use tokio::sync::mpsc;

use super::envelope::{self, CONTROL_CHANNEL};
use super::listener::{AccessHandler, Listener};
use super::peers::{Newsroom, Peers};
use super::status::BrokerStatus;
use super::{AccessChange, Broker, NodeMessage};
use crate::frame::Encoded;
use crate::hub::{Hub, SocketId};

/// Broadcasts waiting to be published; past this, while Redis is slow or away, new ones
/// reach only this node's sockets.
const PUBLISH_QUEUE: usize = 65_536;
/// A command Redis has not answered in this long has failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the broker could not be set up (a malformed URL; never an unreachable Redis).
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis setting: {0}")]
pub struct RedisError(String);

/// Messages on their way to Redis: (channel, envelope).
pub(super) type Outgoing = mpsc::Sender<(String, Bytes)>;

/// The broker of a node among many.
pub struct RedisBroker {
    /// Commands other than subscriptions (publishing, shared rate limits).
    client: Client,
    hub: Arc<Hub>,
    node: Arc<str>,
    outgoing: Outgoing,
    status: Arc<BrokerStatus>,
    on_access: Arc<std::sync::OnceLock<AccessHandler>>,
}

impl std::fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBroker")
            .field("node", &self.node)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl RedisBroker {
    /// Sets up the clients for `url` (`redis://` or `rediss://`, a password in it works)
    /// and starts connecting in the background; must run inside a tokio runtime. The
    /// [`Peers`] tell what the broker hears of the other nodes (presence reads them).
    pub fn start(url: &str, node: &str, hub: Arc<Hub>) -> Result<(Arc<Self>, Peers), RedisError> {
        let config = Config::from_url(url).map_err(|e| RedisError(e.to_string()))?;
        // A cluster URL (`redis-cluster://`): topics use sharded pub/sub, so fanout traffic
        // spreads over the shards instead of every shard carrying every message.
        let sharded = config.server.is_clustered();
        let mut builder = Builder::from_config(config);
        builder
            .with_performance_config(|p| {
                p.default_command_timeout = COMMAND_TIMEOUT;
                // Messages are handed over in a broadcast channel: room for bursts.
                p.broadcast_channel_capacity = 1 << 16;
            })
            .with_connection_config(|c| {
                c.connection_timeout = COMMAND_TIMEOUT;
                c.internal_command_timeout = COMMAND_TIMEOUT;
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
        let publisher = builder.build().map_err(|e| RedisError(e.to_string()))?;
        let subscriber = builder
            .build_subscriber_client()
            .map_err(|e| RedisError(e.to_string()))?;
        let status = Arc::new(BrokerStatus::default());
        metrics::gauge!("realtime_broker_connected").set(0.0);
        let (outgoing, queue) = mpsc::channel(PUBLISH_QUEUE);
        let node = super::liveness::incarnation(node);
        let on_access = Arc::new(std::sync::OnceLock::new());
        let (newsroom, peers) = Newsroom::new();
        // Receivers first, so the first connection is not missed.
        let listener = Listener {
            sharded,
            publisher: publisher.clone(),
            on_access: Arc::clone(&on_access),
            outgoing: outgoing.clone(),
            liveness: super::liveness::Liveness::default(),
            wanted: std::collections::HashSet::new(),
            relinked: false,
            messages: subscriber.message_rx(),
            connected: subscriber.reconnect_rx(),
            errors: subscriber.error_rx(),
            subscriber: subscriber.clone(),
            hub: Arc::clone(&hub),
            node: Arc::clone(&node),
            status: Arc::clone(&status),
            news: newsroom,
        };
        tokio::spawn(listener.run());
        tokio::spawn(publish(publisher.clone(), sharded, queue));
        drop(publisher.connect());
        drop(subscriber.connect());
        let broker = Arc::new(Self {
            client: publisher,
            hub,
            node,
            outgoing,
            status,
            on_access,
        });
        Ok((broker, peers))
    }

    /// Rate limits kept in this Redis and shared by every node; `fallback` counts while
    /// Redis does not answer.
    pub fn shared_limiter(
        &self,
        quota: crate::shared_limits::QuotaOf,
        fallback: Arc<dyn domain::limits::RateLimiter>,
    ) -> crate::shared_limits::SharedLimiter {
        crate::shared_limits::SharedLimiter::new(self.client.clone(), quota, fallback)
    }

    /// Tells every other node of an access change made here.
    pub fn announce(&self, change: AccessChange) {
        let body = change.to_wire();
        send(
            &self.outgoing,
            &self.node,
            CONTROL_CHANNEL.to_owned(),
            AccessChange::EVENT,
            body.as_bytes(),
        );
    }

    /// Sets what this node does with the access changes other nodes announce (once).
    pub fn on_access_change(&self, handler: impl Fn(AccessChange) + Send + Sync + 'static) {
        if self.on_access.set(Box::new(handler)).is_err() {
            tracing::warn!("an access-change handler was already set; the new one is ignored");
        }
    }

    /// Whether Redis answers now.
    pub fn status(&self) -> Arc<BrokerStatus> {
        Arc::clone(&self.status)
    }
}

impl Broker for RedisBroker {
    fn publish(&self, topic: &str, event: &'static str, frame: Encoded, except: Option<SocketId>) {
        self.hub.deliver(topic, event, &frame, except);
        let message = envelope::encode(&self.node, event, frame.as_bytes());
        if self
            .outgoing
            .try_send((envelope::channel(topic), message))
            .is_err()
        {
            metrics::counter!("realtime_broker_dropped_total").increment(1);
        }
    }

    fn publish_held(&self, topic: &str, author: domain::UserId, frame: Encoded) {
        self.hub.deliver_held(topic, author, &frame);
        let event = format!("{}{author}", envelope::HELD_EVENT);
        send(
            &self.outgoing,
            &self.node,
            envelope::channel(topic),
            &event,
            frame.as_bytes(),
        );
    }

    fn tell_nodes(&self, topic: &str, message: NodeMessage) {
        let event = format!("{}{}", envelope::NODE_EVENT, message.kind);
        send(
            &self.outgoing,
            &self.node,
            envelope::channel(topic),
            &event,
            &message.body,
        );
    }
}

/// Queues a message of this node's for publishing.
pub(super) fn send(outgoing: &Outgoing, node: &str, channel: String, event: &str, body: &[u8]) {
    let message = envelope::encode(node, event, body);
    if outgoing.try_send((channel, message)).is_err() {
        metrics::counter!("realtime_broker_dropped_total").increment(1);
    }
}

/// Publishes queued broadcasts one after another (so their order holds).
async fn publish(client: Client, sharded: bool, mut queue: mpsc::Receiver<(String, Bytes)>) {
    while let Some((channel, message)) = queue.recv().await {
        if !client.is_connected() {
            // Not worth the wait for a timeout: nobody else hears it now.
            metrics::counter!("realtime_broker_dropped_total").increment(1);
            continue;
        }
        let started = Instant::now();
        // On a cluster a topic's messages stay on the shard that owns its channel
        // (SPUBLISH); the control channel reaches every node of every shard.
        let published = if sharded && channel != CONTROL_CHANNEL {
            client.spublish::<i64, _, _>(channel, message).await
        } else {
            client.publish::<i64, _, _>(channel, message).await
        };
        match published {
            Ok(_) => {
                metrics::counter!("realtime_broker_published_total").increment(1);
                metrics::histogram!("realtime_broker_publish_duration_seconds")
                    .record(started.elapsed().as_secs_f64());
            }
            Err(e) => {
                metrics::counter!("realtime_broker_dropped_total").increment(1);
                tracing::debug!(error = %e, "a broadcast was not published");
            }
        }
    }
}
