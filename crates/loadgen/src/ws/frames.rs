//! What a Phoenix V2 frame is, read cheaply: sockets look only at a frame's head (refs,
//! topic, event) to sort it, and parse the JSON of the few small frames whose payload counts
//! (aggregated reactions, room stats). Stamps: a publisher writes `seq=<n> sent=<micros>`
//! into each comment it posts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// What a frame is, as far as the measurements go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// The reply to this socket's join (its refs are `"1","1"`).
    JoinReply,
    Presence,
    /// A `new_comment` broadcast.
    Comment,
    /// A large room's `reactions` (counts per emoji over a window).
    Reactions,
    /// A small room's single `reaction`.
    Reaction,
    RoomStats,
    /// The reply to a comment this socket pushed (refs `p<n>`), and whether it was ok.
    CommentReply {
        ok: bool,
    },
    /// The reply to a reaction this socket pushed (refs `r<n>`).
    ReactionReply {
        ok: bool,
    },
    Other,
}

/// One element of a frame's head: `null` or a string without escapes (refs, topics and
/// events are), and what follows its comma.
fn head_element(rest: &str) -> Option<(Option<&str>, &str)> {
    let (value, rest) = if let Some(rest) = rest.strip_prefix("null") {
        (None, rest)
    } else {
        let rest = rest.strip_prefix('"')?;
        let end = rest.find('"')?;
        (Some(&rest[..end]), &rest[end + 1..])
    };
    Some((value, rest.strip_prefix(',')?))
}

/// A frame's head, read without scanning the rest (a presence_state can be megabytes):
/// its join ref, ref and event, and the payload's text.
fn head(text: &str) -> Option<(Option<&str>, Option<&str>, &str, &str)> {
    let rest = text.strip_prefix('[')?;
    let (join_ref, rest) = head_element(rest)?;
    let (reference, rest) = head_element(rest)?;
    let (_topic, rest) = head_element(rest)?;
    let (event, payload) = head_element(rest)?;
    Some((join_ref, reference, event?, payload))
}

/// Whether a reply's payload says `ok`: the server writes `status` last, other servers
/// (the floor) first.
fn reply_ok(payload: &str) -> bool {
    payload.starts_with("{\"status\":\"ok\"") || payload.ends_with("\"status\":\"ok\"}]")
}

/// Sorts a frame by its head (`joined`: this socket's join was answered already).
pub(super) fn kind(text: &str, joined: bool) -> Kind {
    let Some((join_ref, reference, event, payload)) = head(text) else {
        return Kind::Other;
    };
    match event {
        "phx_reply" => {
            let ok = reply_ok(payload);
            match (join_ref, reference) {
                (Some("1"), Some("1")) if !joined => Kind::JoinReply,
                (Some("1"), Some(r)) if r.starts_with('p') => Kind::CommentReply { ok },
                (Some("1"), Some(r)) if r.starts_with('r') => Kind::ReactionReply { ok },
                _ => Kind::Other,
            }
        }
        "presence_diff" | "presence_state" => Kind::Presence,
        _ if join_ref.is_some() || reference.is_some() => Kind::Other,
        "new_comment" => Kind::Comment,
        "reactions" => Kind::Reactions,
        "reaction" => Kind::Reaction,
        "room_stats" => Kind::RoomStats,
        _ => Kind::Other,
    }
}

/// The number after `key` (e.g. `sent=`) in `text`.
fn stamp(text: &str, key: &str) -> Option<u64> {
    text.split(key)
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The `sent=<micros>` stamp a publisher put in a comment's content.
pub(super) fn sent_stamp(text: &str) -> Option<u64> {
    stamp(text, "sent=")
}

/// The `seq=<n>` a publisher numbered a comment with (one sequence for the whole run).
pub(super) fn seq_stamp(text: &str) -> Option<u64> {
    stamp(text, "seq=")
}

/// The content of the `n`th comment, posted now.
pub(super) fn comment_content(seq: u64) -> String {
    format!("bench seq={seq} sent={}", now_micros())
}

/// Whether a `new_comment` is one a large room held back (it reaches only its author and
/// moderators, marked so).
pub(super) fn is_held(text: &str) -> bool {
    // The server writes the payload's keys in order: `held` comes after `comment`.
    text.ends_with("\"held\":true}]")
}

pub(super) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The time from the `sent=` stamp in `text` to now, if it has one.
pub(super) fn since_stamp(text: &str) -> Option<Duration> {
    sent_stamp(text).map(|sent| Duration::from_micros(now_micros().saturating_sub(sent)))
}

/// The payload of a frame (its fifth element), parsed.
fn payload(text: &str) -> Option<Value> {
    let mut frame: Value = serde_json::from_str(text).ok()?;
    Some(frame.get_mut(4)?.take())
}

/// How many reactions a `reactions` frame counts (`{"counts": {"🔥": 12, ...}}`, summed).
pub(super) fn reactions_counted(text: &str) -> Option<u64> {
    let counts = payload(text)?;
    let counts = counts.get("counts")?.as_object()?;
    Some(counts.values().filter_map(Value::as_u64).sum())
}

/// A room's own figures, from a `room_stats` frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct RoomStats {
    pub(super) viewers: u64,
    pub(super) connections: u64,
    pub(super) mode: String,
    pub(super) posted_per_second: f64,
    pub(super) shown_per_second: f64,
}

