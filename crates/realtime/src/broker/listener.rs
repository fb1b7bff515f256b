//! The receiving side of the Redis broker: keeps this node subscribed to the channels of
//! the topics its sockets are in, hands what other nodes publish there to the hub, says
//! this node is alive and notes who else is ([`liveness`](super::liveness)), and tells
//! what it learns of the other nodes as [`PeerNews`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use fred::clients::SubscriberClient;
use fred::interfaces::{ClientLike, PubsubInterface};
use fred::prelude::Client;
use fred::types::Message;
use tokio::sync::broadcast::error::RecvError;

use super::AccessChange;
use super::envelope::{self, CONTROL_CHANNEL};
use super::liveness::{HEARTBEAT, Heard, Liveness};
use super::peers::{Newsroom, PeerNews};
use super::redis::{Outgoing, send};
use super::status::BrokerStatus;
use crate::hub::{Hub, TopicChange};

/// Control-channel events about liveness, never seen by sockets.
const HEARTBEAT_EVENT: &str = "heartbeat";
/// Said by a node whose connection to Redis is new (a start, or back after an outage):
/// whatever the others think it has, they ask it again.
const HELLO_EVENT: &str = "hello";
/// How often a link that came back is looked at (its hello waits for the publishing
/// connection, which reconnects on its own schedule).
const RELINK_CHECK: Duration = Duration::from_millis(250);

/// What this node does with an access change another node announced.
pub(super) type AccessHandler = Box<dyn Fn(AccessChange) + Send + Sync>;

pub(super) struct Listener {
    /// Topics on sharded pub/sub (a cluster).
    pub sharded: bool,
    /// The publishing connection, to know when it is back.
    pub publisher: Client,
    pub on_access: Arc<std::sync::OnceLock<AccessHandler>>,
    /// For heartbeats and hellos.
    pub outgoing: Outgoing,
    pub liveness: Liveness,
    /// The topics this node's sockets are in.
    pub wanted: HashSet<String>,
    /// Connected anew: say hello and tell [`PeerNews::Linked`] once publishing works.
    pub relinked: bool,
    pub subscriber: SubscriberClient,
    pub messages: tokio::sync::broadcast::Receiver<Message>,
    pub connected: tokio::sync::broadcast::Receiver<fred::types::config::Server>,
    pub errors:
        tokio::sync::broadcast::Receiver<(fred::error::Error, Option<fred::types::config::Server>)>,
    pub hub: Arc<Hub>,
    pub node: Arc<str>,
    pub status: Arc<BrokerStatus>,
    pub news: Newsroom,
}

