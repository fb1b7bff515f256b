//! The `video:<id>` room, for every video: joining sends recent comments (or every comment
//! after where the client stands) and presence; pushes post comments through the shared
//! use case and send ephemeral reactions to the others in the room. A [`Session`] asks
//! the room; the room never sees a session.
//!
//! [`Session`]: crate::Session

mod history;

use std::sync::Arc;

use domain::comments::Comments;
use domain::policy::Actor;
use domain::{ClientId, CommentBody, Error, VideoId};
use serde_json::{Value, json};

use crate::audience::Audience;
use crate::events::{NEW_COMMENT, REACTION};
use crate::frame::{self, Encoded, Inbound};
use crate::hub::{Hub, Outbox, SocketId, Viewer};
use crate::presence::{Connection, Presence};

pub(crate) use history::{HistoryLimits, Since, check_join};

const PREFIX: &str = "video:";

/// The topic of `video`'s room.
pub fn topic_of(video: &VideoId) -> String {
    format!("{PREFIX}{video}")
}

/// The video of a room's topic, unchecked (`None` for topics of no video room).
pub fn video_of(topic: &str) -> Option<&str> {
    topic.strip_prefix(PREFIX)
}

/// `None` for topics of other rooms (none exist yet); `Some(Err)` for a bad video id.
pub(crate) fn parse_topic(topic: &str) -> Option<Result<VideoId, &'static str>> {
    let id = video_of(topic)?;
    Some(VideoId::parse(id).map_err(|_| "invalid video id"))
}

/// The error reply for a failed use case: `{"reason": ...}` from the domain's one table,
/// with the broken field for a validation error. Outages and bugs are logged as the REST
/// side logs them.
fn refusal(error: &Error) -> Value {
    let reason = error.reason();
    match error {
        Error::Invalid(v) => {
            return json!({ "reason": reason, "details": [{ "field": v.field, "message": v.message }] });
        }
        Error::RateLimited { limit, retry_after } => {
            return crate::replies::rate_limited(limit, *retry_after);
        }
        Error::Unavailable { what, cause } => {
            tracing::warn!(dependency = what, error = %cause, "dependency unavailable");
        }
        Error::Internal(cause) => {
            tracing::error!(error = %cause, "internal error in a video room");
        }
        _ => {}
    }
    json!({ "reason": reason })
}

/// The authenticated user behind a socket.
#[derive(Clone, Debug)]
pub struct SocketUser {
    pub actor: Actor,
    /// The client-chosen device id, shown in presence metas.
    pub device_id: String,
}

/// Who joins or pushes: a socket, its queue and its user.
pub(crate) struct Visitor<'a> {
    pub socket: SocketId,
    pub outbox: &'a Outbox,
    pub user: &'a SocketUser,
}

/// A join that succeeded: the presence ref to untrack by, and the frames to send (the
/// reply, then `room_stats`, so a client knows the room's mode before its presence, then
/// `presence_state`).
pub(crate) struct Entered {
    pub phx_ref: String,
    pub frames: [Encoded; 3],
}

/// The rules of every video room, with the ports they use.
#[derive(Debug)]
pub(crate) struct VideoRoom {
    comments: Comments,
    live: Arc<crate::Rooms>,
    history: HistoryLimits,
}

impl VideoRoom {
    pub fn new(comments: Comments, live: Arc<crate::Rooms>, history: HistoryLimits) -> Self {
        Self {
            comments,
            live,
            history,
        }
    }

    fn presence(&self) -> &Presence {
        &self.live.presence
    }

    fn hub(&self) -> &Hub {
        &self.live.hub
    }

    fn audience(&self) -> &Audience {
        &self.live.audience
    }

