//! The `video:<id>` room: joining sends recent comments (or every comment since one the
//! client already has) and presence; pushes post comments through the shared use case and
//! send ephemeral reactions to the others in the room.

use domain::comments::ReplayFrom;
use domain::{ClientId, CommentBody, CommentId, Error, VideoId};
use serde_json::{Map, Value, json};

use crate::frame::{self, Encoded, Inbound};
use crate::session::{Joined, Session};

const PREFIX: &str = "video:";

pub(crate) fn topic(video: &VideoId) -> String {
    format!("{PREFIX}{video}")
}

/// `None` for topics of other rooms (none exist yet); `Some(Err)` for a bad video id.
pub(crate) fn parse_topic(topic: &str) -> Option<Result<VideoId, &'static str>> {
    let id = topic.strip_prefix(PREFIX)?;
    Some(VideoId::parse(id).map_err(|_| "invalid video id"))
}

/// The error reply for a failed use case: `{"reason": ...}` from the domain's one table,
/// with the broken field for a validation error. Outages and bugs are logged as the REST
/// side logs them.
fn reason(error: &Error) -> (&'static str, Value) {
    let reason = error.reason();
    match error {
        Error::Invalid(v) => {
            return (
                reason,
                json!({ "reason": reason, "details": [{ "field": v.field, "message": v.message }] }),
            );
        }
        Error::RateLimited { limit, retry_after } => {
            return (reason, crate::session::rate_limited(limit, *retry_after));
        }
        Error::Unavailable { what, cause } => {
            tracing::warn!(dependency = what, error = %cause, "dependency unavailable");
        }
        Error::Internal(cause) => {
            tracing::error!(error = %cause, "internal error in a video room");
        }
        _ => {}
    }
    (reason, json!({ "reason": reason }))
}

/// What a join asks for: the latest comments, or every one after where the client stands.
pub(crate) enum Since {
    Latest,
    After(ReplayFrom),
}

/// The join's payload (`after` or `since`), checked before the join touches anything: a
/// join refused for its payload leaves the socket's channels and subscriptions as they
/// were (subscribing makes the other nodes send their members of the room, which a client
/// must not be able to set off at will).
pub(crate) fn check_join(frame: &Inbound) -> Result<Since, Value> {
    let payload = |key: &str| frame.payload.get(key).filter(|v| !v.is_null());
    match (payload("after"), payload("since")) {
        (None, None) => Ok(Since::Latest),
        (Some(after), None) => after
            .as_u64()
            .map(|p| Since::After(ReplayFrom::Position(p)))
            .ok_or_else(|| json!({ "reason": "invalid after: give a comment position (an integer, 0 or more)" })),
        (None, Some(since)) => since
            .as_str()
            .and_then(|s| s.parse::<CommentId>().ok())
            .map(|id| Since::After(ReplayFrom::Comment(id)))
            .ok_or_else(|| json!({ "reason": "invalid since: give a comment id" })),
        (Some(_), Some(_)) => Err(json!({ "reason": "invalid payload: give after or since, not both" })),
    }
}

/// The join reply's response: the latest comments, or those after where the client
/// stands, with the position up to which it then has every comment.
async fn history(session: &Session, since: Since, video: &VideoId) -> Result<Value, Value> {
    let config = &session.rt.config;
    let replaying = matches!(since, Since::After(_));
    let replay = match since {
        Since::Latest => session.rt.comments.latest(video, config.join_history).await,
        Since::After(from) => {
            session
                .rt
                .comments
                .replay(video, from, config.since_limit)
                .await
        }
    };
    let replay = replay.map_err(|e| match e {
        Error::NotFound(_) => json!({ "reason": "invalid since: no such comment in this room" }),
        other => reason(&other).1,
    })?;
    let (comments, cut) =
        within_bytes(replay.comments.iter().map(|c| json!(c)), config.since_bytes);
    // Cut short for size: the client stands at the last comment it got.
    let position = if cut {
        replay.comments[..comments.len()]
            .last()
            .map_or(replay.position, |c| c.position)
    } else {
        replay.position
    };
    if !replaying {
        return Ok(json!({ "comments": comments, "position": position }));
    }
    Ok(json!({
        "comments": comments,
        "complete": replay.complete && !cut,
        "position": position,
    }))
}

