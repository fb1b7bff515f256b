//! Where a run's sockets go: one room, on every node, each socket with a user's token.
//! Viewers take the first tokens, then publishers, then reactors, so with a token per socket
//! every socket is a user of its own; with fewer tokens they wrap around and users share.

use super::{Plan, signup, tokens};

/// What a socket does in the run, and its number among its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Viewer(usize),
    Publisher(usize),
    Reactor(usize),
}

pub(super) struct Room {
    pub(super) topic: String,
    /// The WebSocket base URL of every node; the first is where publishers and reactors go.
    pub(super) nodes: Vec<String>,
    tokens: Vec<String>,
    /// Viewers and publishers before the reactors' tokens.
    viewers: usize,
    publishers: usize,
}

impl Room {
    /// Reads the plan's token file, or signs up to 200 users (unless the plan says not to:
    /// then the tokens are made up), and names the room.
    pub(super) async fn prepare(base: &str, scenario: &str, plan: &Plan) -> Result<Self, String> {
        let tokens = if let Some(path) = &plan.tokens {
            tokens::read(path)?
        } else if plan.signup {
            signup::users(base, plan.sockets.clamp(1, 200)).await?
        } else {
            (0..plan.sockets.clamp(1, 200))
                .map(|i| format!("bench-{i}"))
                .collect()
        };
        let nodes = std::iter::once(base)
            .chain(plan.other_nodes.iter().map(|(b, _)| b.as_str()))
            .map(|b| b.replace("http://", "ws://"))
            .collect();
        let topic = format!("video:bench-{scenario}-{}", std::process::id());
        Ok(Self {
            topic,
            nodes,
            tokens,
            viewers: plan.sockets,
            publishers: plan.publishers,
        })
    }

    /// How many distinct users the sockets are.
    pub(super) fn users(&self) -> usize {
        self.tokens.len()
    }

    /// The URL of the socket with `role`: viewers spread over the nodes, the others on the
    /// first.
    pub(super) fn url(&self, role: Role) -> String {
        let (node, token) = match role {
            Role::Viewer(i) => (i % self.nodes.len(), i),
            Role::Publisher(i) => (0, self.viewers + i),
            Role::Reactor(i) => (0, self.viewers + self.publishers + i),
        };
        format!(
            "{}/socket/websocket?vsn=2.0.0&token={}",
            self.nodes[node],
            self.tokens[token % self.tokens.len()]
        )
    }
}
