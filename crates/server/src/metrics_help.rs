//! The `# HELP` line of every metric on `/metrics`: what it means, written once here.

/// What each metric means, as `/metrics` says in its `# HELP` lines (Prometheus's
/// `promtool check metrics` asks for one on every metric; `cargo xtask test` runs it).
const METRICS: &[(Instrument, &str, &str)] = &[
    (
        Instrument::Histogram,
        "http_request_duration_seconds",
        "REST and other HTTP requests: time to the response, by route, method and status",
    ),
    (
        Instrument::Gauge,
        "db_pool_connections",
        "Database connections in the pool, by state (open, idle)",
    ),
    (
        Instrument::Gauge,
        "db_pool_max_connections",
        "The most connections the database pool opens",
    ),
    (
        Instrument::Gauge,
        "db_pool_waiting",
        "Requests waiting for a database connection",
    ),
    (
        Instrument::Gauge,
        "realtime_open_sockets",
        "WebSockets open on this node",
    ),
    (
        Instrument::Counter,
        "realtime_sockets_refused_total",
        "WebSocket upgrades refused by a socket limit, by reason (user, address, node)",
    ),
    (
        Instrument::Counter,
        "realtime_joins_total",
        "Channel joins asked for",
    ),
    (
        Instrument::Counter,
        "realtime_frames_received_total",
        "WebSocket frames received, by event",
    ),
    (
        Instrument::Counter,
        "realtime_pushes_total",
        "Comments and reactions pushed over sockets, by event",
    ),
    (
        Instrument::Counter,
        "realtime_deliveries_total",
        "Broadcast frames queued for this node's sockets, by event",
    ),
    (
        Instrument::Counter,
        "realtime_queue_drops_total",
        "Frames not queued because a socket's queue was full",
    ),
    (
        Instrument::Counter,
        "realtime_slow_consumer_disconnects_total",
        "Sockets closed for not keeping up with their rooms (1013)",
    ),
    (
        Instrument::Gauge,
        "realtime_rooms",
        "Rooms with sockets on this node, by mode (small: every event to everyone; large: counts, counted reactions, a comment budget)",
    ),
    (
        Instrument::Gauge,
        "realtime_top_room_viewers",
        "Viewers over every node of this node's largest rooms, by rank (1 is the largest; the rooms are named in the log when they turn large)",
    ),
    (
        Instrument::Counter,
        "realtime_large_room_comments_total",
        "Comments posted through this node in large rooms, by admission (shown: broadcast; held: to their author and the moderators only)",
    ),
    (
        Instrument::Counter,
        "realtime_room_windows_total",
        "A large room's window written to one socket (everything of the window at once)",
    ),
    (
        Instrument::Counter,
        "realtime_reaction_windows_total",
        "reactions frames made, one per large room and window with reactions",
    ),
    (
        Instrument::Counter,
        "realtime_presence_diffs_total",
        "presence_diff frames sent by this node",
    ),
    (
        Instrument::Histogram,
        "realtime_push_duration_seconds",
        "A push from arrival to its reply, storing included, by event",
    ),
    (
        Instrument::Histogram,
        "realtime_fanout_duration_seconds",
        "Queueing one broadcast for every subscriber on this node, by event",
    ),
    (
        Instrument::Gauge,
        "realtime_broker_connected",
        "1 while Redis answers, else 0",
    ),
    (
        Instrument::Counter,
        "realtime_broker_published_total",
        "Messages published on Redis",
    ),
    (
        Instrument::Histogram,
        "realtime_broker_publish_duration_seconds",
        "Time for Redis to take one published message",
    ),
    (
        Instrument::Counter,
        "realtime_broker_received_total",
        "Messages from other nodes received over Redis",
    ),
    (
        Instrument::Counter,
        "realtime_broker_dropped_total",
        "Messages not published: Redis away or the publish queue full",
    ),
    (
        Instrument::Counter,
        "realtime_broker_lagged_total",
        "Messages received over Redis but missed by a node that fell behind",
    ),
    (
        Instrument::Counter,
        "realtime_broker_malformed_total",
        "Messages on Redis this node could not read",
    ),
    (
        Instrument::Counter,
        "realtime_presence_nodes_dropped_total",
        "Other nodes dropped with their members (silent, or restarted)",
    ),
    (
        Instrument::Counter,
        "realtime_presence_syncs_total",
        "Presence syncs between nodes, by step (asked, answered, applied, unanswered)",
    ),
    (
        Instrument::Counter,
        "realtime_shared_limit_fallbacks_total",
        "Rate-limit checks counted by this node alone because Redis did not answer",
    ),
    (
        Instrument::Counter,
        "realtime_rejoins_asked_total",
        "Channels sent phx_error to rejoin with after, because broadcasts may have been missed (Redis away, or this node fell behind it)",
    ),
    (
        Instrument::Counter,
        "realtime_access_recheck_closed_total",
        "Sockets closed when their user or device was found no longer allowed on a recheck",
    ),
    (
        Instrument::Gauge,
        "firebase_outbox_pending",
        "Changes waiting to be mirrored to Firebase",
    ),
    (
        Instrument::Gauge,
        "firebase_outbox_dead",
        "Changes given up on (dead letters)",
    ),
    (
        Instrument::Gauge,
        "firebase_outbox_oldest_pending_seconds",
        "Age of the oldest change waiting to be mirrored",
    ),
    (
        Instrument::Gauge,
        "firebase_breaker_state",
        "The Firebase circuit breaker: 0 closed, 1 half-open, 2 open",
    ),
    (
        Instrument::Counter,
        "firebase_changes_sent_total",
        "Changes written to Firebase",
    ),
    (
        Instrument::Counter,
        "firebase_failures_total",
        "Failed Firebase requests, by kind",
    ),
    (
        Instrument::Counter,
        "firebase_dead_letters_total",
        "Changes that became dead letters",
    ),
    (
        Instrument::Counter,
        "firebase_presence_writes_total",
        "Presence writes to Firebase",
    ),
    (
        Instrument::Counter,
        "firebase_access_tokens_fetched_total",
        "OAuth2 access tokens fetched for Firebase",
    ),
    (
        Instrument::Histogram,
        "firebase_patch_seconds",
        "Time of one Firebase PATCH request",
    ),
    (
        Instrument::Histogram,
        "firebase_sync_lag_seconds",
        "From a change stored in MariaDB to its write in Firebase",
    ),
];

