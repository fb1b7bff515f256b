//! What the audience sends: to sockets, `room_stats` and `reactions`; to the other nodes,
//! a report per room and window (a [`NodeMessage`](crate::broker::NodeMessage) of kind
//! [`REPORT`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::tally::Tally;
use crate::events::{REACTIONS, ROOM_STATS};
use crate::frame::{self, Encoded};
use crate::presence::Headcount;

/// "In this room, this node has so many viewers, counted these reactions in its last
/// window, and had so many comments a second posted and shown."
pub(crate) const REPORT: &str = "room_report";

/// A node's report about one room.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Report {
    /// The room is large for that node.
    pub large: bool,
    pub viewers: u64,
    pub connections: u64,
    /// Reactions of its sockets in its last window.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reactions: BTreeMap<String, u64>,
    /// Comments a second posted on it, and broadcast.
    pub posted: f64,
    pub shown: f64,
}

impl Report {
    pub fn headcount(&self) -> Headcount {
        Headcount {
            viewers: self.viewers,
            connections: self.connections,
        }
    }
}

/// What `room_stats` says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Stats {
    pub headcount: Headcount,
    pub large: bool,
    pub posted_per_second: f64,
    pub shown_per_second: f64,
}

impl Stats {
    /// The rates as sent: to a tenth.
    fn rounded(rate: f64) -> f64 {
        (rate * 10.0).round() / 10.0
    }

    /// Whether `self` says something `other` did not.
    pub fn differs(&self, other: &Stats) -> bool {
        self.headcount != other.headcount
            || self.large != other.large
            || Self::rounded(self.posted_per_second) != Self::rounded(other.posted_per_second)
            || Self::rounded(self.shown_per_second) != Self::rounded(other.shown_per_second)
    }

    pub fn payload(&self) -> Value {
        json!({
            "viewers": self.headcount.viewers,
            "connections": self.headcount.connections,
            "mode": if self.large { "large" } else { "small" },
            "posted_per_second": Self::rounded(self.posted_per_second),
            "shown_per_second": Self::rounded(self.shown_per_second),
        })
    }

    pub fn frame(&self, topic: &str, join_ref: &Value) -> Encoded {
        frame::push(join_ref, topic, ROOM_STATS, &self.payload())
    }
}

/// A window's reactions, summed over every node.
pub(super) fn reactions_frame(topic: &str, tally: &Tally, window_ms: u64) -> Encoded {
    frame::broadcast(
        topic,
        REACTIONS,
        &json!({ "counts": tally.counts(), "window_ms": window_ms }),
    )
}
