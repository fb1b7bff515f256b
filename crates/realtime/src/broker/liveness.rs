//! Who else is there: every node says it is alive on the control channel every
//! [`HEARTBEAT`]; a node unheard for [`NODE_TIMEOUT`] is gone (a killed node never says
//! goodbye). A node's name on Redis is `<node id>/<incarnation>`, the incarnation new at
//! every start, so a node restarted under the same id is a new node, which replaces the
//! old one as soon as it is heard.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a node says it is alive, and how long a silent node keeps its members:
/// a killed node's members leave every other node's rooms within about 8 s.
pub(super) const HEARTBEAT: Duration = Duration::from_secs(2);
pub(super) const NODE_TIMEOUT: Duration = Duration::from_secs(6);

/// This node's name on Redis: `<node id>/<incarnation>`, the incarnation new at every
/// start. A node restarted under the same id (a container restarted in place, or PID 1
/// again) is thus a new node to the others, which drop what its previous life held as
/// soon as they hear the new one.
pub(super) fn incarnation(node: &str) -> Arc<str> {
    // The low bits of a v7 id are random.
    let random = uuid::Uuid::now_v7().as_u128() as u32;
    Arc::from(format!("{node}/{random:08x}"))
}

/// The node id of a name on Redis (`<node id>/<incarnation>`).
fn node_id(name: &str) -> &str {
    name.split_once('/').map_or(name, |(id, _)| id)
}

/// What hearing from a node meant.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Heard {
    /// Known and alive.
    Known(Arc<str>),
    /// Heard for the first time; the earlier incarnations it replaces are gone.
    New {
        node: Arc<str>,
        replaces: Vec<Arc<str>>,
    },
}

/// When each other node was last heard from.
#[derive(Debug, Default)]
pub(super) struct Liveness {
    last_heard: HashMap<Arc<str>, Instant>,
}

impl Liveness {
    /// Notes that `node` is alive at `now`.
    pub fn heard(&mut self, node: &str, now: Instant) -> Heard {
        if let Some((name, at)) = self.last_heard.get_key_value(node) {
            let name = Arc::clone(name);
            if *at < now {
                self.last_heard.insert(Arc::clone(&name), now);
            }
            return Heard::Known(name);
        }
        let name: Arc<str> = Arc::from(node);
        let replaces: Vec<Arc<str>> = self
            .last_heard
            .keys()
            .filter(|known| node_id(known) == node_id(node))
            .cloned()
            .collect();
        for old in &replaces {
            self.last_heard.remove(old);
        }
        self.last_heard.insert(Arc::clone(&name), now);
        Heard::New {
            node: name,
            replaces,
        }
    }

    /// The nodes unheard for longer than [`NODE_TIMEOUT`] at `now`, forgotten.
    pub fn silent(&mut self, now: Instant) -> Vec<Arc<str>> {
        let silent: Vec<Arc<str>> = self
            .last_heard
            .iter()
            .filter(|(_, at)| now.duration_since(**at) > NODE_TIMEOUT)
            .map(|(node, _)| Arc::clone(node))
            .collect();
        for node in &silent {
            self.last_heard.remove(node);
        }
        silent
    }

    /// Other nodes heard from lately.
    pub fn count(&self) -> usize {
        self.last_heard.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_new_once_then_known_and_silent_after_the_timeout() {
        let mut nodes = Liveness::default();
        let t0 = Instant::now();
        let Heard::New { node, replaces } = nodes.heard("a/1", t0) else {
            panic!("new");
        };
        assert_eq!((&*node, replaces.len()), ("a/1", 0));
        assert_eq!(nodes.heard("a/1", t0 + HEARTBEAT), Heard::Known(node));
        assert!(nodes.silent(t0 + NODE_TIMEOUT).is_empty());
        let gone = nodes.silent(t0 + HEARTBEAT + NODE_TIMEOUT + Duration::from_millis(1));
        assert_eq!(gone, vec![Arc::from("a/1")]);
        assert_eq!(nodes.count(), 0);
        assert!(matches!(nodes.heard("a/1", t0), Heard::New { .. }), "back");
    }

    #[test]
    fn a_new_incarnation_replaces_the_old_one() {
        let mut nodes = Liveness::default();
        let t0 = Instant::now();
        nodes.heard("a/1", t0);
        nodes.heard("b/1", t0);
        let Heard::New { replaces, .. } = nodes.heard("a/2", t0) else {
            panic!("new");
        };
        assert_eq!(replaces, vec![Arc::from("a/1")]);
        assert_eq!(nodes.count(), 2);
        assert_eq!(incarnation("n").len(), "n/".len() + 8);
        assert_ne!(incarnation("n"), incarnation("n"));
    }
}
