//! The events sockets send and receive, named once: what a room sends (comments,
//! reactions, presence) and how events are labelled in metrics.

/// A comment was posted, edited, deleted (`{"comment": ...}`, `{"id", "video_id"}`).
pub(crate) const NEW_COMMENT: &str = "new_comment";
pub(crate) const COMMENT_UPDATED: &str = "comment_updated";
pub(crate) const COMMENT_DELETED: &str = "comment_deleted";
/// Someone in the room reacted (`{"user_id", "emoji"}`).
pub(crate) const REACTION: &str = "reaction";
/// A large room's reactions of one window, counted (`{"counts": {emoji: n}, "window_ms"}`).
pub(crate) const REACTIONS: &str = "reactions";
/// How many are in the room and how it runs (`{"viewers", "connections", "mode", ...}`).
pub(crate) const ROOM_STATS: &str = "room_stats";
/// Phoenix.Presence's events.
pub(crate) const PRESENCE_STATE: &str = "presence_state";
pub(crate) const PRESENCE_DIFF: &str = "presence_diff";

/// An event as a metric label: the ones this server knows by name, anything else (what a
/// client made up) as "other", so labels stay few.
pub(crate) fn label(event: &str) -> &'static str {
    match event {
        "heartbeat" => "heartbeat",
        "phx_join" => "phx_join",
        "phx_leave" => "phx_leave",
        NEW_COMMENT => NEW_COMMENT,
        COMMENT_UPDATED => COMMENT_UPDATED,
        COMMENT_DELETED => COMMENT_DELETED,
        REACTION => REACTION,
        REACTIONS => REACTIONS,
        ROOM_STATS => ROOM_STATS,
        PRESENCE_DIFF => PRESENCE_DIFF,
        _ => "other",
    }
}
