//! Presence in the Phoenix.Presence wire format: one key per user, one meta per connection
//! (each with its own `phx_ref`). Changes are coalesced per topic into one `presence_diff`
//! per short window, so a room of N that N users join costs about N frames per window
//! rather than N²/2. The window grows with the room (see [`window_for`]), so presence in
//! a room of any size costs about the same number of frames per second. The state a joiner
//! receives is the snapshot as of the last flush; every later change reaches it as a diff
//! (phoenix.js ignores joins it already has).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde_json::Value;

use crate::broker::{Broker, NodeMessage};
use crate::events::{PRESENCE_DIFF, PRESENCE_STATE};
use crate::frame::{self, Encoded};
use metas::{Meta, Metas, diff_json, metas_json, remove_ref};

mod cluster;
mod large;
mod member;
mod metas;
mod replica;
mod sync;

pub(crate) use cluster::{HOUSEKEEPING, MemberSync};
pub(crate) use large::Headcount;
pub use member::{Connection, Member};

#[derive(Debug, Default)]
struct TopicState {
    /// This node's members.
    live: Metas,
    /// Other nodes' members, as their diffs and syncs said (see `replica`).
    remote: HashMap<Arc<str>, Metas>,
    joins: Metas,
    leaves: Metas,
    /// Metas in `live`.
    members: usize,
    /// `live` as of the last flush, serialized.
    snapshot: Option<Arc<str>>,
    /// `presence_state` frames made from `snapshot`, by join ref: joiners mostly share a
    /// few join refs (phoenix.js numbers a fresh socket's pushes from 1), and in a big room
    /// the state is megabytes, so it is framed once per ref rather than once per joiner.
    state_frames: Vec<(Value, Encoded)>,
    flush_scheduled: bool,
    /// A large room: only this node's members are kept, and no diffs go out (see
    /// `large`).
    large: bool,
}

/// Rooms up to this many members get a `presence_state` made for each joiner, exact and
/// with the joiner in it (about 30 KB at most); bigger rooms share a cached one.
const EXACT_STATE_MEMBERS: usize = 200;

/// Join refs whose `presence_state` frame is kept per snapshot.
const STATE_FRAMES_KEPT: usize = 4;

/// Rooms up to this size flush every `window`; bigger rooms flush less often, in
/// proportion, so every room sends about the same number of presence frames per second.
const MEMBERS_PER_WINDOW: usize = 1000;
/// The longest a presence change waits, whatever the room size, in windows.
const MAX_WINDOWS: u32 = 20;

/// How long changes in a room of `members` are coalesced: `window` up to 1,000 members,
/// then one more `window` per 1,000 (500 ms for 10,000 with the default 50 ms), at most
/// 20 windows.
fn window_for(window: Duration, members: usize) -> Duration {
    let scale = (members / MEMBERS_PER_WINDOW).clamp(1, MAX_WINDOWS as usize) as u32;
    window * scale
}

/// Told when a member's connections in a room may have changed: on this node, or because
/// another node was dropped with its members. Called with the presence lock released;
/// must not block.
pub trait PresenceObserver: Send + Sync {
    fn changed(&self, topic: &str, key: &str);
}

/// Who is in which room.
#[derive(Debug)]
pub struct Presence {
    topics: Mutex<HashMap<String, TopicState>>,
    broker: Arc<dyn Broker>,
    /// This node's sockets, for what only they must hear (other nodes' members learnt
    /// from a sync, or dropped with their node).
    hub: Arc<crate::hub::Hub>,
    window: Duration,
    counter: AtomicU64,
    node: u32,
    observer: OnceLock<Arc<dyn PresenceObserver>>,
    /// Topics whose headcount may have changed since the audience last looked.
    recount: Mutex<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for dyn PresenceObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PresenceObserver")
    }
}

/// Every member this node knows of: its own and the other nodes'.
fn all_metas(state: &TopicState) -> String {
    if state.remote.values().all(BTreeMap::is_empty) {
        return metas_json(&state.live);
    }
    let mut all = state.live.clone();
    for metas in state.remote.values() {
        for (key, list) in metas {
            all.entry(key.clone())
                .or_default()
                .extend(list.iter().cloned());
        }
    }
    metas_json(&all)
}

