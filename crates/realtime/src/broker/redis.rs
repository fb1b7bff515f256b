//! Many nodes as one room: broadcasts travel between nodes over Redis pub/sub (fred).
//!
//! A node delivers a broadcast to its own sockets at once, then publishes it once, in an
//! [`envelope`](super::envelope) naming the node, on the topic's channel. Each node is
//! subscribed to the channels of the topics its own sockets have joined (and only those;
//! the hub says when a topic gains its first or loses its last local subscriber), skips
//! what it published itself, and hands the frame, as received, to its hub. One publisher
//! task sends in order, so broadcasts from one node on one topic keep their order.
//!
//! Redis trouble never stops a node: it connects in the background and reconnects for
//! ever (exponential backoff up to 2 s). While Redis is away, local delivery goes on,
//! broadcasts for other nodes are dropped (and counted; clients recover them with the
//! join's `since`), and subscriptions are made again as soon as it is back.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use fred::clients::SubscriberClient;
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use fred::prelude::{Builder, Client, Config, ReconnectPolicy};
use fred::types::Message;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::envelope::{self, CONTROL_CHANNEL};
use super::sync::SyncBook;
use super::{AccessChange, Broker, deliver_locally};
use crate::frame::Encoded;
use crate::hub::{Hub, SocketId, TopicChange};
use crate::presence::Presence;

/// Broadcasts waiting to be published; past this, while Redis is slow or away, new ones
/// reach only this node's sockets.
const PUBLISH_QUEUE: usize = 65_536;
/// A command Redis has not answered in this long has failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a node says it is alive, and how long a silent node keeps its members:
/// a killed node's members leave every other node's rooms within about 8 s.
const HEARTBEAT: Duration = Duration::from_secs(2);
const NODE_TIMEOUT: Duration = Duration::from_secs(6);
/// Envelope events between nodes that sockets never see.
const HEARTBEAT_EVENT: &str = "heartbeat";
const SYNC_REQUEST: &str = "presence_sync_request";
const SYNC_ANSWER: &str = "presence_sync";
/// Said on the control channel by a node whose connection to Redis is new (a start, or
/// back after an outage): whatever the others think it has, they ask it again.
const HELLO_EVENT: &str = "hello";
/// How often deferred syncs and unanswered asks are looked at.
const HOUSEKEEPING: Duration = Duration::from_millis(250);

/// Why the broker could not be set up (a malformed URL; never an unreachable Redis).
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis setting: {0}")]
pub struct RedisError(String);

/// Whether Redis answers, as the broker last saw it; for readiness and metrics.
#[derive(Debug, Default)]
pub struct BrokerStatus {
    connected: AtomicBool,
    /// Other nodes heard from lately.
    peers: std::sync::atomic::AtomicUsize,
    /// Why the last connection attempt failed, and when that was logged.
    last_error: std::sync::Mutex<Option<(String, Instant)>>,
    /// Told at every connection, the first and each after an outage.
    connections: tokio::sync::Notify,
}

/// A failed connection attempt is logged at once, then, while the same error repeats,
/// at most this often.
const LOG_REPEATED_ERROR: Duration = Duration::from_secs(30);

