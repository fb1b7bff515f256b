//! What presence says of a member: the meta each of its connections carries (written
//! here, read here), and the member as every node sees it.

use serde::{Deserialize, Serialize};

/// What one connection tells the room about its member (besides Phoenix's `phx_ref`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Connection {
    pub username: String,
    /// The client-chosen device id.
    pub device_id: String,
    /// When the connection joined, in Unix seconds.
    pub online_at: i64,
}

/// One member of a room as every node sees it: its first connection, and how many it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub first: Connection,
    /// Connections (metas) on every node.
    pub connections: usize,
}
