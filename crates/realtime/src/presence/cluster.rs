//! Presence across nodes, on top of what the broker tells of them ([`PeerNews`]): every
//! node keeps a replica of the other nodes' members of the rooms its sockets are in
//! (`replica`), from three kinds of message between nodes:
//! - [`CHANGES`]: a node's `presence_diff`, sent with every flush;
//! - [`ASK`] and [`MEMBERS`]: a node that starts listening to a topic, links again after
//!   Redis was away, or hears a node for the first time asks, and every other node answers
//!   with all its members there (none included), spaced as [`SyncBook`] says;
//! - and from the broker: a node gone (silent, or replaced by a new incarnation) takes its
//!   members with it, and a node that does not answer an ask about a topic no longer has
//!   members there.
//!
//! `crate::nodes` hands it the news; the room reports in the same news go to the audience.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::Presence;
use super::sync::SyncBook;
use crate::broker::{Broker, NodeMessage, PeerNews};

/// "Tell me your members of this topic."
pub(super) const ASK: &str = "presence_ask";
/// "My members of this topic are exactly these" (a Phoenix.Presence map).
pub(super) const MEMBERS: &str = "presence_members";
/// "My members of this topic changed so" (a `presence_diff`'s payload).
pub(super) const CHANGES: &str = "presence_changes";

/// How often deferred syncs and unanswered asks are looked at.
pub(crate) const HOUSEKEEPING: Duration = Duration::from_millis(250);

/// Keeps `presence`'s replicas of the other nodes' members current with the news it hears,
/// talking to the other nodes through `broker`.
pub(crate) struct MemberSync {
    presence: Arc<Presence>,
    broker: Arc<dyn Broker>,
    /// Asks and answers made, deferred and awaited.
    book: SyncBook,
    /// The topics this node listens to.
    topics: HashSet<String>,
}

impl MemberSync {
    pub(crate) fn new(presence: Arc<Presence>, broker: Arc<dyn Broker>) -> Self {
        Self {
            presence,
            broker,
            book: SyncBook::default(),
            topics: HashSet::new(),
        }
    }

    /// `from` said something about `topic` (it still listens there).
    pub(crate) fn heard_from(&mut self, topic: &str, from: &Arc<str>) {
        self.book.heard(topic, from, Instant::now());
    }

    pub(crate) fn hear(&mut self, news: PeerNews) {
        match news {
            PeerNews::Listening { topic, linked } => {
                if linked {
                    self.ask_members(&topic);
                }
                self.topics.insert(topic);
            }
            PeerNews::NotListening(topic) => {
                self.presence.forget_remote(&topic);
                self.book.forget_topic(&topic);
                self.topics.remove(&topic);
            }
            // What the others have, and what they hold of this node's: they may have
            // asked while this node could not hear, or dropped it as silent.
            PeerNews::Linked => {
                self.ask_about_every_topic();
                let now = Instant::now();
                for topic in &self.topics {
                    self.book.answer_now(topic, now);
                    self.send_answer(topic);
                }
            }
            // Whatever that node had, or had while it could not talk, this node lacks.
            PeerNews::Arrived(_) | PeerNews::Relinked(_) => self.ask_about_every_topic(),
            PeerNews::Departed(node) => {
                self.book.forget_node(&node);
                metrics::counter!("realtime_presence_nodes_dropped_total").increment(1);
                self.presence.drop_node(&node);
            }
            PeerNews::Message {
                from,
                topic,
                kind,
                body,
            } => self.message(&from, &topic, &kind, &body),
        }
    }

    fn message(&mut self, from: &Arc<str>, topic: &str, kind: &str, body: &Bytes) {
        let applied = match kind {
            ASK => {
                if self.book.answer(topic, Instant::now()) {
                    self.send_answer(topic);
                }
                true
            }
            MEMBERS => match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(members) => {
                    metrics::counter!("realtime_presence_syncs_total", "step" => "applied")
                        .increment(1);
                    self.book.heard(topic, from, Instant::now());
                    self.presence.replace_remote(from, topic, &members);
                    true
                }
                Err(_) => false,
            },
            CHANGES => {
                self.book.heard(topic, from, Instant::now());
                self.presence.apply_remote_changes(from, topic, body)
            }
            _ => false,
        };
        if !applied {
            metrics::counter!("realtime_broker_malformed_total").increment(1);
        }
    }

    /// Asks the other nodes for their members of `topic` (or soon: asks about one topic
    /// are spaced, see [`SyncBook`]).
    fn ask_members(&mut self, topic: &str) {
        if self.book.ask(topic, Instant::now()) {
            self.send_ask(topic);
        }
    }

    /// Asks about every topic here at once, past the interval: for a node's own news (a
    /// new link, a node heard), which clients cannot set off.
    fn ask_about_every_topic(&mut self) {
        let now = Instant::now();
        for topic in &self.topics {
            self.book.ask_now(topic, now);
            self.send_ask(topic);
        }
    }

    fn send_ask(&self, topic: &str) {
        metrics::counter!("realtime_presence_syncs_total", "step" => "asked").increment(1);
        self.tell(topic, ASK, Bytes::new());
    }

    /// Tells the other nodes this node's members of `topic`, none included.
    fn send_answer(&self, topic: &str) {
        let Some(members) = self.presence.local_members(topic) else {
            return;
        };
        metrics::counter!("realtime_presence_syncs_total", "step" => "answered").increment(1);
        self.tell(topic, MEMBERS, Bytes::from(members));
    }

    fn tell(&self, topic: &str, kind: &'static str, body: Bytes) {
        self.broker.tell_nodes(topic, NodeMessage { kind, body });
    }

    /// Deferred asks and answers, and the members of nodes that did not answer an ask
    /// about a topic (they no longer listen to it: their members there left while the
    /// news could not travel).
    pub(crate) fn housekeeping(&mut self) {
        let now = Instant::now();
        let (asks, answers) = self.book.due(now);
        for topic in asks.iter().filter(|t| self.topics.contains(*t)) {
            self.send_ask(topic);
        }
        for topic in answers.iter().filter(|t| self.topics.contains(*t)) {
            self.send_answer(topic);
        }
        for (topic, asked) in self.book.overdue(now) {
            for node in self.presence.remote_nodes(&topic) {
                if self.book.silent_since(&topic, &node, asked) {
                    tracing::debug!(node = %node, topic, "no answer about a topic: its members there leave");
                    metrics::counter!("realtime_presence_syncs_total", "step" => "unanswered")
                        .increment(1);
                    self.presence.forget_node_in(&topic, &node);
                }
            }
        }
    }
}
