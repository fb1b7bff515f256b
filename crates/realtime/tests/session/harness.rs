//! A `Realtime` wired to in-memory fakes, clients that speak JSON values, and a model of
//! the phoenix.js `Presence` class to check what a client would end up showing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use domain::comments::Comments;
use domain::limits::{RateLimiter, Unlimited};
use domain::policy::Actor;
use domain::{DeviceRowId, Role, UserId, Username};
use realtime::{
    Broker, CloseReason, Fatal, Hub, LocalBroker, OutboxReceiver, Realtime, RealtimeConfig,
    Registration, Rooms, Session, SocketUser,
};
use serde_json::{Value, json};

use crate::fakes::{MemAudit, MemStore, MemTransactions, SimplePolicy};

pub const TOPIC: &str = "video:v1";

/// The defaults, with a presence window short enough for tests.
pub fn config() -> RealtimeConfig {
    RealtimeConfig {
        presence_window: Duration::from_millis(10),
        ..RealtimeConfig::default()
    }
}

/// One node: the realtime service and the fakes behind it.
pub struct Harness {
    pub rt: Arc<Realtime>,
    pub hub: Arc<Hub>,
    pub store: Arc<MemStore>,
    pub audit: Arc<MemAudit>,
}

impl Harness {
    pub fn new(config: RealtimeConfig) -> Self {
        Self::with(config, Arc::new(Unlimited), SimplePolicy::default())
    }

    pub fn with(
        config: RealtimeConfig,
        limiter: Arc<dyn RateLimiter>,
        policy: SimplePolicy,
    ) -> Self {
        let hub = Arc::new(Hub::new());
        let broker: Arc<dyn Broker> = Arc::new(LocalBroker::new(hub.clone()));
        let rooms = Rooms::new(hub.clone(), broker, None, &config);
        let store = Arc::new(MemStore::default());
        let audit = Arc::new(MemAudit::default());
        let comments = Comments::new(
            store.clone(),
            Arc::new(policy),
            limiter,
            rooms.feed(),
            Arc::new(MemTransactions {
                store: store.clone(),
                audit: audit.clone(),
            }),
        );
        let rt = Realtime::new(rooms, comments, config);
        Self {
            rt,
            hub,
            store,
            audit,
        }
    }

    /// A new user (own id, own device) whose username the store knows.
    pub fn user(&self, name: &str) -> SocketUser {
        self.user_with(
            name,
            UserId::generate(),
            DeviceRowId::generate(),
            Role::User,
        )
    }

    pub fn user_with(
        &self,
        name: &str,
        user_id: UserId,
        device: DeviceRowId,
        role: Role,
    ) -> SocketUser {
        self.store.name(user_id, name);
        SocketUser {
            actor: Actor {
                user_id,
                device,
                role,
                username: Username::parse(name).unwrap(),
            },
            device_id: format!("{name}-phone"),
        }
    }

    pub fn open(&self, user: &SocketUser) -> Client {
        let opened = self
            .rt
            .open(user.clone(), std::net::Ipv4Addr::LOCALHOST.into())
            .expect("under the socket limits");
        Client {
            session: opened.session,
            rx: opened.outbox,
            _registration: opened.registration,
            user: user.clone(),
        }
    }

    /// Opens a socket for a new user and joins `TOPIC` with join_ref "1".
    pub async fn joined(&self, name: &str) -> Client {
        let mut client = self.open(&self.user(name));
        let out = client.join(TOPIC, "1").await;
        assert_eq!(out[0][4]["status"], "ok", "{out:?}");
        client
    }
}

/// One socket, seen from the client side.
pub struct Client {
    pub session: Session,
    pub rx: OutboxReceiver,
    _registration: Registration,
    pub user: SocketUser,
}

fn not_stats(frame: &Value) -> bool {
    frame[3] != "room_stats"
}

pub fn parse(frame: &str) -> Value {
    serde_json::from_str(frame).unwrap_or_else(|e| panic!("server sent bad JSON {frame}: {e}"))
}

impl Client {
    /// The presence key of this client's user.
    pub fn key(&self) -> String {
        self.user.actor.user_id.to_string()
    }

    /// Sends one text frame; returns what the session answers right away, `room_stats`
    /// left out (the tests of a room's counts and modes look at it with
    /// [`send_all`](Self::send_all) and [`drain_all`](Self::drain_all); everything else
    /// is as it was before rooms had stats).
    pub async fn send_text(&mut self, text: &str) -> Result<Vec<Value>, Fatal> {
        let out = self.session.receive(text).await?;
        Ok(out.iter().map(|f| parse(f)).filter(not_stats).collect())
    }

