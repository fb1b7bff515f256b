//! The book a node keeps of presence syncs, so that its copy of the other nodes' members
//! ends up right whatever was missed, at a bounded cost:
//! - a node asks about a topic, and answers about one, at most once per [`MIN_INTERVAL`];
//!   an ask or answer wanted sooner goes out once at the end of the interval (one answer
//!   on the topic's channel serves every node that asked meanwhile);
//! - a node answers even when it has no members there ("none" is news too);
//! - a node that holds members of another node in a topic, asks, and hears nothing from it
//!   about that topic within [`ANSWER_WITHIN`] forgets them: that node no longer listens
//!   to the topic, so its members left while the news could not travel.
//!
//! Pure bookkeeping: the listener does the sending and the forgetting.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The least time between two asks, or two answers, about one topic.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// How long the other nodes have to answer an ask, counting a deferred answer.
pub(crate) const ANSWER_WITHIN: Duration = Duration::from_secs(3);

#[derive(Debug, Default)]
pub(super) struct SyncBook {
    asked: HashMap<String, Instant>,
    ask_due: HashSet<String>,
    answered: HashMap<String, Instant>,
    answer_due: HashSet<String>,
    /// When each other node last said what its members of a topic are (a diff or an
    /// answer), by topic.
    heard: HashMap<String, HashMap<Arc<str>, Instant>>,
    /// Asks whose answers are awaited, oldest first.
    awaiting: VecDeque<(String, Instant)>,
}

/// Whether something may happen now for `topic` under the interval, or is deferred.
fn throttle(
    last: &mut HashMap<String, Instant>,
    due: &mut HashSet<String>,
    topic: &str,
    now: Instant,
) -> bool {
    match last.get(topic) {
        Some(at) if now.duration_since(*at) < MIN_INTERVAL => {
            due.insert(topic.to_owned());
            false
        }
        _ => {
            last.insert(topic.to_owned(), now);
            due.remove(topic);
            true
        }
    }
}

/// The deferred ones whose interval has passed, marked done now.
fn take_due(
    last: &mut HashMap<String, Instant>,
    due: &mut HashSet<String>,
    now: Instant,
) -> Vec<String> {
    let ready: Vec<String> = due
        .iter()
        .filter(|t| {
            last.get(*t)
                .is_none_or(|at| now.duration_since(*at) >= MIN_INTERVAL)
        })
        .cloned()
        .collect();
    for topic in &ready {
        due.remove(topic);
        last.insert(topic.clone(), now);
    }
    ready
}

impl SyncBook {
    /// Whether to ask about `topic` now (then the answers are awaited); `false` defers it.
    pub fn ask(&mut self, topic: &str, now: Instant) -> bool {
        let now_ok = throttle(&mut self.asked, &mut self.ask_due, topic, now);
        if now_ok {
            self.awaiting.push_back((topic.to_owned(), now));
        }
        now_ok
    }

    /// Notes an ask made now whatever the interval: one a node's own news calls for (it
    /// connected again, or heard a node it had dropped), which no client can set off.
    pub fn ask_now(&mut self, topic: &str, now: Instant) {
        self.asked.insert(topic.to_owned(), now);
        self.ask_due.remove(topic);
        self.awaiting.push_back((topic.to_owned(), now));
    }

    /// Notes an answer made now whatever the interval (see [`ask_now`](Self::ask_now)).
    pub fn answer_now(&mut self, topic: &str, now: Instant) {
        self.answered.insert(topic.to_owned(), now);
        self.answer_due.remove(topic);
    }

    /// Whether to answer about `topic` now; `false` defers it.
    pub fn answer(&mut self, topic: &str, now: Instant) -> bool {
        throttle(&mut self.answered, &mut self.answer_due, topic, now)
    }

    /// Deferred asks and answers that may go out now: (asks, answers). The asks are
    /// awaited from now.
    pub fn due(&mut self, now: Instant) -> (Vec<String>, Vec<String>) {
        let recent = |at: &mut Instant| now.duration_since(*at) < MIN_INTERVAL;
        self.asked.retain(|_, at| recent(at));
        self.answered.retain(|_, at| recent(at));
        let asks = take_due(&mut self.asked, &mut self.ask_due, now);
        for topic in &asks {
            self.awaiting.push_back((topic.clone(), now));
        }
        let answers = take_due(&mut self.answered, &mut self.answer_due, now);
        (asks, answers)
    }

