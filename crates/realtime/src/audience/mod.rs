//! Each room's audience: how many watch it on every node, whether it is *small* or
//! *large*, and, in a large room, what reaches a viewer, so that a viewer costs about the
//! same whatever the room's size and however busy it is.
//!
//! - A small room is as it always was: every comment, every reaction and every presence
//!   change goes to everyone. Its sockets also get `room_stats` (on join, then at most
//!   once a second while it changes).
//! - A room turns large at `large_members` viewers over every node, and small again below
//!   80% of it. In a large room nodes exchange counts, not members ([`crate::presence`]
//!   keeps this node's only); reactions are counted and sent once a window as
//!   `reactions`; at most `comments_per_second` comments are broadcast over the cluster
//!   ([`budget`]), the others reach only their author and the moderators; and what a
//!   socket gets in a window goes out together, in one write ([`Hub`] pacing).
//!
//! Every window each node looks at its rooms, and, for a room that is large here or
//! elsewhere, tells the other nodes in one message what it has: its headcount, its
//! reactions, its comment rates ([`wire::Report`]).

mod budget;
mod crowd;
mod tally;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::time::Instant;

use bytes::Bytes;
use domain::{Role, UserId};
use serde_json::Value;

use crate::broker::{Broker, NodeMessage};
use crate::frame::Encoded;
use crate::hub::Hub;
use crate::presence::Presence;
use crowd::{Crowd, Window};

pub(crate) use crowd::Settings;
pub(crate) use wire::REPORT;

/// What becomes of a comment posted in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Broadcast to the room.
    Shown,
    /// Past a large room's budget: to its author and the moderators only.
    Held,
}

/// The audiences of the rooms this node has sockets in.
#[derive(Debug)]
pub(crate) struct Audience {
    crowds: Mutex<HashMap<String, Crowd>>,
    presence: Arc<Presence>,
    hub: Arc<Hub>,
    broker: Arc<dyn Broker>,
    settings: Settings,
}

