//! Hot-room measurements (`--name hot`, or any run with `--reaction-rate`): what every
//! viewer saw during the steady-state window. Comments are numbered by the publishers
//! (`seq=`), so each viewer keeps the set it received; a comment counts as shown if some
//! viewer received it (held-back ones, which only moderators and the author see, do not),
//! and a viewer lost every shown comment it lacks. Reactions are numbered as they are
//! pushed and their push times kept, so a viewer summing the counts it receives knows
//! which reactions its sum now covers, and how long ago the oldest of them was pushed.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::frames::{self, RoomStats};
use crate::stats::Histogram;

/// Counters of what the viewers received, by kind; snapshots of them bound the window.
#[derive(Debug, Default)]
pub(super) struct Received {
    pub(super) frames: AtomicU64,
    pub(super) bytes: AtomicU64,
    pub(super) comments: AtomicU64,
    pub(super) held: AtomicU64,
    pub(super) reactions: AtomicU64,
    pub(super) room_stats: AtomicU64,
    pub(super) presence: AtomicU64,
}

impl Received {
    /// frames, bytes, comments, held, reactions, room_stats, presence.
    pub(super) fn snapshot(&self) -> [u64; 7] {
        [
            &self.frames,
            &self.bytes,
            &self.comments,
            &self.held,
            &self.reactions,
            &self.room_stats,
            &self.presence,
        ]
        .map(|c| c.load(Ordering::Relaxed))
    }
}

/// Where the counters stood at one end of the window.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Mark {
    received: [u64; 7],
    /// The next comment and reaction numbers.
    comments: u64,
    reactions: u64,
    /// Comments the server acknowledged so far.
    published: u64,
}

/// What happened between two marks: the steady-state window.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Window {
    /// What the viewers received ([`Received::snapshot`]'s order).
    pub(super) received: [u64; 7],
    /// The numbers of the comments and reactions pushed in the window.
    pub(super) comments: (u64, u64),
    pub(super) reactions: (u64, u64),
    /// Comments the server acknowledged in the window.
    pub(super) posted: u64,
}

impl Window {
    pub(super) fn between(start: Mark, end: Mark) -> Self {
        let mut received = end.received;
        for (r, s) in received.iter_mut().zip(start.received) {
            *r -= s;
        }
        Self {
            received,
            comments: (start.comments, end.comments),
            reactions: (start.reactions, end.reactions),
            posted: end.published - start.published,
        }
    }
}

/// What the viewers and pushers of a run report into.
#[derive(Debug, Default)]
pub(super) struct HotRoom {
    /// Set during the steady-state window (room stats are kept only then).
    measuring: AtomicBool,
    /// The comments, then the reactions, whose latencies are timed: `[first, end)` (none
    /// until the window opens; the end is set when it closes, and receipts of comments
    /// pushed before then still count while they arrive).
    timed_comments: [AtomicU64; 2],
    timed_reactions: [AtomicU64; 2],
    /// The next comment number a publisher takes.
    pub(super) next_seq: AtomicU64,
    /// The next reaction number a reactor takes; also how many were pushed.
    pub(super) next_reaction: AtomicU64,
    pub(super) reactions_refused: AtomicU64,
    /// When reaction `n` was pushed (µs since the epoch; 0 = not known).
    reaction_sent: Vec<AtomicU64>,
    pub(super) received: Received,
    /// Post-to-screen latency of shown comments, every viewer's receipt of one.
    pub(super) latency: Histogram,
    /// From a reaction's push until a viewer's counts first covered it, per frame that
    /// covered new reactions (the oldest of them).
    pub(super) reaction_lag: Histogram,
    /// Every viewer's received comment numbers (a bit set), handed in when it ends.
    pub(super) receipts: Mutex<Vec<Vec<u64>>>,
    /// Reactions counted by the viewers, summed.
    pub(super) reactions_counted: AtomicU64,
    /// Viewer 0's `room_stats` during the window.
    pub(super) room_stats: Mutex<Vec<RoomStats>>,
}

impl HotRoom {
    /// Room for `reactions` pushes' times (more are pushed, but their lag is not timed).
    pub(super) fn new(reactions: usize) -> Self {
        Self {
            reaction_sent: (0..reactions).map(|_| AtomicU64::new(0)).collect(),
            ..Self::default()
        }
    }