impl Listener {
    pub async fn run(mut self) {
        let Some((existing, mut changes)) = self.hub.watch_topics() else {
            tracing::error!("the hub is already watched; cross-node delivery is off");
            return;
        };
        for topic in existing {
            self.news.tell(PeerNews::Listening {
                topic: topic.clone(),
                linked: false,
            });
            self.wanted.insert(topic);
        }
        let mut beat = tokio::time::interval(HEARTBEAT);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut relink = tokio::time::interval(RELINK_CHECK);
        relink.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = beat.tick() => self.heartbeat(),
                _ = relink.tick() => self.say_hello_when_linked(),
                change = changes.recv() => match change {
                    Some(TopicChange::Added(topic)) => self.listen(topic).await,
                    Some(TopicChange::Removed(topic)) => self.stop_listening(topic).await,
                    None => return,
                },
                message = self.messages.recv() => match message {
                    Ok(message) => self.deliver(message),
                    Err(RecvError::Lagged(missed)) => {
                        metrics::counter!("realtime_broker_lagged_total").increment(missed);
                        tracing::warn!(missed, "fell behind Redis: broadcasts were missed");
                        self.ask_sockets_to_rejoin();
                    }
                    Err(RecvError::Closed) => return,
                },
                connected = self.connected.recv() => {
                    if matches!(connected, Err(RecvError::Closed)) {
                        return;
                    }
                    self.on_connected().await;
                }
                error = self.errors.recv() => {
                    let error = match error {
                        Err(RecvError::Closed) => return,
                        Err(RecvError::Lagged(_)) => continue,
                        Ok((error, _)) => error,
                    };
                    if !self.subscriber.is_connected() {
                        self.status.set(false);
                        self.status.failed(&error);
                    }
                }
            }
        }
    }

    async fn listen(&mut self, topic: String) {
        let linked = self.subscriber.is_connected();
        if linked {
            self.subscribe(vec![envelope::channel(&topic)]).await;
        }
        self.wanted.insert(topic.clone());
        self.news.tell(PeerNews::Listening { topic, linked });
    }

    async fn stop_listening(&mut self, topic: String) {
        self.news.tell(PeerNews::NotListening(topic.clone()));
        self.wanted.remove(&topic);
        if self.subscriber.is_connected() {
            let channel = envelope::channel(&topic);
            let left = if self.sharded {
                self.subscriber.sunsubscribe(channel).await
            } else {
                self.subscriber.unsubscribe(channel).await
            };
            if let Err(e) = left {
                tracing::debug!(error = %e, "unsubscribe failed");
            }
        }
    }

    /// Every connection (the first and each after an outage) starts with no
    /// subscriptions: make them all, and tell the sockets that broadcasts may be lost.
    async fn on_connected(&mut self) {
        self.status.set(true);
        self.status.connections.notify_one();
        let channels = self
            .wanted
            .iter()
            .map(|t| envelope::channel(t))
            .chain(std::iter::once(CONTROL_CHANNEL.to_owned()))
            .collect();
        self.subscribe(channels).await;
        // Broadcasts of the other nodes were lost while Redis was away.
        self.ask_sockets_to_rejoin();
        // Hello, and the news, once the publishing connection is back too (a message
        // sent before would be dropped).
        self.relinked = true;
    }

    async fn subscribe(&self, channels: Vec<String>) {
        if channels.is_empty() {
            return;
        }
        let done = if self.sharded {
            // One at a time: SSUBSCRIBE takes channels of one slot only. The control
            // channel stays on classic pub/sub, which reaches every shard.
            let mut done = Ok(());
            for channel in channels {
                let result = if channel == CONTROL_CHANNEL {
                    self.subscriber.subscribe(channel).await
                } else {
                    self.subscriber.ssubscribe(channel).await
                };
                done = done.and(result);
            }
            done
        } else {
            self.subscriber.subscribe(channels).await
        };
        if let Err(e) = done {
            // Made again on the next connection.
            tracing::warn!(error = %e, "subscribing on Redis failed");
        }
    }

    /// Says this node is alive, and forgets the nodes not heard for too long (killed, or
    /// cut off from Redis).
    fn heartbeat(&mut self) {
        if self.subscriber.is_connected() {
            self.send_control(HEARTBEAT_EVENT);
        }
        for node in self.liveness.silent(Instant::now()) {
            tracing::warn!(node = %node, "a node went silent: its members leave");
            self.departed(node);
        }
    }

    fn say_hello_when_linked(&mut self) {
        if self.relinked && self.publisher.is_connected() {
            self.relinked = false;
            self.send_control(HELLO_EVENT);
            self.news.tell(PeerNews::Linked);
        }
    }

    fn send_control(&self, event: &str) {
        send(
            &self.outgoing,
            &self.node,
            CONTROL_CHANNEL.to_owned(),
            event,
            b"",
        );
    }

    /// Sends `phx_error` on every channel of this node's sockets: broadcasts from other
    /// nodes may have been lost (Redis was away, or this node fell behind it), and
    /// phoenix.js answers by rejoining with its `after`, which replays what was stored
    /// meanwhile from MariaDB. Sent once subscribed again, so nothing falls between the
    /// replay and what arrives live. (A `null` join ref reaches every channel instance.)
    fn ask_sockets_to_rejoin(&self) {
        for topic in &self.wanted {
            let frame =
                crate::frame::encode_raw(&serde_json::Value::Null, topic, "phx_error", "{}");
            let sockets = self.hub.broadcast(topic, &frame, None);
            metrics::counter!("realtime_rejoins_asked_total").increment(sockets as u64);
        }
        if !self.wanted.is_empty() {
            tracing::info!(
                rooms = self.wanted.len(),
                "asked this node's sockets to rejoin their rooms: broadcasts may have been missed"
            );
        }
    }

    fn departed(&mut self, node: Arc<str>) {
        self.status.set_peers(self.liveness.count());
        self.news.tell(PeerNews::Departed(node));
    }

    /// Notes that `node` is alive; returns its name, shared, and whether it is new. A new
    /// incarnation of a node id replaces the old one at once.
    fn heard(&mut self, node: &str) -> (Arc<str>, bool) {
        match self.liveness.heard(node, Instant::now()) {
            Heard::Known(name) => (name, false),
            Heard::New { node, replaces } => {
                for old in replaces {
                    tracing::info!(node = %old, now = %node, "a node restarted: its previous members leave");
                    self.departed(old);
                }
                self.status.set_peers(self.liveness.count());
                self.news.tell(PeerNews::Arrived(Arc::clone(&node)));
                (node, true)
            }
        }
    }

    fn deliver(&mut self, message: Message) {
        let Some(bytes) = message.value.as_bytes().map(Bytes::copy_from_slice) else {
            return;
        };
        let Some(envelope) = envelope::decode(&bytes) else {
            metrics::counter!("realtime_broker_malformed_total").increment(1);
            return;
        };
        if envelope.node == &*self.node {
            return;
        }
        metrics::counter!("realtime_broker_received_total").increment(1);
        let (from, new) = self.heard(envelope.node);
        match envelope.event {
            HEARTBEAT_EVENT => return,
            HELLO_EVENT => {
                // A node heard for the first time was told as arrived already.
                if !new {
                    self.news.tell(PeerNews::Relinked(from));
                }
                return;
            }
            _ => {}
        }
        if &*message.channel == CONTROL_CHANNEL {
            self.access_change(&envelope.frame);
            return;
        }
        let Some(topic) = envelope::topic(&message.channel) else {
            return;
        };
        if let Some(kind) = envelope.event.strip_prefix(envelope::NODE_EVENT) {
            self.news.tell(PeerNews::Message {
                from,
                topic: topic.to_owned(),
                kind: kind.to_owned(),
                body: envelope.frame,
            });
            return;
        }
        let held = envelope.event.strip_prefix(envelope::HELD_EVENT);
        let event = crate::events::label(envelope.event);
        let Ok(frame) = ByteString::try_from(envelope.frame) else {
            metrics::counter!("realtime_broker_malformed_total").increment(1);
            return;
        };
        match held.map(|author| author.parse::<domain::UserId>()) {
            None => self.hub.deliver(topic, event, &frame, None),
            Some(Ok(author)) => self.hub.deliver_held(topic, author, &frame),
            Some(Err(_)) => metrics::counter!("realtime_broker_malformed_total").increment(1),
        }
    }

    fn access_change(&self, body: &[u8]) {
        let change = std::str::from_utf8(body)
            .ok()
            .and_then(AccessChange::from_wire);
        match (change, self.on_access.get()) {
            (Some(change), Some(handle)) => handle(change),
            (None, _) => metrics::counter!("realtime_broker_malformed_total").increment(1),
            (Some(_), None) => {}
        }
    }
}