impl Audience {
    /// The audience, with its windows ticking when a tokio runtime is there.
    pub fn new(
        presence: Arc<Presence>,
        hub: Arc<Hub>,
        broker: Arc<dyn Broker>,
        settings: Settings,
    ) -> Arc<Self> {
        let audience = Arc::new(Self {
            crowds: Mutex::default(),
            presence,
            hub,
            broker,
            settings,
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(windows(Arc::downgrade(&audience), settings));
        }
        audience
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Crowd>> {
        self.crowds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A socket joins `topic`: whether the room is large (then the socket, already
    /// subscribed, hears it in windows). The joiner that brings a room to the threshold
    /// turns it large at once, so it is told "large" in its own join.
    pub fn enter(&self, topic: &str) -> bool {
        let (large, turned) = {
            let mut crowds = self.lock();
            let crowd = crowds
                .entry(topic.to_owned())
                .or_insert_with(|| Crowd::new(Instant::now()));
            let turned = crowd.joining(&self.settings);
            (crowd.large, turned)
        };
        if turned {
            self.turn(topic, true);
        } else if large {
            self.hub.pace(topic, true);
        }
        large
    }

    /// The `room_stats` a joiner gets, the joiner counted.
    pub fn stats_frame(&self, topic: &str, join_ref: &Value) -> Encoded {
        let here = self.presence.headcount(topic);
        let crowds = self.lock();
        let stats = match crowds.get(topic) {
            Some(crowd) => crowd.stats(here, self.settings.tick),
            None => Crowd::new(Instant::now()).stats(here, self.settings.tick),
        };
        stats.frame(topic, join_ref)
    }

    /// A reaction in `topic`: `true` if it was counted for the window (a large room),
    /// `false` if it is to be broadcast as it is.
    pub fn react(&self, topic: &str, emoji: &str) -> bool {
        let mut crowds = self.lock();
        match crowds.get_mut(topic) {
            Some(crowd) if crowd.large => {
                crowd.reactions.add(emoji, 1);
                true
            }
            _ => false,
        }
    }

    /// Whether a comment `author` (of `role`) just posted in `topic` is broadcast.
    pub fn admit(&self, topic: &str, author: UserId, role: Role) -> Admission {
        let mut crowds = self.lock();
        let Some(crowd) = crowds.get_mut(topic).filter(|c| c.large) else {
            return Admission::Shown;
        };
        crowd.posted += 1;
        let shown = role != Role::User || crowd.budget.admit(author, Instant::now());
        if shown {
            crowd.shown += 1;
        }
        drop(crowds);
        let label = if shown { "shown" } else { "held" };
        metrics::counter!("realtime_large_room_comments_total", "admission" => label).increment(1);
        if shown {
            Admission::Shown
        } else {
            Admission::Held
        }
    }

    /// What another node reported about `topic`; `false` if it makes no sense.
    pub fn hear(&self, from: &Arc<str>, topic: &str, body: &[u8]) -> bool {
        let Ok(report) = serde_json::from_slice::<wire::Report>(body) else {
            return false;
        };
        let now_large = report.large;
        let small_here = {
            let mut crowds = self.lock();
            let Some(crowd) = crowds.get_mut(topic) else {
                // No socket of this node is in the room (any more).
                return true;
            };
            crowd.heard_from(from, report, Instant::now());
            !crowd.large
        };
        if now_large && small_here {
            // That node announces its members no more: its reports count them instead.
            self.presence.forget_node_in(topic, from);
        }
        true
    }

    /// A node is gone: its viewers with it.
    pub fn departed(&self, node: &str) {
        for crowd in self.lock().values_mut() {
            crowd.forget(node);
        }
    }

    /// This node is linked to the others again: what it said meanwhile was lost.
    pub fn relinked(&self) {
        for crowd in self.lock().values_mut() {
            crowd.report_again();
        }
    }

    /// Closes a window of every room.
    fn tick(&self) {
        let now = Instant::now();
        let recounts: Vec<_> = self
            .presence
            .recounts()
            .into_iter()
            .map(|topic| {
                let counts = (
                    self.presence.headcount(&topic),
                    self.presence.local_headcount(&topic),
                );
                (topic, counts)
            })
            .collect();
        let windows: Vec<(String, bool, Window)> = {
            let mut crowds = self.lock();
            for (topic, (here, mine)) in recounts {
                let crowd = match crowds.get_mut(&topic) {
                    Some(crowd) => crowd,
                    None if mine.connections > 0 => {
                        crowds.entry(topic).or_insert_with(|| Crowd::new(now))
                    }
                    None => continue,
                };
                crowd.here = here;
                crowd.mine = mine;
            }
            crowds.retain(|_, crowd| !crowd.is_empty());
            crowds
                .iter_mut()
                .map(|(topic, crowd)| {
                    let window = crowd.window(topic, &self.settings, now);
                    (topic.clone(), crowd.large, window)
                })
                .collect()
        };
        for (topic, large, window) in windows {
            self.send(&topic, large, window);
        }
    }

    /// Carries out one room's window.
    fn send(&self, topic: &str, large: bool, window: Window) {
        if let Some(large) = window.flip {
            self.turn(topic, large);
        }
        if large {
            if window.write {
                self.hub.flush_window(topic, window.frames);
            }
        } else {
            for frame in &window.frames {
                self.hub.broadcast(topic, frame, None);
            }
        }
        if let Some(report) = window.report {
            match serde_json::to_vec(&report) {
                Ok(body) => self.broker.tell_nodes(
                    topic,
                    NodeMessage {
                        kind: REPORT,
                        body: Bytes::from(body),
                    },
                ),
                Err(e) => tracing::error!(error = %e, "a room report could not be written"),
            }
        }
    }

    /// What a room turning large or small changes for this node's sockets.
    fn turn(&self, topic: &str, large: bool) {
        if large {
            tracing::info!(
                topic,
                "a room turned large: counts, counted reactions and a comment budget from now on"
            );
            self.presence.set_large(topic, true);
            self.hub.pace(topic, true);
            self.hub.send_each(topic, |viewer| {
                self.presence
                    .own_state_frame(topic, &viewer.user.to_string())
            });
        } else {
            tracing::info!(topic, "a room turned small");
            self.hub.pace(topic, false);
            self.presence.set_large(topic, false);
        }
    }

    /// Rooms by mode, and the largest rooms' viewers, as metrics.
    fn measure(&self) {
        let (small, large, mut top) = {
            let crowds = self.lock();
            let large = crowds.values().filter(|c| c.large).count();
            let top: Vec<u64> = crowds.values().map(Crowd::viewers).collect();
            (crowds.len() - large, large, top)
        };
        metrics::gauge!("realtime_rooms", "mode" => "small").set(small as f64);
        metrics::gauge!("realtime_rooms", "mode" => "large").set(large as f64);
        top.sort_unstable_by(|a, b| b.cmp(a));
        for (rank, label) in TOP_RANKS.iter().enumerate() {
            let viewers = top.get(rank).copied().unwrap_or(0);
            metrics::gauge!("realtime_top_room_viewers", "rank" => *label).set(viewers as f64);
        }
    }
}

/// The ranks of `realtime_top_room_viewers`: few, so its labels stay few.
const TOP_RANKS: [&str; 5] = ["1", "2", "3", "4", "5"];

/// Closes a window of every room every `settings.tick`, while the audience lives.
async fn windows(audience: Weak<Audience>, settings: Settings) {
    let mut every = tokio::time::interval(settings.tick.max(std::time::Duration::from_millis(10)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(audience) = audience.upgrade() else {
            return;
        };
        audience.tick();
        audience.measure();
    }
}
