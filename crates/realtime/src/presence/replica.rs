//! Other nodes' members, so that every node shows the whole room (several nodes, over
//! Redis). Each node keeps, per topic its sockets are in, a replica of every other node's
//! members, fed three ways:
//! - the changes they send with each `presence_diff` of theirs, which this node then
//!   passes on to its own sockets;
//! - a sync: a node that starts listening to a topic, or comes back after Redis was away,
//!   asks, and each other node answers with its own members; what the answer changes goes
//!   to this node's sockets as a diff;
//! - a node not heard for a while is dropped, and its members leave for this node's
//!   sockets (a node killed never says goodbye).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::Presence;
use super::metas::{Metas, diff_json, metas_json, minus, parse_metas};
use crate::events::PRESENCE_DIFF;
use crate::frame;

impl Presence {
    /// The changes `node` made to its members of `topic` (a `presence_diff`'s payload):
    /// the replica follows, and this node's sockets get the diff. `false` if `changes` is
    /// not JSON.
    pub(crate) fn apply_remote_changes(&self, node: &str, topic: &str, changes: &[u8]) -> bool {
        let Ok(diff) = serde_json::from_slice::<Value>(changes) else {
            return false;
        };
        let joins = parse_metas(&diff["joins"]);
        let leaves = parse_metas(&diff["leaves"]);
        {
            let mut topics = self.lock();
            let state = topics.entry(topic.to_owned()).or_default();
            if state.large {
                // Counted by the audience instead.
                return true;
            }
            let replica = state.remote.entry(Arc::from(node)).or_default();
            for (key, list) in leaves {
                if let Some(current) = replica.get_mut(&key) {
                    current.retain(|m| !list.iter().any(|l| l.phx_ref == m.phx_ref));
                    if current.is_empty() {
                        replica.remove(&key);
                    }
                }
            }
            for (key, list) in joins {
                let current = replica.entry(key).or_default();
                for meta in list {
                    if !current.iter().any(|m| m.phx_ref == meta.phx_ref) {
                        current.push(meta);
                    }
                }
            }
            state.snapshot = None;
            state.state_frames.clear();
        }
        self.recount_later(topic);
        // As it came: the same bytes every node's sockets get.
        let payload = String::from_utf8_lossy(changes);
        let frame = frame::encode_raw(&Value::Null, topic, PRESENCE_DIFF, &payload);
        self.hub.deliver(topic, PRESENCE_DIFF, &frame, None);
        true
    }

    /// This node's own members of `topic`, as a Phoenix.Presence map (`{}` for none), to
    /// answer a sync; `None` in a large room, whose members are counted, not listed.
    pub(crate) fn local_members(&self, topic: &str) -> Option<String> {
        let topics = self.lock();
        match topics.get(topic) {
            Some(state) if state.large => None,
            Some(state) => Some(metas_json(&state.live)),
            None => Some("{}".to_owned()),
        }
    }

    /// The other nodes this node holds members of in `topic`.
    pub(crate) fn remote_nodes(&self, topic: &str) -> Vec<Arc<str>> {
        let topics = self.lock();
        topics.get(topic).map_or_else(Vec::new, |state| {
            state
                .remote
                .iter()
                .filter(|(_, metas)| !metas.is_empty())
                .map(|(node, _)| Arc::clone(node))
                .collect()
        })
    }

    /// Forgets `node`'s members of `topic` (it did not answer an ask about it, so it no
    /// longer has any there); this node's sockets see them leave.
    pub(crate) fn forget_node_in(&self, topic: &str, node: &str) {
        let gone = {
            let mut topics = self.lock();
            let Some(state) = topics.get_mut(topic) else {
                return;
            };
            let Some(metas) = state.remote.remove(node) else {
                return;
            };
            state.snapshot = None;
            state.state_frames.clear();
            metas
        };
        self.tell_local(topic, &BTreeMap::new(), &gone);
        for key in gone.keys() {
            self.tell_observer(topic, key);
        }
    }

    /// `node`'s answer to a sync: its members of `topic` are exactly `members`. What that
    /// changes is told to this node's sockets at once.
    pub(crate) fn replace_remote(&self, node: &str, topic: &str, members: &Value) {
        let members = parse_metas(members);
        let (joins, leaves) = {
            let mut topics = self.lock();
            let state = topics.entry(topic.to_owned()).or_default();
            if state.large {
                return;
            }
            let old = state
                .remote
                .insert(Arc::from(node), members.clone())
                .unwrap_or_default();
            state.snapshot = None;
            state.state_frames.clear();
            (minus(&members, &old), minus(&old, &members))
        };
        self.tell_local(topic, &joins, &leaves);
        let keys: std::collections::BTreeSet<&String> = joins.keys().chain(leaves.keys()).collect();
        for key in keys {
            self.tell_observer(topic, key);
        }
    }

    /// This node no longer listens to `topic` (its last socket left): the other nodes'
    /// members there would only go stale.
    pub(crate) fn forget_remote(&self, topic: &str) {
        let mut topics = self.lock();
        if let Some(state) = topics.get_mut(topic) {
            state.remote.clear();
            state.snapshot = None;
            state.state_frames.clear();
            if state.live.is_empty() && !state.flush_scheduled {
                topics.remove(topic);
            }
        }
    }

    /// Forgets every member of `node` (gone, or unheard for too long); this node's sockets
    /// see them leave.
    pub(crate) fn drop_node(&self, node: &str) {
        let gone: Vec<(String, Metas)> = {
            let mut topics = self.lock();
            topics
                .iter_mut()
                .filter_map(|(topic, state)| {
                    let metas = state.remote.remove(node)?;
                    state.snapshot = None;
                    state.state_frames.clear();
                    (!metas.is_empty()).then(|| (topic.clone(), metas))
                })
                .collect()
        };
        for (topic, leaves) in gone {
            self.tell_local(&topic, &BTreeMap::new(), &leaves);
            for key in leaves.keys() {
                self.tell_observer(&topic, key);
            }
        }
    }

    /// A `presence_diff` for this node's sockets only.
    fn tell_local(&self, topic: &str, joins: &Metas, leaves: &Metas) {
        if joins.is_empty() && leaves.is_empty() {
            return;
        }
        let payload = diff_json(joins, leaves);
        let frame = frame::encode_raw(&Value::Null, topic, PRESENCE_DIFF, &payload);
        self.hub.broadcast(topic, &frame, None);
    }
}