    /// `node` said what its members of `topic` are.
    pub fn heard(&mut self, topic: &str, node: &Arc<str>, now: Instant) {
        match self.heard.get_mut(topic) {
            Some(nodes) => {
                nodes.insert(Arc::clone(node), now);
            }
            None => {
                self.heard
                    .insert(topic.to_owned(), HashMap::from([(Arc::clone(node), now)]));
            }
        }
    }

    /// Asks whose time to answer is up: (topic, when it was asked).
    pub fn overdue(&mut self, now: Instant) -> Vec<(String, Instant)> {
        let mut out = Vec::new();
        while let Some((_, at)) = self.awaiting.front() {
            if now.duration_since(*at) < ANSWER_WITHIN {
                break;
            }
            out.extend(self.awaiting.pop_front());
        }
        out
    }

    /// Whether `node` has said nothing about `topic` since `since`.
    pub fn silent_since(&self, topic: &str, node: &str, since: Instant) -> bool {
        self.heard
            .get(topic)
            .and_then(|nodes| nodes.get(node))
            .is_none_or(|at| *at < since)
    }

    /// This node left `topic`: nothing it heard about it is kept. When it last asked and
    /// answered is, until the interval is over, so joining and leaving again and again
    /// does not ask again and again.
    pub fn forget_topic(&mut self, topic: &str) {
        self.ask_due.remove(topic);
        self.answer_due.remove(topic);
        self.heard.remove(topic);
        self.awaiting.retain(|(t, _)| t != topic);
    }

    /// `node` is gone: nothing it said is kept.
    pub fn forget_node(&mut self, node: &str) {
        for nodes in self.heard.values_mut() {
            nodes.remove(node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_about_a_topic_are_spaced_and_a_deferred_one_goes_out_once() {
        let mut book = SyncBook::default();
        let t0 = Instant::now();
        assert!(book.ask("video:1", t0));
        assert!(!book.ask("video:1", t0 + Duration::from_millis(100)));
        assert!(!book.ask("video:1", t0 + Duration::from_millis(200)));
        assert!(book.ask("video:2", t0), "each topic has its own interval");
        assert_eq!(book.due(t0 + Duration::from_millis(500)), (vec![], vec![]));
        let (asks, _) = book.due(t0 + MIN_INTERVAL);
        assert_eq!(asks, vec!["video:1".to_owned()]);
        assert_eq!(book.due(t0 + MIN_INTERVAL * 3), (vec![], vec![]));
    }

    #[test]
    fn answers_are_spaced_the_same_way() {
        let mut book = SyncBook::default();
        let t0 = Instant::now();
        assert!(book.answer("video:1", t0));
        for i in 1..20 {
            assert!(!book.answer("video:1", t0 + Duration::from_millis(10 * i)));
        }
        let (_, answers) = book.due(t0 + MIN_INTERVAL);
        assert_eq!(
            answers,
            vec!["video:1".to_owned()],
            "twenty asks, one answer"
        );
    }

    #[test]
    fn a_node_silent_since_an_ask_is_found_once_the_answer_is_overdue() {
        let mut book = SyncBook::default();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a/1"), Arc::from("b/1"));
        let t0 = Instant::now();
        book.heard("video:1", &a, t0);
        book.heard("video:1", &b, t0);
        let asked = t0 + Duration::from_secs(1);
        assert!(book.ask("video:1", asked));
        book.heard("video:1", &b, asked + Duration::from_millis(5));
        assert!(book.overdue(asked + Duration::from_secs(1)).is_empty());
        let overdue = book.overdue(asked + ANSWER_WITHIN);
        assert_eq!(overdue, vec![("video:1".to_owned(), asked)]);
        assert!(book.silent_since("video:1", "a/1", asked));
        assert!(!book.silent_since("video:1", "b/1", asked));
        assert!(book.silent_since("video:1", "c/1", asked), "never heard");
        book.forget_node("b/1");
        assert!(book.silent_since("video:1", "b/1", asked));
        book.forget_topic("video:1");
        assert!(book.overdue(asked + ANSWER_WITHIN * 2).is_empty());
    }

    #[test]
    fn leaving_and_joining_again_does_not_reset_the_interval() {
        let mut book = SyncBook::default();
        let t0 = Instant::now();
        assert!(book.ask("video:1", t0));
        book.forget_topic("video:1");
        assert!(!book.ask("video:1", t0 + Duration::from_millis(300)));
        book.forget_topic("video:1");
        assert_eq!(
            book.due(t0 + MIN_INTERVAL),
            (vec![], vec![]),
            "left: not asked"
        );
        assert!(book.ask("video:1", t0 + MIN_INTERVAL * 2));
    }
}