impl BrokerStatus {
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Waits for the next connection to Redis (or returns at once if one was made since
    /// the last call): what other nodes announced meanwhile may have been lost.
    pub async fn connected_again(&self) {
        self.connections.notified().await;
    }

    /// Why Redis could not be reached, as it said last (a wrong password, something that
    /// is not Redis, a refused connection); `None` while connected.
    pub fn last_error(&self) -> Option<String> {
        if self.is_connected() {
            return None;
        }
        let last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        last.as_ref().map(|(message, _)| message.clone())
    }

    /// Notes a failed attempt; logs it when it is new or not logged for a while.
    fn failed(&self, error: &fred::error::Error) {
        let message = error.to_string();
        let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        let log = match &*last {
            Some((same, at)) if *same == message => at.elapsed() >= LOG_REPEATED_ERROR,
            _ => true,
        };
        if log {
            tracing::warn!(error = %message, "cannot use Redis; trying again");
            *last = Some((message, Instant::now()));
        } else if let Some((same, _)) = &mut *last {
            same.clone_from(&message);
        }
    }

    /// How many other nodes this one has heard from lately (within the node timeout).
    pub fn peers(&self) -> usize {
        self.peers.load(Ordering::Relaxed)
    }

    fn set(&self, connected: bool) {
        if self.connected.swap(connected, Ordering::Relaxed) != connected {
            metrics::gauge!("realtime_broker_connected").set(if connected { 1.0 } else { 0.0 });
            if connected {
                tracing::info!("Redis connected: broadcasts reach the other nodes");
            } else {
                tracing::warn!(
                    "Redis unreachable: serving this node's sockets only until it is back"
                );
            }
        }
    }
}

/// What this node does with an access change another node announced.
type AccessHandler = Box<dyn Fn(AccessChange) + Send + Sync>;

/// The broker of a node among many.
pub struct RedisBroker {
    /// Commands other than subscriptions (publishing, shared rate limits).
    client: Client,
    hub: Arc<Hub>,
    node: Arc<str>,
    outgoing: mpsc::Sender<(String, Bytes)>,
    status: Arc<BrokerStatus>,
    on_access: Arc<std::sync::OnceLock<AccessHandler>>,
    presence: Arc<std::sync::OnceLock<Arc<Presence>>>,
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
    /// and starts connecting in the background; must run inside a tokio runtime.
    pub fn start(url: &str, node: &str, hub: Arc<Hub>) -> Result<Arc<Self>, RedisError> {
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
        let node = incarnation(node);
        let on_access = Arc::new(std::sync::OnceLock::new());
        // Receivers first, so the first connection is not missed.
        let presence = Arc::new(std::sync::OnceLock::new());
        let listener = Listener {
            sharded,
            publisher: publisher.clone(),
            on_access: Arc::clone(&on_access),
            presence: Arc::clone(&presence),
            outgoing: outgoing.clone(),
            last_heard: HashMap::new(),
            wanted: HashSet::new(),
            syncs: SyncBook::default(),
            resync: false,
            messages: subscriber.message_rx(),
            connected: subscriber.reconnect_rx(),
            errors: subscriber.error_rx(),
            subscriber: subscriber.clone(),
            hub: Arc::clone(&hub),
            node: Arc::clone(&node),
            status: Arc::clone(&status),
        };
        tokio::spawn(listener.run());
        tokio::spawn(publish(publisher.clone(), sharded, queue));
        drop(publisher.connect());
        drop(subscriber.connect());
        Ok(Arc::new(Self {
            client: publisher,
            hub,
            node,
            outgoing,
            status,
            on_access,
            presence,
        }))
    }

    /// Rate limits kept in this Redis and shared by every node; `fallback` counts while
    /// Redis does not answer.
    pub fn shared_limiter(
        &self,
        quota: crate::shared_limits::QuotaOf,
        fallback: Arc<dyn domain::limits::RateLimiter>,
    ) -> crate::SharedLimiter {
        crate::SharedLimiter::new(self.client.clone(), quota, fallback)
    }

    /// Tells every other node of an access change made here.
    pub fn announce(&self, change: AccessChange) {
        let message =
            envelope::encode(&self.node, AccessChange::EVENT, change.to_wire().as_bytes());
        if self
            .outgoing
            .try_send((CONTROL_CHANNEL.to_owned(), message))
            .is_err()
        {
            metrics::counter!("realtime_broker_dropped_total").increment(1);
        }
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
        deliver_locally(&self.hub, topic, event, &frame, except);
        let message = envelope::encode(&self.node, event, frame.as_bytes());
        match self.outgoing.try_send((envelope::channel(topic), message)) {
            Ok(()) => {}
            Err(_) => metrics::counter!("realtime_broker_dropped_total").increment(1),
        }
    }