pub(super) fn room_stats(text: &str) -> Option<RoomStats> {
    let p = payload(text)?;
    Some(RoomStats {
        viewers: p.get("viewers")?.as_u64()?,
        connections: p.get("connections")?.as_u64()?,
        mode: p.get("mode")?.as_str()?.to_owned(),
        posted_per_second: p.get("posted_per_second")?.as_f64()?,
        shown_per_second: p.get("shown_per_second")?.as_f64()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_sorted_by_their_head() {
        let t = "\"video:bench-hot-1\"";
        let cases = [
            (
                format!("[\"1\",\"1\",{t},\"phx_reply\",{{\"status\":\"ok\",\"response\":{{}}}}]"),
                false,
                Kind::JoinReply,
            ),
            (
                format!("[\"1\",\"p3\",{t},\"phx_reply\",{{\"status\":\"ok\",\"response\":{{}}}}]"),
                true,
                Kind::CommentReply { ok: true },
            ),
            (
                format!(
                    "[\"1\",\"r4\",{t},\"phx_reply\",{{\"status\":\"error\",\"response\":{{}}}}]"
                ),
                true,
                Kind::ReactionReply { ok: false },
            ),
            (
                format!("[\"1\",null,{t},\"presence_diff\",{{}}]"),
                true,
                Kind::Presence,
            ),
            (
                format!("[null,null,{t},\"new_comment\",{{\"comment\":{{}}}}]"),
                true,
                Kind::Comment,
            ),
            (
                format!("[null,null,{t},\"reactions\",{{\"counts\":{{}}}}]"),
                true,
                Kind::Reactions,
            ),
            (
                format!("[null,null,{t},\"reaction\",{{\"emoji\":\"x\"}}]"),
                true,
                Kind::Reaction,
            ),
            (
                format!("[null,null,{t},\"room_stats\",{{}}]"),
                true,
                Kind::RoomStats,
            ),
            (
                format!("[null,null,{t},\"comment_deleted\",{{}}]"),
                true,
                Kind::Other,
            ),
        ];
        for (frame, joined, expected) in cases {
            assert_eq!(kind(&frame, joined), expected, "{frame}");
        }
    }

    #[test]
    fn stamps_and_payloads_are_read() {
        let content = comment_content(42);
        assert_eq!(seq_stamp(&content), Some(42));
        assert!(sent_stamp(&content).is_some_and(|s| s > 0));
        let held = r#"[null,null,"video:x","new_comment",{"comment":{"content":"bench seq=7 sent=9"},"held":true}]"#;
        assert!(is_held(held));
        assert_eq!((seq_stamp(held), sent_stamp(held)), (Some(7), Some(9)));
        let counts =
            r#"[null,null,"video:x","reactions",{"counts":{"🔥":12,"👍":3},"window_ms":250}]"#;
        assert_eq!(reactions_counted(counts), Some(15));
        let stats = r#"[null,null,"video:x","room_stats",{"viewers":15000,"connections":15010,"mode":"large","posted_per_second":48.5,"shown_per_second":10}]"#;
        assert_eq!(
            room_stats(stats),
            Some(RoomStats {
                viewers: 15000,
                connections: 15010,
                mode: "large".into(),
                posted_per_second: 48.5,
                shown_per_second: 10.0,
            })
        );
        assert_eq!(room_stats("[null,null]"), None);
    }
}
