//! The realtime side's limits and timings, with their defaults (the server's settings
//! read them from here).

use std::time::Duration;

/// Limits and timings of the realtime side.
#[derive(Clone, Copy, Debug)]
pub struct RealtimeConfig {
    /// Channels one socket may have joined at once.
    pub max_channels: usize,
    /// Frames queued for one socket before it counts as too slow and is closed.
    pub outbox_capacity: usize,
    /// Bytes queued for one socket before it counts as too slow and is closed.
    pub outbox_bytes: usize,
    /// Pushes (comments, reactions) per second per socket, and the burst allowed.
    pub pushes_per_second: f64,
    pub push_burst: f64,
    /// Joins per second per socket, and the burst allowed (a reconnect rejoins every
    /// channel at once, so the burst is at least `max_channels`).
    pub joins_per_second: f64,
    pub join_burst: f64,
    /// Presence changes within this window go out as one diff.
    pub presence_window: Duration,
    /// Comments sent on a plain join.
    pub join_history: u16,
    /// Most comments sent on a join with `since`.
    pub since_limit: u16,
    /// Most bytes of comments sent on a join with `since`; past it the reply says
    /// `complete: false` and the client pages on.
    pub since_bytes: usize,
    /// Largest text frame accepted, in bytes.
    pub max_frame_bytes: usize,
    /// A socket that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// Sockets this node keeps open at once (kept under its open-files limit, so health
    /// checks and requests still get a file descriptor when sockets are refused).
    pub max_sockets: usize,
    /// Sockets one user, or one client address, may have open on this node.
    pub max_sockets_per_user: usize,
    pub max_sockets_per_address: usize,
    /// Viewers (distinct users, over every node) from which a room is large: counts
    /// instead of member lists, reactions counted, comments within a budget, one write
    /// per window (see docs/realtime.md). 0: no room is ever large.
    pub large_room_members: usize,
    /// A large room's window: its sockets get what happened in it together, once.
    pub room_tick: Duration,
    /// Comments a second a large room broadcasts, over every node.
    pub room_comments_per_second: f64,
    /// Writes a second one node makes to the sockets of one large room: past it, its
    /// windows there stretch to whole ticks (up to 1 s), so a node of many viewers costs
    /// a bounded number of writes a second. 0: never stretched.
    pub room_writes_per_second: u64,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            max_channels: 20,
            outbox_capacity: 1024,
            outbox_bytes: 4 * 1024 * 1024,
            pushes_per_second: 5.0,
            push_burst: 20.0,
            joins_per_second: 2.0,
            join_burst: 20.0,
            presence_window: Duration::from_millis(50),
            join_history: 50,
            since_limit: 500,
            since_bytes: 512 * 1024,
            max_frame_bytes: 16 * 1024,
            idle_timeout: Duration::from_secs(60),
            max_sockets: 10_000,
            max_sockets_per_user: 64,
            max_sockets_per_address: 10_000,
            large_room_members: 1000,
            room_tick: Duration::from_millis(250),
            room_comments_per_second: 10.0,
            room_writes_per_second: 100_000,
        }
    }
}

impl RealtimeConfig {
    pub(crate) fn audience(&self) -> crate::audience::Settings {
        crate::audience::Settings {
            large_members: self.large_room_members as u64,
            tick: self.room_tick,
            comments_per_second: self.room_comments_per_second,
            writes_per_second: self.room_writes_per_second,
        }
    }
}
