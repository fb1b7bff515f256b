//! One room's audience as one node sees it: how many are there on every node, whether the
//! room is small or large, and what this window brings (reactions, comments posted and
//! shown, stats to send). Pure state: [`Audience`](super::Audience) does the sending.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::budget::{self, Budget};
use super::tally::Tally;
use super::wire::{self, Report, Stats};
use crate::frame::Encoded;
use crate::presence::Headcount;

/// A node's report older than this no longer counts (nodes report at least every
/// [`REPORT_EVERY`] while they have something to say).
const STALE: Duration = Duration::from_secs(3);
/// How often a node in a large room reports even when nothing changed.
const REPORT_EVERY: Duration = Duration::from_secs(1);
/// `room_stats` goes out at most this often (joiners get it at once).
const STATS_EVERY: Duration = Duration::from_secs(1);
/// The longest a node's window in a large room stretches to (see [`Crowd::stride`]).
const LONGEST_WINDOW: Duration = Duration::from_secs(1);

/// The room's settings, the same on every node.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// Viewers from which a room is large (0: never); it is small again below 80%.
    pub large_members: u64,
    pub tick: Duration,
    /// Comments a second a large room broadcasts, over every node.
    pub comments_per_second: f64,
    /// Writes a second a node makes to one large room's sockets before its windows
    /// there stretch (0: never).
    pub writes_per_second: u64,
}

#[derive(Debug)]
struct Heard {
    report: Report,
    at: Instant,
}

/// What one window of a room brings.
#[derive(Debug, Default)]
pub(super) struct Window {
    /// The room turned large (`true`) or small.
    pub flip: Option<bool>,
    /// For every socket of the room: reactions, stats.
    pub frames: Vec<Encoded>,
    /// This node's sockets of the room get the window now (with what waited for it); not
    /// at every tick when its windows are stretched.
    pub write: bool,
    /// For the other nodes.
    pub report: Option<Report>,
}

#[derive(Debug)]
pub(super) struct Crowd {
    pub large: bool,
    /// From presence: the whole room while small, this node's share while large.
    pub here: Headcount,
    /// This node's own members, which it reports.
    pub mine: Headcount,
    others: HashMap<Arc<str>, Heard>,
    /// This node's reactions this window, and the other nodes' heard since the last.
    pub reactions: Tally,
    pub heard: Tally,
    /// Every node's reactions since this node's sockets last got a window.
    unshown: Tally,
    /// Ticks since then.
    held_ticks: u32,
    pub budget: Budget,
    /// Comments posted on this node this window, and broadcast.
    pub posted: u32,
    pub shown: u32,
    /// The same for the windows of the last second, newest last.
    past: VecDeque<(u32, u32)>,
    last_window: Instant,
    sent: Option<(Stats, Instant)>,
    told: Option<(Report, Instant)>,
    /// Turned large by a joiner since the last window: the stats go out at once.
    turned: bool,
}

impl Crowd {
    pub fn new(now: Instant) -> Self {
        Self {
            large: false,
            here: Headcount::default(),
            mine: Headcount::default(),
            others: HashMap::new(),
            reactions: Tally::default(),
            heard: Tally::default(),
            unshown: Tally::default(),
            held_ticks: 0,
            budget: Budget::default(),
            posted: 0,
            shown: 0,
            past: VecDeque::new(),
            last_window: now,
            sent: None,
            told: None,
            turned: false,
        }
    }

    /// What another node reported.
    pub fn heard_from(&mut self, node: &Arc<str>, mut report: Report, now: Instant) {
        self.heard
            .merge(&Tally::from_counts(std::mem::take(&mut report.reactions)));
        self.others
            .insert(Arc::clone(node), Heard { report, at: now });
    }

    pub fn forget(&mut self, node: &str) {
        self.others.remove(node);
    }

    /// Nothing here and nothing heard: the room can be forgotten.
    pub fn is_empty(&self) -> bool {
        self.here == Headcount::default() && self.others.is_empty()
    }

    /// Next window: report anew even if nothing changed.
    pub fn report_again(&mut self) {
        self.told = None;
    }

    fn others_large(&self) -> bool {
        self.others.values().any(|h| h.report.large)
    }

    /// Everyone in the room, over every node. A small room's replicas already hold the
    /// small nodes' members; large nodes are counted from their reports.
    pub fn total(&self, here: Headcount) -> Headcount {
        self.others
            .values()
            .filter(|h| self.large || h.report.large)
            .fold(here, |sum, h| sum + h.report.headcount())
    }

    /// Everyone in the room as last counted.
    pub fn viewers(&self) -> u64 {
        self.total(self.here).viewers
    }

    /// Comments a second posted and shown on this node over the last second.
    fn rates(&self, tick: Duration) -> (f64, f64) {
        let span = (tick.as_secs_f64() * self.past.len() as f64).max(tick.as_secs_f64());
        let (posted, shown) = self
            .past
            .iter()
            .fold((0u32, 0u32), |(p, s), (wp, ws)| (p + wp, s + ws));
        (f64::from(posted) / span, f64::from(shown) / span)
    }

    pub fn stats(&self, here: Headcount, tick: Duration) -> Stats {
        let (mut posted, mut shown) = self.rates(tick);
        for h in self.others.values() {
            posted += h.report.posted;
            shown += h.report.shown;
        }
        Stats {
            headcount: self.total(here),
            large: self.large,
            posted_per_second: posted,
            shown_per_second: shown,
        }
    }