    fn attach_presence(&self, presence: Arc<Presence>) {
        let _ = self.presence.set(presence);
    }
}

/// This node's name on Redis: `<node id>/<incarnation>`, the incarnation new at every
/// start. A node restarted under the same id (a container restarted in place, or PID 1
/// again) is thus a new node to the others, which drop what its previous life held as
/// soon as they hear the new one.
fn incarnation(node: &str) -> Arc<str> {
    // The low bits of a v7 id are random.
    let random = uuid::Uuid::now_v7().as_u128() as u32;
    Arc::from(format!("{node}/{random:08x}"))
}

/// The node id of a name on Redis (`<node id>/<incarnation>`).
fn node_id(name: &str) -> &str {
    name.split_once('/').map_or(name, |(id, _)| id)
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

/// Keeps this node subscribed to the channels of its topics, and delivers what other
/// nodes publish on them.
struct Listener {
    /// Topics on sharded pub/sub (a cluster).
    sharded: bool,
    /// The publishing connection, to know when it is back.
    publisher: Client,
    on_access: Arc<std::sync::OnceLock<AccessHandler>>,
    presence: Arc<std::sync::OnceLock<Arc<Presence>>>,
    /// For sync answers, sync requests and heartbeats.
    outgoing: mpsc::Sender<(String, Bytes)>,
    /// When each other node was last heard from.
    last_heard: HashMap<Arc<str>, Instant>,
    /// The topics this node's sockets are in.
    wanted: HashSet<String>,
    /// Presence syncs asked, answered, deferred and awaited.
    syncs: SyncBook,
    /// Connected anew: say hello and ask about every topic once publishing works.
    resync: bool,
    subscriber: SubscriberClient,
    messages: tokio::sync::broadcast::Receiver<Message>,
    connected: tokio::sync::broadcast::Receiver<fred::types::config::Server>,
    errors:
        tokio::sync::broadcast::Receiver<(fred::error::Error, Option<fred::types::config::Server>)>,
    hub: Arc<Hub>,
    node: Arc<str>,
    status: Arc<BrokerStatus>,
}

impl Listener {
    async fn run(mut self) {
        let Some((existing, mut changes)) = self.hub.watch_topics() else {
            tracing::error!("the hub is already watched; cross-node delivery is off");
            return;
        };
        self.wanted = existing.into_iter().collect();
        // Not a topic, but listened to from the first connection on.
        let control = CONTROL_CHANNEL.to_owned();
        let mut beat = tokio::time::interval(HEARTBEAT);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = beat.tick() => self.heartbeat(),
                _ = housekeeping.tick() => self.housekeeping(),
                change = changes.recv() => match change {
                    Some(TopicChange::Added(topic)) => {
                        let channel = envelope::channel(&topic);
                        if self.subscriber.is_connected() {
                            self.subscribe(vec![channel]).await;
                            self.ask_members(&topic);
                        }
                        self.wanted.insert(topic);
                    }
                    Some(TopicChange::Removed(topic)) => {
                        if let Some(presence) = self.presence.get() {
                            presence.forget_remote(&topic);
                        }
                        self.syncs.forget_topic(&topic);
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
                    self.status.set(true);
                    self.status.connections.notify_one();
                    // Every connection (the first and each after an outage) starts with
                    // no subscriptions: make them all.
                    let channels = self
                        .wanted
                        .iter()
                        .map(|t| envelope::channel(t))
                        .chain(std::iter::once(control.clone()))
                        .collect();
                    self.subscribe(channels).await;
                    // Broadcasts of the other nodes were lost while Redis was away.
                    self.ask_sockets_to_rejoin();
                    // What the other nodes' members are now, whatever was missed, and
                    // what they hold of this node's: once the publishing connection is
                    // back too (it reconnects on its own schedule, and a message sent
                    // before would be dropped).
                    self.resync = true;
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

    /// Says this node is alive, and forgets the members of nodes not heard for too long
    /// (killed, or cut off from Redis): their sockets here see them leave.
    fn heartbeat(&mut self) {
        if self.subscriber.is_connected() {
            self.send(CONTROL_CHANNEL.to_owned(), HEARTBEAT_EVENT, b"");
        }
        let now = Instant::now();
        let silent: Vec<Arc<str>> = self
            .last_heard
            .iter()
            .filter(|(_, at)| now.duration_since(**at) > NODE_TIMEOUT)
            .map(|(node, _)| Arc::clone(node))
            .collect();
        for node in silent {
            tracing::warn!(node = %node, "a node went silent: its members leave");
            self.drop_node(&node);
        }
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

    /// Forgets `node` (silent, or restarted as a new incarnation) and its members.
    fn drop_node(&mut self, node: &str) {
        self.last_heard.remove(node);
        self.status
            .peers
            .store(self.last_heard.len(), Ordering::Relaxed);
        self.syncs.forget_node(node);
        metrics::counter!("realtime_presence_nodes_dropped_total").increment(1);
        if let Some(presence) = self.presence.get() {
            presence.drop_node(node);
        }
    }

    /// Asks the other nodes for their members of `topic` (or soon: asks about one topic
    /// are spaced, see `sync`).
    fn ask_members(&mut self, topic: &str) {
        if self.syncs.ask(topic, Instant::now()) {
            self.send_ask(topic);
        }
    }

    fn send_ask(&self, topic: &str) {
        metrics::counter!("realtime_presence_syncs_total", "step" => "asked").increment(1);
        self.send(envelope::channel(topic), SYNC_REQUEST, b"");
    }

    /// Tells the other nodes this node's members of `topic`, none included.
    fn send_answer(&self, topic: &str) {
        if let Some(presence) = self.presence.get() {
            metrics::counter!("realtime_presence_syncs_total", "step" => "answered").increment(1);
            let members = presence.local_members(topic);
            self.send(envelope::channel(topic), SYNC_ANSWER, members.as_bytes());
        }
    }

    /// Asks about every topic here at once, past the interval: for a node's own news (a
    /// new connection, a node heard again), which clients cannot set off.
    fn ask_about_every_topic(&mut self) {
        let now = Instant::now();
        let topics: Vec<String> = self.wanted.iter().cloned().collect();
        for topic in topics {
            self.syncs.ask_now(&topic, now);
            self.send_ask(&topic);
        }
    }

    /// Deferred asks and answers, the hello after a new connection, and the members of
    /// nodes that did not answer an ask about a topic (they no longer listen to it: their
    /// members there left while the news could not travel).
    fn housekeeping(&mut self) {
        if self.resync && self.publisher.is_connected() {
            self.resync = false;
            self.send(CONTROL_CHANNEL.to_owned(), HELLO_EVENT, b"");
            // Ask what the others have, and tell them what this node has: they may have
            // asked while this node could not hear, or dropped it as silent.
            self.ask_about_every_topic();
            let now = Instant::now();
            let topics: Vec<String> = self.wanted.iter().cloned().collect();
            for topic in topics {
                self.syncs.answer_now(&topic, now);
                self.send_answer(&topic);
            }
        }
        let now = Instant::now();
        let (asks, answers) = self.syncs.due(now);
        for topic in asks.iter().filter(|t| self.wanted.contains(*t)) {
            self.send_ask(topic);
        }
        for topic in answers.iter().filter(|t| self.wanted.contains(*t)) {
            self.send_answer(topic);
        }
        let Some(presence) = self.presence.get() else {
            return;
        };
        for (topic, asked) in self.syncs.overdue(now) {
            for node in presence.remote_nodes(&topic) {
                if self.syncs.silent_since(&topic, &node, asked) {
                    tracing::debug!(node = %node, topic, "no answer about a topic: its members there leave");
                    metrics::counter!("realtime_presence_syncs_total", "step" => "unanswered")
                        .increment(1);
                    presence.forget_node_in(&topic, &node);
                }
            }
        }
    }

    fn send(&self, channel: String, event: &str, body: &[u8]) {
        send(&self.outgoing, &self.node, channel, event, body);
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
                // Newly connected: what this node holds of it may be stale (a node heard
                // for the first time was asked already).
                if !new {
                    self.ask_about_every_topic();
                }
                return;
            }
            _ => {}
        }
        if &*message.channel == CONTROL_CHANNEL {
            let change = std::str::from_utf8(&envelope.frame)
                .ok()
                .and_then(AccessChange::from_wire);
            match (change, self.on_access.get()) {
                (Some(change), Some(handle)) => handle(change),
                (None, _) => metrics::counter!("realtime_broker_malformed_total").increment(1),
                (Some(_), None) => {}
            }
            return;
        }
        let Some(topic) = envelope::topic(&message.channel) else {
            return;
        };
        if let Some(presence) = self.presence.get().cloned() {
            match envelope.event {
                SYNC_REQUEST => {
                    if self.syncs.answer(topic, Instant::now()) {
                        self.send_answer(topic);
                    }
                    return;
                }
                SYNC_ANSWER => {
                    match serde_json::from_slice::<serde_json::Value>(&envelope.frame) {
                        Ok(members) => {
                            metrics::counter!("realtime_presence_syncs_total", "step" => "applied")
                                .increment(1);
                            self.syncs.heard(topic, &from, Instant::now());
                            presence.replace_remote(&from, topic, &members);
                        }
                        Err(_) => metrics::counter!("realtime_broker_malformed_total").increment(1),
                    }
                    return;
                }
                "presence_diff" => {
                    if let Ok(frame) = serde_json::from_slice::<serde_json::Value>(&envelope.frame)
                    {
                        self.syncs.heard(topic, &from, Instant::now());
                        presence.apply_remote_diff(&from, topic, &frame[4]);
                    }
                }
                _ => {}
            }
        }
        let Ok(frame) = ByteString::try_from(envelope.frame) else {
            metrics::counter!("realtime_broker_malformed_total").increment(1);
            return;
        };
        let event = event_label(envelope.event);
        deliver_locally(&self.hub, topic, event, &frame, None);
    }
}

/// Queues a message of this node's for publishing.
fn send(
    outgoing: &mpsc::Sender<(String, Bytes)>,
    node: &str,
    channel: String,
    event: &str,
    body: &[u8],
) {
    let message = envelope::encode(node, event, body);
    if outgoing.try_send((channel, message)).is_err() {
        metrics::counter!("realtime_broker_dropped_total").increment(1);
    }
}

impl Listener {
    /// Notes that `node` is alive; returns its name, shared, and whether it is new. A node
    /// heard for the first time (new, or back after being dropped as silent) is asked for
    /// its members of every topic here: whatever it had, this node does not have it. A new
    /// incarnation of a node id replaces the old one at once, with what the old one held.
    fn heard(&mut self, node: &str) -> (Arc<str>, bool) {
        if let Some(at) = self.last_heard.get_mut(node) {
            *at = Instant::now();
        }
        if let Some((name, _)) = self.last_heard.get_key_value(node) {
            return (Arc::clone(name), false);
        }
        let name: Arc<str> = Arc::from(node);
        let earlier: Vec<Arc<str>> = self
            .last_heard
            .keys()
            .filter(|known| node_id(known) == node_id(node))
            .cloned()
            .collect();
        for old in earlier {
            tracing::info!(node = %old, now = %name, "a node restarted: its previous members leave");
            self.drop_node(&old);
        }
        self.last_heard.insert(Arc::clone(&name), Instant::now());
        self.status
            .peers
            .store(self.last_heard.len(), Ordering::Relaxed);
        self.ask_about_every_topic();
        (name, true)
    }
}

/// Events as metric labels: the ones this server sends, anything else as "other".
fn event_label(event: &str) -> &'static str {
    match event {
        "new_comment" => "new_comment",
        "comment_updated" => "comment_updated",
        "comment_deleted" => "comment_deleted",
        "reaction" => "reaction",
        "presence_diff" => "presence_diff",
        _ => "other",
    }
}
