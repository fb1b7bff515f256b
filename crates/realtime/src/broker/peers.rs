//! What a node hears of the other nodes, as the broker tells it: who is alive, which
//! topics this node listens to, and what the others tell the nodes in a topic. Presence
//! reads it to keep every node's members; the broker knows nothing of members.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

/// One piece of news about the other nodes, in the order the broker learnt it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerNews {
    /// This node is linked to the others, for the first time or again after Redis was
    /// away: what it sent and what it missed meanwhile are lost.
    Linked,
    /// A node is heard for the first time: it started, it is back after being dropped as
    /// silent, or it is a new incarnation of a node id (which replaces the old one, told
    /// as [`Departed`](Self::Departed) just before).
    Arrived(Arc<str>),
    /// A node already known here says it linked again (it lost Redis for a while).
    Relinked(Arc<str>),
    /// A node is gone: unheard for too long, or replaced by its new incarnation.
    Departed(Arc<str>),
    /// This node now hears the other nodes about `topic`; `linked`: it can also talk to
    /// them now (otherwise [`Linked`](Self::Linked) follows once it can).
    Listening { topic: String, linked: bool },
    /// This node no longer listens to `topic` (its last socket there left).
    NotListening(String),
    /// What `from` told the nodes in `topic` (a [`NodeMessage`](super::NodeMessage)).
    Message {
        from: Arc<str>,
        topic: String,
        kind: String,
        body: Bytes,
    },
}

/// The receiving end of a broker's [`PeerNews`].
#[derive(Debug)]
pub struct Peers {
    news: mpsc::UnboundedReceiver<PeerNews>,
}

impl Peers {
    /// The next piece of news; `None` once the broker is gone.
    pub async fn next(&mut self) -> Option<PeerNews> {
        self.news.recv().await
    }
}

/// The sending end, kept by the broker.
#[derive(Clone, Debug)]
pub(super) struct Newsroom(mpsc::UnboundedSender<PeerNews>);

impl Newsroom {
    pub(super) fn new() -> (Self, Peers) {
        let (tx, news) = mpsc::unbounded_channel();
        (Self(tx), Peers { news })
    }

    /// Tells `news`; nobody listening (no presence) is fine.
    pub(super) fn tell(&self, news: PeerNews) {
        let _ = self.0.send(news);
    }
}