#[derive(Clone, Copy)]
enum Instrument {
    Counter,
    Gauge,
    Histogram,
}

pub(crate) fn describe() {
    for (kind, name, help) in METRICS {
        match kind {
            Instrument::Counter => metrics::describe_counter!(*name, *help),
            Instrument::Gauge => metrics::describe_gauge!(*name, *help),
            Instrument::Histogram => metrics::describe_histogram!(*name, *help),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every metric any crate records has its `# HELP` line in [`METRICS`].
    #[test]
    fn every_metric_recorded_is_described() {
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut sources = vec![crates];
        let mut names = std::collections::BTreeSet::new();
        while let Some(path) = sources.pop() {
            if path.is_dir() {
                if path.ends_with("tests") || path.ends_with("target") {
                    continue;
                }
                let entries = std::fs::read_dir(&path).into_iter().flatten().flatten();
                sources.extend(entries.map(|e| e.path()));
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for macro_name in ["counter!(", "gauge!(", "histogram!("] {
                    for (at, _) in text.match_indices(macro_name) {
                        let rest = text[at + macro_name.len()..].trim_start();
                        let name = rest.strip_prefix('"').and_then(|r| r.split('"').next());
                        if let Some(name) = name.filter(|n| {
                            !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                        }) {
                            names.insert(name.to_owned());
                        }
                    }
                }
            }
        }
        assert!(names.len() > 20, "metrics found in the sources: {names:?}");
        let described: Vec<&str> = METRICS.iter().map(|(_, name, _)| *name).collect();
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| !described.contains(&n.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "no HELP text for {missing:?}: add them to METRICS"
        );
    }
}
