//! The `video:<id>` room: joining sends recent comments (or every comment since one the
//! client already has) and presence; pushes post comments through the shared use case and
//! send ephemeral reactions to the others in the room.

use domain::{ClientId, CommentBody, CommentId, Error, PageRequest, VideoId};
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
        Error::RateLimited { retry_after, .. } => {
            return (reason, crate::session::rate_limited(*retry_after));
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

/// What a join asks for: the latest comments, or every one since a comment it has.
pub(crate) enum Since {
    Latest,
    Comment(CommentId),
}

/// The join's payload (its `since`), checked before the join touches anything: a join
/// refused for its payload leaves the socket's channels and subscriptions as they were
/// (subscribing makes the other nodes send their members of the room, which a client
/// must not be able to set off at will).
pub(crate) fn check_join(frame: &Inbound) -> Result<Since, Value> {
    let invalid_since = || json!({ "reason": "invalid since: give a comment id" });
    match frame.payload.get("since") {
        None | Some(Value::Null) => Ok(Since::Latest),
        Some(Value::String(since)) => since
            .parse::<CommentId>()
            .map(Since::Comment)
            .map_err(|_| invalid_since()),
        Some(_) => Err(invalid_since()),
    }
}

/// The join reply's response: the latest comments, or those since the one given.
async fn history(session: &Session, since: Since, video: &VideoId) -> Result<Value, Value> {
    let found = match since {
        Since::Latest => {
            let page = PageRequest::new(session.rt.config.join_history, None)
                .map_err(|_| json!({ "reason": "internal" }))?;
            session.rt.comments.list(video, page).await.map(|p| {
                let mut items = p.items;
                items.reverse();
                json!({ "comments": items })
            })
        }
        Since::Comment(since) => {
            let limit = session.rt.config.since_limit;
            session
                .rt
                .comments
                .since(video, since, limit)
                .await
                .map(|(items, complete)| {
                    let (comments, cut) = within_bytes(
                        items.iter().map(|c| json!(c)),
                        session.rt.config.since_bytes,
                    );
                    json!({ "comments": comments, "complete": complete && !cut })
                })
        }
    };
    found.map_err(|e| reason(&e).1)
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
