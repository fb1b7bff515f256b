//! Presence in a large room (see `crate::audience`): a node keeps only its own members,
//! announces none of their comings and goings, and gives each joiner a `presence_state`
//! of its own connections, so phoenix.js's `Presence` still lists the user. How many are
//! in the room, over every node, is the audience's business: nodes exchange counts, not
//! member lists.

use std::collections::BTreeSet;

use bytes::Bytes;
use serde_json::Value;

use super::metas::{Metas, metas_json};
use super::{Presence, TopicState, cluster};
use crate::broker::NodeMessage;
use crate::events::PRESENCE_STATE;
use crate::frame::{self, Encoded};

/// How many are in a room: distinct users (`viewers`) and their connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Headcount {
    pub viewers: u64,
    pub connections: u64,
}

impl std::ops::Add for Headcount {
    type Output = Headcount;

    fn add(self, other: Headcount) -> Headcount {
        Headcount {
            viewers: self.viewers + other.viewers,
            connections: self.connections + other.connections,
        }
    }
}

/// Drops what a small room keeps of the others and of changes not yet sent.
pub(super) fn become_large(state: &mut TopicState) {
    state.large = true;
    state.remote.clear();
    state.joins.clear();
    state.leaves.clear();
    state.snapshot = None;
    state.state_frames.clear();
}

/// `key`'s own connections on this node, as a `presence_state`.
pub(super) fn own_state(state: &TopicState, topic: &str, join_ref: &Value, key: &str) -> Encoded {
    let own: Metas = state
        .live
        .get_key_value(key)
        .map(|(k, metas)| (k.clone(), metas.clone()))
        .into_iter()
        .collect();
    frame::encode_raw(join_ref, topic, PRESENCE_STATE, &metas_json(&own))
}

impl Presence {
    /// How many are in `topic`: in a small room over every node (this node's members and
    /// its replicas of the others'), in a large one on this node only.
    pub(crate) fn headcount(&self, topic: &str) -> Headcount {
        let topics = self.lock();
        let Some(state) = topics.get(topic) else {
            return Headcount::default();
        };
        let remote = state.remote.values().filter(|m| !m.is_empty());
        let connections = state.members
            + remote
                .clone()
                .flat_map(|m| m.values())
                .map(Vec::len)
                .sum::<usize>();
        let viewers = if remote.clone().next().is_none() {
            state.live.len()
        } else {
            let keys: BTreeSet<&String> = state
                .live
                .keys()
                .chain(remote.flat_map(|m| m.keys()))
                .collect();
            keys.len()
        };
        Headcount {
            viewers: viewers as u64,
            connections: connections as u64,
        }
    }

    /// How many of `topic` are this node's own.
    pub(crate) fn local_headcount(&self, topic: &str) -> Headcount {
        self.lock()
            .get(topic)
            .map_or_else(Headcount::default, |state| Headcount {
                viewers: state.live.len() as u64,
                connections: state.members as u64,
            })
    }

    /// The topics whose headcount may have changed since the last call.
    pub(crate) fn recounts(&self) -> Vec<String> {
        let mut changed = self.recount.lock().unwrap_or_else(|p| p.into_inner());
        changed.drain().collect()
    }

    /// Makes `topic` a large room, or a small one again. Large: the replicas of the other
    /// nodes' members go. Small: this node asks the others for their members and tells
    /// its own (a node that turned small before it missed them), and its sockets get the
    /// room as this node knows it now (`presence_state`; what the answers add follows as
    /// diffs).
    pub(crate) fn set_large(&self, topic: &str, large: bool) {
        let mut topics = self.lock();
        let Some(state) = topics.get_mut(topic) else {
            return;
        };
        if state.large == large {
            return;
        }
        // Large, the headcount is this node's only; small, everyone's again.
        self.recount_later(topic);
        if large {
            become_large(state);
            return;
        }
        state.large = false;
        let members = metas_json(&state.live);
        drop(topics);
        for (kind, body) in [
            (cluster::ASK, String::new()),
            (cluster::MEMBERS, members.clone()),
        ] {
            self.broker.tell_nodes(
                topic,
                NodeMessage {
                    kind,
                    body: Bytes::from(body),
                },
            );
        }
        let state = frame::encode_raw(&Value::Null, topic, PRESENCE_STATE, &members);
        self.hub.broadcast(topic, &state, None);
    }

    /// A `presence_state` of `key`'s own connections in a large room, for every socket
    /// here when the room turns large (phoenix.js then sees every other member leave);
    /// `None` if `key` has none here yet (a joiner, whose join brings its own).
    pub(crate) fn own_state_frame(&self, topic: &str, key: &str) -> Option<Encoded> {
        let topics = self.lock();
        let state = topics.get(topic)?;
        state
            .live
            .contains_key(key)
            .then(|| own_state(state, topic, &Value::Null, key))
    }
}