/// The leading values whose JSON fits in `budget` bytes (at least one, so a client paging
/// on always moves forward), and whether any were left out.
fn within_bytes(values: impl ExactSizeIterator<Item = Value>, budget: usize) -> (Vec<Value>, bool) {
    let total = values.len();
    let mut used = 0;
    let mut kept = Vec::with_capacity(total);
    for value in values {
        used += serde_json::to_string(&value).map_or(0, |text| text.len() + 1);
        if used > budget && !kept.is_empty() {
            break;
        }
        kept.push(value);
    }
    let cut = kept.len() < total;
    (kept, cut)
}

/// Joins: subscribes, loads history, tracks presence; returns [reply, presence_state].
pub(crate) async fn join(
    session: &mut Session,
    frame: &Inbound,
    video: VideoId,
    since: Since,
) -> Result<Vec<Encoded>, Encoded> {
    let topic = frame.topic.clone();
    // Subscribe before reading the history, so a comment stored meanwhile is not lost
    // between the two (it may then arrive twice: in the reply and as new_comment; clients
    // dedupe by id). The transport writes broadcasts queued now after the reply.
    session
        .rt
        .hub
        .subscribe(&topic, session.id, session.outbox.clone());
    let response = match history(session, since, &video).await {
        Ok(response) => response,
        Err(response) => {
            session.rt.hub.unsubscribe(&topic, session.id);
            return Err(frame::reply(
                &frame.join_ref,
                &frame.reference,
                &topic,
                "error",
                response,
            ));
        }
    };
    // Track, then read the presence snapshot: every later change reaches this socket as a
    // diff, because it is already subscribed.
    let mut meta = Map::new();
    meta.insert(
        "username".into(),
        json!(session.user.actor.username.as_str()),
    );
    meta.insert("device_id".into(), json!(session.user.device_id));
    meta.insert("online_at".into(), json!(chrono::Utc::now().timestamp()));
    let key = session.user.actor.user_id.to_string();
    let phx_ref = session.rt.presence.track(&topic, &key, meta);
    session.channels.insert(
        topic.clone(),
        Joined {
            join_ref: frame.join_ref.clone(),
            video,
            phx_ref,
        },
    );
    let reply = frame::reply(&frame.join_ref, &frame.reference, &topic, "ok", response);
    let presence_state = session.rt.presence.state_frame(&topic, &frame.join_ref);
    Ok(vec![reply, presence_state])
}

/// A push on a joined video room: returns (status, response) for the reply.
pub(crate) async fn handle_push(
    session: &Session,
    frame: &Inbound,
    video: &VideoId,
) -> (&'static str, Value) {
    match frame.event.as_str() {
        "new_comment" => {
            let Some(content) = frame.payload.get("content").and_then(Value::as_str) else {
                return (
                    "error",
                    json!({ "reason": "invalid payload: content must be a string" }),
                );
            };
            let body = match CommentBody::parse(content) {
                Ok(body) => body,
                Err(e) => return ("error", reason(&Error::Invalid(e)).1),
            };
            let client_id = match frame.payload.get("client_id") {
                None | Some(Value::Null) => None,
                Some(Value::String(raw)) => match ClientId::parse(raw) {
                    Ok(id) => Some(id),
                    Err(e) => return ("error", reason(&Error::Invalid(e)).1),
                },
                Some(_) => {
                    return (
                        "error",
                        json!({ "reason": "invalid payload: client_id must be a string" }),
                    );
                }
            };
            metrics::counter!("realtime_pushes_total", "event" => "new_comment").increment(1);
            match session
                .rt
                .comments
                .post(&session.user.actor, video.clone(), body, client_id)
                .await
            {
                Ok(comment) => ("ok", json!({ "comment": comment })),
                Err(e) => ("error", reason(&e).1),
            }
        }
        "reaction" => {
            let Some(emoji) = frame.payload.get("emoji").and_then(Value::as_str) else {
                return (
                    "error",
                    json!({ "reason": "invalid payload: emoji must be a string" }),
                );
            };
            if emoji.is_empty() || emoji.len() > 32 || emoji.chars().any(char::is_control) {
                return (
                    "error",
                    json!({ "reason": "invalid payload: emoji must be 1 to 32 bytes of text" }),
                );
            }
            metrics::counter!("realtime_pushes_total", "event" => "reaction").increment(1);
            let payload =
                json!({ "user_id": session.user.actor.user_id.to_string(), "emoji": emoji });
            let out = frame::broadcast(&frame.topic, "reaction", &payload);
            session
                .rt
                .broker
                .publish(&frame.topic, "reaction", out, Some(session.id));
            ("ok", json!({}))
        }
        _ => ("error", json!({ "reason": "unknown event" })),
    }
}