/// The snapshot, made now if nothing was flushed yet (everything live is then also
/// pending, so either is right).
fn current_snapshot(state: &mut TopicState) -> Arc<str> {
    if state.snapshot.is_none() {
        state.snapshot = Some(Arc::from(all_metas(state)));
    }
    state.snapshot.clone().unwrap_or_else(|| Arc::from("{}"))
}

impl Presence {
    pub fn new(broker: Arc<dyn Broker>, hub: Arc<crate::hub::Hub>, window: Duration) -> Arc<Self> {
        let node = std::process::id() ^ (chrono::Utc::now().timestamp_subsec_nanos());
        Arc::new(Self {
            topics: Mutex::new(HashMap::new()),
            broker,
            hub,
            window,
            counter: AtomicU64::new(0),
            node,
            observer: OnceLock::new(),
            recount: Mutex::default(),
        })
    }

    /// Sets the one observer of member changes (the Firebase mirror); later calls are
    /// ignored.
    pub fn observe(&self, observer: Arc<dyn PresenceObserver>) {
        let _ = self.observer.set(observer);
    }

    /// Notes that `topic`'s headcount may have changed.
    pub(crate) fn recount_later(&self, topic: &str) {
        let mut recount = self.recount.lock().unwrap_or_else(|p| p.into_inner());
        if !recount.contains(topic) {
            recount.insert(topic.to_owned());
        }
    }

    fn tell_observer(&self, topic: &str, key: &str) {
        self.recount_later(topic);
        if let Some(observer) = self.observer.get() {
            observer.changed(topic, key);
        }
    }