    /// A reactor pushes a reaction now: its number.
    pub(super) fn reaction_pushed(&self) -> u64 {
        let n = self.next_reaction.fetch_add(1, Ordering::Relaxed);
        if let Some(at) = self.reaction_sent.get(n as usize) {
            at.store(frames::now_micros(), Ordering::Relaxed);
        }
        n
    }

    /// How long ago reaction `n` was pushed, if known.
    fn since_reaction(&self, n: u64) -> Option<Duration> {
        let sent = self.reaction_sent.get(n as usize)?.load(Ordering::Relaxed);
        (sent > 0).then(|| Duration::from_micros(frames::now_micros().saturating_sub(sent)))
    }

    fn measuring(&self) -> bool {
        self.measuring.load(Ordering::Relaxed)
    }

    /// Starts the window: from here comments and reactions are timed.
    pub(super) fn open_window(&self, published: u64) -> Mark {
        let mark = self.mark(published);
        for (timed, first) in [
            (&self.timed_comments, mark.comments),
            (&self.timed_reactions, mark.reactions),
        ] {
            timed[1].store(u64::MAX, Ordering::Relaxed);
            timed[0].store(first, Ordering::Relaxed);
        }
        self.measuring.store(true, Ordering::Relaxed);
        mark
    }

    /// Ends the window: what is pushed from here is not timed.
    pub(super) fn close_window(&self, published: u64) -> Mark {
        let mark = self.mark(published);
        self.timed_comments[1].store(mark.comments, Ordering::Relaxed);
        self.timed_reactions[1].store(mark.reactions, Ordering::Relaxed);
        self.measuring.store(false, Ordering::Relaxed);
        mark
    }

    fn mark(&self, published: u64) -> Mark {
        Mark {
            received: self.received.snapshot(),
            comments: self.next_seq.load(Ordering::Relaxed),
            reactions: self.next_reaction.load(Ordering::Relaxed),
            published,
        }
    }
}

/// Whether `n` is in the `[first, end)` of `timed`.
fn timed(timed: &[AtomicU64; 2], n: u64) -> bool {
    (timed[0].load(Ordering::Relaxed)..timed[1].load(Ordering::Relaxed)).contains(&n)
}

/// What one viewer has received.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Viewer 0 also keeps the room's own figures.
    keeps_room_stats: bool,
    /// Bit `n` is set once comment `n` arrived (shown, not held).
    comments: Vec<u64>,
    /// Reactions counted so far (a large room's counts summed, or a small room's one by one).
    reactions: u64,
}

impl Tally {
    pub(super) fn new(keeps_room_stats: bool) -> Self {
        Self {
            keeps_room_stats,
            ..Self::default()
        }
    }