    /// Small or large, from the headcount over every node: large from `large_members`
    /// viewers, or from 80% of it when another node says large already; small below 80%.
    fn decide(&self, settings: &Settings) -> bool {
        let threshold = settings.large_members;
        if threshold == 0 {
            return false;
        }
        let viewers = self.total(self.here).viewers;
        let lower = viewers * 5 >= threshold * 4;
        if self.large {
            lower
        } else {
            viewers >= threshold || (lower && self.others_large())
        }
    }

    /// A viewer is joining: whether that brings the room to the threshold (it is then
    /// large from now). It is counted at once, until presence recounts the room with it
    /// (a window closing before then would otherwise count the room without it).
    pub fn joining(&mut self, settings: &Settings) -> bool {
        let one = Headcount {
            viewers: 1,
            connections: 1,
        };
        self.here = self.here + one;
        self.mine = self.mine + one;
        let threshold = settings.large_members;
        if self.large || threshold == 0 || self.total(self.here).viewers < threshold {
            return false;
        }
        self.large = true;
        self.turned = true;
        true
    }

    /// Closes this window: the mode, what every socket gets, what the nodes are told.
    pub fn window(&mut self, topic: &str, settings: &Settings, now: Instant) -> Window {
        let elapsed = now.saturating_duration_since(self.last_window);
        self.last_window = now;
        self.others
            .retain(|_, h| now.saturating_duration_since(h.at) < STALE);
        let mut window = Window::default();
        let turned = std::mem::take(&mut self.turned);
        let large = self.decide(settings);
        if large != self.large {
            self.large = large;
            window.flip = Some(large);
        }
        self.past.push_back((
            std::mem::take(&mut self.posted),
            std::mem::take(&mut self.shown),
        ));
        let per_second = (1.0 / settings.tick.as_secs_f64().max(0.001)).ceil() as usize;
        while self.past.len() > per_second.max(1) {
            self.past.pop_front();
        }
        let mine = std::mem::take(&mut self.reactions);
        self.unshown.merge(&std::mem::take(&mut self.heard));
        self.unshown.merge(&mine);
        self.held_ticks += 1;
        window.write = window.flip.is_some() || turned || self.held_ticks >= self.stride(settings);
        if window.write {
            self.write(topic, settings, turned, &mut window, now);
        }
        if self.large {
            let (posted, _) = self.rates(settings.tick);
            let others = self
                .others
                .values()
                .filter(|h| h.report.large)
                .map(|h| h.report.posted);
            let share = budget::share(settings.comments_per_second, posted, others);
            self.budget.window(share, elapsed, now);
        }
        window.report = self.report(mine, settings.tick, now);
        window
    }

    /// Ticks between two writes to this node's sockets of the room: one, unless writing
    /// each of them every tick would be more than `settings.writes_per_second`; then as
    /// many as keep it there, up to [`LONGEST_WINDOW`]. A node's cost in a huge room is
    /// thus bounded; the viewers get the same comments and reaction counts, in fewer,
    /// longer windows (`window_ms` says how long).
    fn stride(&self, settings: &Settings) -> u32 {
        let tick = settings.tick.as_secs_f64();
        if !self.large || settings.writes_per_second == 0 || tick <= 0.0 {
            return 1;
        }
        let per_tick = settings.writes_per_second as f64 * tick;
        let wanted = (self.mine.connections as f64 / per_tick).ceil();
        let longest = (LONGEST_WINDOW.as_secs_f64() / tick).floor().max(1.0);
        wanted.clamp(1.0, longest) as u32
    }

    /// What this node's sockets get now: the reactions since their last window, and the
    /// stats when due.
    fn write(
        &mut self,
        topic: &str,
        settings: &Settings,
        turned: bool,
        window: &mut Window,
        now: Instant,
    ) {
        let ticks = std::mem::take(&mut self.held_ticks);
        let counts = std::mem::take(&mut self.unshown);
        if !counts.is_empty() {
            let window_ms = (settings.tick * ticks).as_millis() as u64;
            window
                .frames
                .push(wire::reactions_frame(topic, &counts, window_ms));
        }
        let stats = self.stats(self.here, settings.tick);
        let due = match &self.sent {
            None => true,
            Some((last, at)) => {
                stats.differs(last)
                    && (window.flip.is_some()
                        || turned
                        || now.saturating_duration_since(*at) >= STATS_EVERY)
            }
        };
        if due {
            window
                .frames
                .push(stats.frame(topic, &serde_json::Value::Null));
            self.sent = Some((stats, now));
        }
    }

    /// This node's report, if it has something to say: while the room is large here or
    /// elsewhere, when its reactions, counts or rates changed, and every second anyway.
    fn report(&mut self, reactions: Tally, tick: Duration, now: Instant) -> Option<Report> {
        if !self.large && !self.others_large() && self.told.as_ref().is_none_or(|(r, _)| !r.large) {
            return None;
        }
        let (posted, shown) = self.rates(tick);
        let report = Report {
            large: self.large,
            viewers: self.mine.viewers,
            connections: self.mine.connections,
            reactions: Default::default(),
            posted,
            shown,
        };
        let due = match &self.told {
            None => true,
            Some((last, at)) => {
                *last != report || now.saturating_duration_since(*at) >= REPORT_EVERY
            }
        };
        if !due && reactions.is_empty() {
            return None;
        }
        self.told = Some((report.clone(), now));
        Some(Report {
            reactions: reactions.counts().clone(),
            ..report
        })
    }
}