    /// Sends one frame that must not be fatal; everything it answers.
    pub async fn send_all(&mut self, frame: Value) -> Vec<Value> {
        let text = frame.to_string();
        let out = self.session.receive(&text).await;
        let out = out.unwrap_or_else(|e| panic!("{text} was fatal: {e:?}"));
        out.iter().map(|f| parse(f)).collect()
    }

    /// Sends one frame that must not be fatal.
    pub async fn send(&mut self, frame: Value) -> Vec<Value> {
        let text = frame.to_string();
        self.send_text(&text)
            .await
            .unwrap_or_else(|e| panic!("{text} was fatal: {e:?}"))
    }

    pub async fn join(&mut self, topic: &str, join_ref: &str) -> Vec<Value> {
        self.send(json!([join_ref, join_ref, topic, "phx_join", {}]))
            .await
    }

    pub async fn join_with(&mut self, topic: &str, join_ref: &str, params: Value) -> Vec<Value> {
        self.send(json!([join_ref, join_ref, topic, "phx_join", params]))
            .await
    }

    /// Every frame queued for this socket (broadcasts), without waiting, `room_stats`
    /// left out.
    pub fn drain(&mut self) -> Vec<Value> {
        self.drain_all().into_iter().filter(not_stats).collect()
    }

    /// Every frame queued for this socket, without waiting.
    pub fn drain_all(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(frame) = self.rx.try_next() {
            out.push(parse(&frame));
        }
        out
    }

    /// The queued frames with this event.
    pub fn drain_event(&mut self, event: &str) -> Vec<Value> {
        self.drain().into_iter().filter(|f| f[3] == event).collect()
    }

    pub fn kicked(&self) -> Option<CloseReason> {
        self.rx.kicked()
    }
}

/// Lets every pending presence flush run (tests run with paused time, so this is instant).
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The presence list as phoenix.js (1.8.16 `Presence`) would hold it: key -> metas.
#[derive(Debug, Default)]
pub struct PresenceView {
    pub state: BTreeMap<String, Vec<Value>>,
}

fn entries(payload: &Value) -> BTreeMap<String, Vec<Value>> {
    payload
        .as_object()
        .unwrap_or_else(|| panic!("presence map is not an object: {payload}"))
        .iter()
        .map(|(k, v)| {
            let metas = v["metas"]
                .as_array()
                .unwrap_or_else(|| panic!("no metas list under {k}: {v}"))
                .clone();
            (k.clone(), metas)
        })
        .collect()
}

impl PresenceView {
    /// Applies a `presence_state` or `presence_diff` frame; ignores others.
    pub fn apply(&mut self, frame: &Value) {
        match frame[3].as_str() {
            // syncState ends with the same refs per key as the new state.
            Some("presence_state") => self.state = entries(&frame[4]),
            Some("presence_diff") => {
                for (key, joined) in entries(&frame[4]["joins"]) {
                    let refs: Vec<&Value> = joined.iter().map(|m| &m["phx_ref"]).collect();
                    let mut metas: Vec<Value> = self
                        .state
                        .get(&key)
                        .map(|current| {
                            current
                                .iter()
                                .filter(|m| !refs.contains(&&m["phx_ref"]))
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default();
                    metas.extend(joined.iter().cloned());
                    self.state.insert(key, metas);
                }
                for (key, left) in entries(&frame[4]["leaves"]) {
                    let refs: Vec<&Value> = left.iter().map(|m| &m["phx_ref"]).collect();
                    if let Some(current) = self.state.get_mut(&key) {
                        current.retain(|m| !refs.contains(&&m["phx_ref"]));
                        if current.is_empty() {
                            self.state.remove(&key);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    pub fn apply_all<'a>(&mut self, frames: impl IntoIterator<Item = &'a Value>) {
        for frame in frames {
            self.apply(frame);
        }
    }

    pub fn keys(&self) -> Vec<String> {
        self.state.keys().cloned().collect()
    }

    /// The phx_refs listed under `key`.
    pub fn refs(&self, key: &str) -> Vec<String> {
        self.state.get(key).map_or_else(Vec::new, |metas| {
            metas
                .iter()
                .map(|m| m["phx_ref"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
    }
}
