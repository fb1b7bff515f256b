//! A large room's comment budget: at most so many comments a second are broadcast over
//! the whole cluster; past it a comment is still stored and answered, but held back from
//! everyone but its author and the moderators.
//!
//! Each node spends a share of the budget, in proportion to how many comments were
//! posted on it (every node counts one more, so a quiet node can start), as the nodes'
//! reports of the last second say; the shares add up to the budget. Within a node's share
//! the posters take turns: a user may be shown again only after as many turns as there
//! are users posting, so one user posting fast does not take the room from the others.
//! Moderators' and admins' comments always go out, outside the budget.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use domain::UserId;

/// A user who posted within this long counts as posting.
const ACTIVE: Duration = Duration::from_secs(2);
/// Posters not heard of for this long are forgotten.
const FORGET: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct Poster {
    posted: Instant,
    shown: Option<Instant>,
}

/// One node's spending of one room's budget.
#[derive(Debug, Default)]
pub(super) struct Budget {
    /// Comments this node may broadcast now.
    tokens: f64,
    /// This node's share of the budget, comments a second.
    share: f64,
    posters: HashMap<UserId, Poster>,
    /// Users who posted within [`ACTIVE`], as of the last window.
    active: usize,
    /// A window went by already (the first fills the budget: a room that just turned
    /// large shows its next comments).
    started: bool,
}

impl Budget {
    /// A window went by: the share is `share` comments a second now, and its tokens
    /// refill; at most a second's worth (and at least one comment) is saved up.
    pub fn window(&mut self, share: f64, elapsed: Duration, now: Instant) {
        self.share = share.max(0.0);
        let cap = self.share.max(1.0);
        self.tokens = if std::mem::replace(&mut self.started, true) {
            (self.tokens + self.share * elapsed.as_secs_f64()).min(cap)
        } else {
            cap
        };
        self.posters
            .retain(|_, p| now.saturating_duration_since(p.posted) < FORGET);
        self.active = self
            .posters
            .values()
            .filter(|p| now.saturating_duration_since(p.posted) < ACTIVE)
            .count();
    }

    /// Whether `user`'s comment, posted now, is broadcast.
    pub fn admit(&mut self, user: UserId, now: Instant) -> bool {
        let poster = self.posters.entry(user).or_insert(Poster {
            posted: now,
            shown: None,
        });
        poster.posted = now;
        if self.tokens < 1.0 || self.share <= 0.0 {
            return false;
        }
        // A turn is one comment of the share; everyone posting gets one before anyone
        // gets a second.
        let turns = self.active.max(1) as f64;
        let gap = Duration::from_secs_f64((turns / self.share).min(3600.0));
        let rested = poster
            .shown
            .is_none_or(|shown| now.saturating_duration_since(shown) >= gap);
        if !rested {
            return false;
        }
        poster.shown = Some(now);
        self.tokens -= 1.0;
        true
    }
}

/// This node's share of `budget` comments a second: in proportion to what was posted
/// on it (`mine`, a second) against the other nodes of the room (`others`), each counted
/// one more.
pub(super) fn share(budget: f64, mine: f64, others: impl Iterator<Item = f64>) -> f64 {
    let mine = mine + 1.0;
    let total: f64 = mine + others.map(|o| o + 1.0).sum::<f64>();
    budget * mine / total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u128) -> UserId {
        UserId::from_uuid(uuid::Uuid::from_u128(n))
    }

    /// Posts of `users` in turn, `per_second` each, for `seconds`; how many were shown.
    fn run(budget: f64, users: &[(u128, u32)], seconds: u32) -> HashMap<u128, u32> {
        let mut b = Budget::default();
        let start = Instant::now();
        let tick = Duration::from_millis(250);
        let mut shown = HashMap::new();
        for w in 0..seconds * 4 {
            let now = start + tick * w;
            b.window(budget, tick, now);
            for (id, per_second) in users {
                // Spread each user's posts over the window's quarter of a second.
                let posts = per_second / 4;
                for i in 0..posts {
                    let at = now + tick * i / posts.max(1);
                    if b.admit(user(*id), at) {
                        *shown.entry(*id).or_default() += 1;
                    }
                }
            }
        }
        shown
    }

    #[test]
    fn no_more_than_the_budget_goes_out() {
        let shown = run(10.0, &[(1, 40), (2, 40), (3, 40)], 10);
        let total: u32 = shown.values().sum();
        assert!((90..=110).contains(&total), "{total} in 10 s at 10/s");
    }

    #[test]
    fn a_fast_poster_does_not_take_the_room_from_slow_ones() {
        // One user at 100/s, nine at 4/s: 136 offered a second for a budget of 10.
        let mut users = vec![(1, 100)];
        users.extend((2..=10).map(|u| (u, 4)));
        let shown = run(10.0, &users, 20);
        let fast = shown.get(&1).copied().unwrap_or(0);
        let slowest = (2..=10).map(|u| shown.get(&u).copied().unwrap_or(0)).min();
        assert!(fast <= 30, "the fast poster got {fast} of ~200");
        assert!(slowest >= Some(10), "every slow poster is shown: {shown:?}");
    }

    #[test]
    fn shares_follow_what_was_posted_and_add_up_to_the_budget() {
        let a = share(10.0, 99.0, [0.0].into_iter());
        let b = share(10.0, 0.0, [99.0].into_iter());
        assert!((a + b - 10.0).abs() < 1e-9);
        assert!(a > 9.0 && b < 1.0);
        assert_eq!(share(10.0, 0.0, std::iter::empty()), 10.0);
    }
}
