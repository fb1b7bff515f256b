//! WebSockets: limits and timings per socket, per user, per address and per node, the
//! presence window, and when a room is large and what it then sends; the defaults are
//! `realtime::RealtimeConfig`'s.

use std::time::Duration;

use realtime::RealtimeConfig;
use serde::{Deserialize, Serialize};

use super::checks::{Check, above_zero_at_most, at_most, between, require};

/// The socket settings as read.
#[derive(Debug, Deserialize, Serialize)]
#[serde(default)]
pub(super) struct Sockets {
    ws_idle_timeout_secs: u64,
    ws_max_frame_bytes: usize,
    ws_outbox_frames: usize,
    ws_outbox_bytes: usize,
    ws_max_channels: usize,
    ws_pushes_per_second: f64,
    ws_push_burst: f64,
    ws_joins_per_second: f64,
    ws_max_sockets: usize,
    ws_max_sockets_per_user: usize,
    ws_max_sockets_per_address: usize,
    presence_window_ms: u64,
    room_large_members: usize,
    room_tick_ms: u64,
    room_comments_per_second: f64,
    room_writes_per_second: u64,
}

impl Default for Sockets {
    fn default() -> Self {
        let realtime = RealtimeConfig::default();
        Self {
            ws_idle_timeout_secs: realtime.idle_timeout.as_secs(),
            ws_max_frame_bytes: realtime.max_frame_bytes,
            ws_outbox_frames: realtime.outbox_capacity,
            ws_outbox_bytes: realtime.outbox_bytes,
            ws_max_channels: realtime.max_channels,
            ws_pushes_per_second: realtime.pushes_per_second,
            ws_push_burst: realtime.push_burst,
            ws_joins_per_second: realtime.joins_per_second,
            // 0: sized at start from the open-files limit (`app::socket_budget`), which only
            // the server knows; RealtimeConfig's own number is for tests.
            ws_max_sockets: 0,
            ws_max_sockets_per_user: realtime.max_sockets_per_user,
            ws_max_sockets_per_address: realtime.max_sockets_per_address,
            presence_window_ms: super::millis(realtime.presence_window),
            room_large_members: realtime.large_room_members,
            room_tick_ms: super::millis(realtime.room_tick),
            room_comments_per_second: realtime.room_comments_per_second,
            room_writes_per_second: realtime.room_writes_per_second,
        }
    }
}

pub(super) const CHECKS: &[Check<Sockets>] = &[
    Check {
        variable: "RTS_WS_IDLE_TIMEOUT_SECS",
        rule: |s| between(s.ws_idle_timeout_secs, 1, 3600),
    },
    Check {
        variable: "RTS_WS_MAX_FRAME_BYTES",
        rule: |s| between(s.ws_max_frame_bytes, 1024, 16 * 1024 * 1024),
    },
    Check {
        variable: "RTS_WS_OUTBOX_FRAMES",
        rule: |s| between(s.ws_outbox_frames, 16, 1_000_000),
    },
    Check {
        variable: "RTS_WS_OUTBOX_BYTES",
        rule: |s| between(s.ws_outbox_bytes, 64 * 1024, 1024 * 1024 * 1024),
    },
    Check {
        variable: "RTS_WS_MAX_CHANNELS",
        rule: |s| between(s.ws_max_channels, 1, 1000),
    },
    Check {
        variable: "RTS_WS_PUSHES_PER_SECOND",
        rule: |s| above_zero_at_most(s.ws_pushes_per_second, 10_000.0),
    },
    Check {
        variable: "RTS_WS_PUSH_BURST",
        rule: |s| between(s.ws_push_burst, 1.0, 100_000.0),
    },
    Check {
        variable: "RTS_WS_JOINS_PER_SECOND",
        rule: |s| above_zero_at_most(s.ws_joins_per_second, 10_000.0),
    },
    Check {
        variable: "RTS_WS_MAX_SOCKETS",
        rule: |s| {
            require(
                s.ws_max_sockets <= 10_000_000,
                "must be 0 (from the open-files limit) or at most 10000000",
            )
        },
    },
    Check {
        variable: "RTS_WS_MAX_SOCKETS_PER_USER",
        rule: |s| between(s.ws_max_sockets_per_user, 1, 1_000_000),
    },
    Check {
        variable: "RTS_WS_MAX_SOCKETS_PER_ADDRESS",
        rule: |s| between(s.ws_max_sockets_per_address, 1, 10_000_000),
    },
    Check {
        variable: "RTS_PRESENCE_WINDOW_MS",
        rule: |s| at_most(s.presence_window_ms, 5000),
    },
    Check {
        variable: "RTS_ROOM_LARGE_MEMBERS",
        rule: |s| at_most(s.room_large_members, 100_000_000),
    },
    Check {
        variable: "RTS_ROOM_TICK_MS",
        rule: |s| between(s.room_tick_ms, 20, 5000),
    },
    Check {
        variable: "RTS_ROOM_COMMENTS_PER_SECOND",
        rule: |s| above_zero_at_most(s.room_comments_per_second, 10_000.0),
    },
    Check {
        variable: "RTS_ROOM_WRITES_PER_SECOND",
        rule: |s| at_most(s.room_writes_per_second, 100_000_000),
    },
];

impl Sockets {
    /// The realtime side's limits; `max_sockets` is 0 until startup reads the open-files
    /// limit (see `app::socket_budget`).
    pub(super) fn realtime(&self) -> RealtimeConfig {
        let defaults = RealtimeConfig::default();
        RealtimeConfig {
            max_channels: self.ws_max_channels,
            outbox_capacity: self.ws_outbox_frames,
            outbox_bytes: self.ws_outbox_bytes,
            pushes_per_second: self.ws_pushes_per_second,
            push_burst: self.ws_push_burst,
            joins_per_second: self.ws_joins_per_second,
            // A reconnect rejoins every channel at once.
            join_burst: (self.ws_max_channels as f64).max(defaults.join_burst),
            max_sockets: self.ws_max_sockets,
            max_sockets_per_user: self.ws_max_sockets_per_user,
            max_sockets_per_address: self.ws_max_sockets_per_address,
            presence_window: Duration::from_millis(self.presence_window_ms),
            max_frame_bytes: self.ws_max_frame_bytes,
            idle_timeout: Duration::from_secs(self.ws_idle_timeout_secs),
            large_room_members: self.room_large_members,
            room_tick: Duration::from_millis(self.room_tick_ms),
            room_comments_per_second: self.room_comments_per_second,
            room_writes_per_second: self.room_writes_per_second,
            ..defaults
        }
    }
}