    /// Counts a frame this viewer received, of kind `kind`.
    pub(super) fn frame(&mut self, room: &HotRoom, kind: frames::Kind, text: &str) {
        let received = &room.received;
        received.frames.fetch_add(1, Ordering::Relaxed);
        received
            .bytes
            .fetch_add(text.len() as u64, Ordering::Relaxed);
        let counter = match kind {
            frames::Kind::Comment if frames::is_held(text) => &received.held,
            frames::Kind::Comment => {
                self.comment(room, text);
                &received.comments
            }
            frames::Kind::Reactions => {
                self.reactions(room, frames::reactions_counted(text).unwrap_or(0));
                &received.reactions
            }
            frames::Kind::Reaction => {
                self.reactions(room, 1);
                &received.reactions
            }
            frames::Kind::RoomStats => {
                if self.keeps_room_stats
                    && room.measuring()
                    && let Some(stats) = frames::room_stats(text)
                {
                    let mut kept = room.room_stats.lock().unwrap_or_else(|p| p.into_inner());
                    kept.push(stats);
                }
                &received.room_stats
            }
            frames::Kind::Presence => &received.presence,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn comment(&mut self, room: &HotRoom, text: &str) {
        let Some(seq) = frames::seq_stamp(text) else {
            return;
        };
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if self.comments.len() <= word {
            self.comments.resize(word + 1, 0);
        }
        let first = self.comments[word] & (1 << bit) == 0;
        self.comments[word] |= 1 << bit;
        if first
            && timed(&room.timed_comments, seq)
            && let Some(latency) = frames::since_stamp(text)
        {
            room.latency.record(latency);
        }
    }

    /// `n` more reactions counted: the oldest newly covered one's lag is recorded.
    fn reactions(&mut self, room: &HotRoom, n: u64) {
        if n == 0 {
            return;
        }
        if timed(&room.timed_reactions, self.reactions)
            && let Some(lag) = room.since_reaction(self.reactions)
        {
            room.reaction_lag.record(lag);
        }
        self.reactions += n;
    }

    /// Hands what this viewer received to the run.
    pub(super) fn finish(self, room: &HotRoom) {
        room.reactions_counted
            .fetch_add(self.reactions, Ordering::Relaxed);
        let mut receipts = room.receipts.lock().unwrap_or_else(|p| p.into_inner());
        receipts.push(self.comments);
    }
}

/// Shown comments and losses among comments `from..to`: (shown, Σ over viewers of shown
/// comments it lacks, viewers).
pub(super) fn shown_and_lost(receipts: &[Vec<u64>], from: u64, to: u64) -> (u64, u64, u64) {
    let in_window = |set: &[u64]| {
        (from..to)
            .filter(|&n| {
                set.get((n / 64) as usize)
                    .is_some_and(|w| w & (1 << (n % 64)) != 0)
            })
            .count() as u64
    };
    let words = receipts.iter().map(Vec::len).max().unwrap_or(0);
    let mut union = vec![0u64; words];
    for set in receipts {
        for (u, w) in union.iter_mut().zip(set) {
            *u |= w;
        }
    }
    let shown = in_window(&union);
    let viewers = receipts.len() as u64;
    let received: u64 = receipts.iter().map(|set| in_window(set)).sum();
    (shown, shown * viewers - received, viewers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_no_viewer_got_is_not_shown_and_one_some_got_is_lost_by_the_others() {
        // Comments 0..4: 0 and 1 reached both viewers, 2 only the first, 3 nobody; 70
        // (outside the window) only the second.
        let a = vec![0b0111];
        let b = vec![0b0011, 1 << 6];
        assert_eq!(shown_and_lost(&[a.clone(), b.clone()], 0, 4), (3, 1, 2));
        assert_eq!(shown_and_lost(&[a, b], 1, 71), (3, 2, 2));
        assert_eq!(shown_and_lost(&[], 0, 10), (0, 0, 0));
    }

    #[test]
    fn viewers_tally_comments_once_and_reactions_from_the_oldest_uncovered() {
        let room = HotRoom::new(10);
        let start = room.open_window(0);
        for _ in 0..3 {
            room.reaction_pushed();
        }
        room.next_seq.store(6, Ordering::Relaxed);
        let mut tally = Tally::new(true);
        let comment = format!(
            r#"[null,null,"video:x","new_comment",{{"comment":{{"content":"{}"}}}}]"#,
            frames::comment_content(5)
        );
        for _ in 0..2 {
            tally.frame(&room, frames::Kind::Comment, &comment);
        }
        let counts = r#"[null,null,"video:x","reactions",{"counts":{"a":2,"b":1}}]"#;
        tally.frame(&room, frames::Kind::Reactions, counts);
        let stats = r#"[null,null,"video:x","room_stats",{"viewers":1,"connections":1,"mode":"small","posted_per_second":0,"shown_per_second":0}]"#;
        tally.frame(&room, frames::Kind::RoomStats, stats);
        assert_eq!(room.latency.count(), 1, "a duplicate is timed once");
        assert_eq!(room.reaction_lag.count(), 1, "one frame, one lag");
        assert_eq!(room.received.snapshot(), {
            let bytes = (2 * comment.len() + counts.len() + stats.len()) as u64;
            [4, bytes, 2, 0, 1, 1, 0]
        });
        let window = Window::between(start, room.close_window(1));
        assert_eq!(
            (window.comments, window.reactions, window.posted),
            ((0, 6), (0, 3), 1)
        );
        tally.frame(
            &room,
            frames::Kind::Comment,
            &comment.replace("seq=5", "seq=6"),
        );
        assert_eq!(
            room.latency.count(),
            1,
            "comments pushed after the window are not timed"
        );
        tally.finish(&room);
        assert_eq!(room.reactions_counted.load(Ordering::Relaxed), 3);
        let receipts = room.receipts.lock().expect("not poisoned");
        assert_eq!(shown_and_lost(&receipts, 0, 6), (1, 0, 1));
        assert_eq!(room.room_stats.lock().expect("not poisoned").len(), 1);
    }
}