    /// Joins `video`'s room: subscribes, loads history, tracks presence.
    pub async fn join(
        &self,
        visitor: &Visitor<'_>,
        frame: &Inbound,
        video: &VideoId,
        since: Since,
    ) -> Result<Entered, Encoded> {
        let topic = &frame.topic;
        // Subscribe before reading the history, so a comment stored meanwhile is not lost
        // between the two (it may then arrive twice: in the reply and as new_comment;
        // clients dedupe by id). The transport writes broadcasts queued now after the reply.
        let actor = &visitor.user.actor;
        let viewer = Viewer {
            user: actor.user_id,
            moderates: actor.role != domain::Role::User,
        };
        self.hub()
            .subscribe(topic, visitor.socket, visitor.outbox.clone(), viewer);
        let large = self.audience().enter(topic);
        let history = history::history(&self.comments, self.history, since, video, large);
        let response = match history.await {
            Ok(response) => response,
            Err(response) => {
                self.hub().unsubscribe(topic, visitor.socket);
                // The audience counted the joiner already.
                self.presence().recount_later(topic);
                return Err(frame::reply(
                    &frame.join_ref,
                    &frame.reference,
                    topic,
                    "error",
                    response,
                ));
            }
        };
        // Track, then read the presence snapshot: every later change reaches this socket
        // as a diff, because it is already subscribed.
        let connection = Connection {
            username: visitor.user.actor.username.as_str().to_owned(),
            device_id: visitor.user.device_id.clone(),
            online_at: chrono::Utc::now().timestamp(),
        };
        let key = actor.user_id.to_string();
        let phx_ref = self.live.presence.track(topic, &key, &connection, large);
        let reply = frame::reply(&frame.join_ref, &frame.reference, topic, "ok", response);
        let presence_state = self.presence().state_frame(topic, &frame.join_ref, &key);
        let stats = self.audience().stats_frame(topic, &frame.join_ref);
        Ok(Entered {
            phx_ref,
            frames: [reply, stats, presence_state],
        })
    }

    /// Takes `user`'s connection `phx_ref` out of the room's presence; the socket stays
    /// subscribed (a rejoin follows).
    pub fn untrack(&self, topic: &str, user: &SocketUser, phx_ref: &str) {
        self.live
            .presence
            .untrack(topic, &user.actor.user_id.to_string(), phx_ref);
    }

    /// The socket hears the room no more.
    pub fn unsubscribe(&self, topic: &str, socket: SocketId) {
        self.hub().unsubscribe(topic, socket);
    }

    /// Leaves the room: unsubscribed and untracked.
    pub fn leave(&self, topic: &str, visitor: &Visitor<'_>, phx_ref: &str) {
        self.unsubscribe(topic, visitor.socket);
        self.untrack(topic, visitor.user, phx_ref);
    }

    /// A push on a joined video room: returns (status, response) for the reply.
    pub async fn push(
        &self,
        visitor: &Visitor<'_>,
        frame: &Inbound,
        video: &VideoId,
    ) -> (&'static str, Value) {
        let outcome = match frame.event.as_str() {
            NEW_COMMENT => self.post(visitor, frame, video).await,
            REACTION => self.react(visitor, frame),
            _ => Err(json!({ "reason": "unknown event" })),
        };
        match outcome {
            Ok(response) => ("ok", response),
            Err(response) => ("error", response),
        }
    }

    async fn post(
        &self,
        visitor: &Visitor<'_>,
        frame: &Inbound,
        video: &VideoId,
    ) -> Result<Value, Value> {
        let Some(content) = frame.payload.get("content").and_then(Value::as_str) else {
            return Err(json!({ "reason": "invalid payload: content must be a string" }));
        };
        let body = CommentBody::parse(content).map_err(|e| refusal(&Error::Invalid(e)))?;
        let client_id = match frame.payload.get("client_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(raw)) => {
                Some(ClientId::parse(raw).map_err(|e| refusal(&Error::Invalid(e)))?)
            }
            Some(_) => {
                return Err(json!({ "reason": "invalid payload: client_id must be a string" }));
            }
        };
        metrics::counter!("realtime_pushes_total", "event" => NEW_COMMENT).increment(1);
        let comment = self
            .comments
            .post(&visitor.user.actor, video.clone(), body, client_id)
            .await
            .map_err(|e| refusal(&e))?;
        Ok(json!({ "comment": comment }))
    }

    fn react(&self, visitor: &Visitor<'_>, frame: &Inbound) -> Result<Value, Value> {
        let Some(emoji) = frame.payload.get("emoji").and_then(Value::as_str) else {
            return Err(json!({ "reason": "invalid payload: emoji must be a string" }));
        };
        if emoji.is_empty() || emoji.len() > 32 || emoji.chars().any(char::is_control) {
            return Err(
                json!({ "reason": "invalid payload: emoji must be 1 to 32 bytes of text" }),
            );
        }
        metrics::counter!("realtime_pushes_total", "event" => REACTION).increment(1);
        if self.audience().react(&frame.topic, emoji) {
            return Ok(json!({}));
        }
        let payload = json!({ "user_id": visitor.user.actor.user_id.to_string(), "emoji": emoji });
        let out = frame::broadcast(&frame.topic, REACTION, &payload);
        self.live
            .broker
            .publish(&frame.topic, REACTION, out, Some(visitor.socket));
        Ok(json!({}))
    }
}