    /// `key` on `topic` as every node sees it; `None` if it has no connection anywhere.
    pub fn member(&self, topic: &str, key: &str) -> Option<Member> {
        let topics = self.lock();
        let state = topics.get(topic)?;
        let mut connections = 0;
        let mut first: Option<&Meta> = None;
        for list in std::iter::once(&state.live)
            .chain(state.remote.values())
            .filter_map(|metas| metas.get(key))
        {
            connections += list.len();
            first = first.or(list.first());
        }
        let first = first?;
        Some(Member {
            first: serde_json::from_str(&first.json).unwrap_or_default(),
            connections,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TopicState>> {
        self.topics.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh, unique, opaque ref: 12 bytes (time, node, counter), URL-safe base64.
    fn next_ref(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let t = chrono::Utc::now().timestamp_micros() as u32;
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&t.to_be_bytes());
        bytes[4..8].copy_from_slice(&self.node.to_be_bytes());
        bytes[8..].copy_from_slice(&(n as u32).to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Adds `connection` under `key` on `topic`, a large room or not; returns its
    /// `phx_ref` (for `untrack`).
    pub fn track(
        self: &Arc<Self>,
        topic: &str,
        key: &str,
        connection: &Connection,
        large: bool,
    ) -> String {
        let phx_ref = self.next_ref();
        let mut meta =
            serde_json::to_value(connection).unwrap_or_else(|_| Value::Object(Default::default()));
        if let Value::Object(fields) = &mut meta {
            fields.insert("phx_ref".into(), Value::String(phx_ref.clone()));
        }
        let meta = Meta {
            phx_ref: phx_ref.as_str().into(),
            json: meta.to_string().into(),
        };
        let schedule = {
            let mut topics = self.lock();
            let new = !topics.contains_key(topic);
            let state = topics.entry(topic.to_owned()).or_default();
            // A room already here has its mode; the audience changes it.
            if new && large {
                large::become_large(state);
            }
            state
                .live
                .entry(key.to_owned())
                .or_default()
                .push(meta.clone());
            state.members += 1;
            if state.large {
                // No diff: a large room's members are counted, not announced.
                drop(topics);
                self.tell_observer(topic, key);
                return phx_ref;
            }
            state.joins.entry(key.to_owned()).or_default().push(meta);
            (!std::mem::replace(&mut state.flush_scheduled, true)).then_some(state.members)
        };
        if let Some(members) = schedule {
            self.schedule_flush(topic, members);
        }
        self.tell_observer(topic, key);
        phx_ref
    }

    /// Removes the meta `phx_ref` under `key` on `topic`.
    pub fn untrack(self: &Arc<Self>, topic: &str, key: &str, phx_ref: &str) {
        let schedule = {
            let mut topics = self.lock();
            let Some(state) = topics.get_mut(topic) else {
                return;
            };
            let Some(meta) = remove_ref(&mut state.live, key, phx_ref) else {
                return;
            };
            state.members -= 1;
            if state.large {
                if state.live.is_empty() {
                    topics.remove(topic);
                }
                drop(topics);
                self.tell_observer(topic, key);
                return;
            }
            // A join not yet announced is dropped from the diff, but the leave still goes
            // out: a joiner may have received this meta in its presence_state already.
            // Clients ignore leaves of metas they never had.
            remove_ref(&mut state.joins, key, phx_ref);
            state.leaves.entry(key.to_owned()).or_default().push(meta);
            (!std::mem::replace(&mut state.flush_scheduled, true)).then_some(state.members)
        };
        if let Some(members) = schedule {
            self.schedule_flush(topic, members);
        }
        self.tell_observer(topic, key);
    }

    /// The `presence_state` payload for a joiner: the state as of the last flush.
    pub fn snapshot(&self, topic: &str) -> Arc<str> {
        let mut topics = self.lock();
        match topics.get_mut(topic) {
            Some(state) => current_snapshot(state),
            None => Arc::from("{}"),
        }
    }

    /// The `presence_state` frame for a joiner whose join ref is `join_ref`. In a room of
    /// up to [`EXACT_STATE_MEMBERS`] it is the room as it is now, the joiner included, as
    /// Phoenix sends it; in a bigger one it is the snapshot of the last flush, shared by
    /// every joiner until the next (the joiner then sees itself in the next diff, within
    /// the presence window), because a state of thousands of members is hundreds of KB.
    ///
    /// In a large room it is the joiner's own connections only (`key`'s on this node).
    pub fn state_frame(&self, topic: &str, join_ref: &Value, key: &str) -> Encoded {
        let mut topics = self.lock();
        let Some(state) = topics.get_mut(topic) else {
            return frame::encode_raw(join_ref, topic, PRESENCE_STATE, "{}");
        };
        if state.large {
            return large::own_state(state, topic, join_ref, key);
        }
        // Counted only as far as the threshold: a big room is not walked on every join.
        let small = state.members <= EXACT_STATE_MEMBERS
            && state
                .remote
                .values()
                .flat_map(BTreeMap::values)
                .map(Vec::len)
                .scan(state.members, |total, n| {
                    *total += n;
                    Some(*total)
                })
                .all(|total| total <= EXACT_STATE_MEMBERS);
        if small {
            return frame::encode_raw(join_ref, topic, PRESENCE_STATE, &all_metas(state));
        }
        if let Some((_, frame)) = state.state_frames.iter().find(|(r, _)| r == join_ref) {
            return frame.clone();
        }
        let snapshot = current_snapshot(state);
        let frame = frame::encode_raw(join_ref, topic, PRESENCE_STATE, &snapshot);
        if state.state_frames.len() >= STATE_FRAMES_KEPT {
            state.state_frames.remove(0);
        }
        state.state_frames.push((join_ref.clone(), frame.clone()));
        frame
    }

    fn schedule_flush(self: &Arc<Self>, topic: &str, members: usize) {
        let this = Arc::clone(self);
        let topic = topic.to_owned();
        let window = window_for(self.window, members);
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    tokio::time::sleep(window).await;
                    this.flush(&topic);
                });
            }
            Err(_) => self.flush(&topic),
        }
    }

    /// Sends the pending diff of `topic` as one `presence_diff` to this node's sockets,
    /// and as its own message to the other nodes, and refreshes the snapshot.
    pub fn flush(&self, topic: &str) {
        let changes = {
            let mut topics = self.lock();
            let Some(state) = topics.get_mut(topic) else {
                return;
            };
            state.flush_scheduled = false;
            let joins = std::mem::take(&mut state.joins);
            let leaves = std::mem::take(&mut state.leaves);
            state.snapshot = Some(Arc::from(all_metas(state)));
            state.state_frames.clear();
            if state.live.is_empty() && state.remote.values().all(BTreeMap::is_empty) {
                topics.remove(topic);
            }
            if joins.is_empty() && leaves.is_empty() {
                return;
            }
            diff_json(&joins, &leaves)
        };
        metrics::counter!("realtime_presence_diffs_total").increment(1);
        let frame = frame::encode_raw(&Value::Null, topic, PRESENCE_DIFF, &changes);
        self.hub.deliver(topic, PRESENCE_DIFF, &frame, None);
        self.broker.tell_nodes(
            topic,
            NodeMessage {
                kind: cluster::CHANGES,
                body: Bytes::from(changes),
            },
        );
    }
}

#[cfg(test)]
mod tests;
