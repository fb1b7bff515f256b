//! One socket's protocol state machine: frames in, frames out. It knows which topics the
//! socket joined (with which join_ref), answers heartbeats, routes pushes to the room, and
//! cleans up (presence, subscriptions) when dropped, whatever ended the connection.

use std::sync::Arc;
use tokio::time::Instant;

use domain::VideoId;
use serde_json::{Value, json};

use crate::config::RealtimeConfig;
use crate::events;
use crate::frame::{self, Encoded, Inbound};
use crate::hub::{Outbox, SocketId};
use crate::replies::rate_limited;
use crate::room::{self, SocketUser, VideoRoom, Visitor};

/// A frame that ends the connection (the transport closes with `code`).
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct Fatal {
    /// 1007 (invalid frame data) or 1009 (frame too big).
    pub code: u16,
    pub reason: String,
}

struct Joined {
    join_ref: Value,
    video: VideoId,
    phx_ref: String,
}

/// The channels one socket has joined, by topic. A list, not a map: a socket joins one or a
/// few rooms (at most `max_channels`), and an idle socket should cost as little as it can.
#[derive(Default)]
struct Channels(Vec<(String, Joined)>);

impl Channels {
    fn get(&self, topic: &str) -> Option<&Joined> {
        self.0.iter().find(|(t, _)| t == topic).map(|(_, j)| j)
    }

    fn remove(&mut self, topic: &str) -> Option<Joined> {
        let at = self.0.iter().position(|(t, _)| t == topic)?;
        Some(self.0.swap_remove(at).1)
    }

    fn insert(&mut self, topic: String, joined: Joined) {
        self.remove(&topic);
        self.0.push((topic, joined));
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn topics(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(t, _)| t.as_str())
    }
}

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: f64) -> Self {
        Self {
            tokens: burst,
            at: Instant::now(),
        }
    }

    fn take(&mut self, rate: f64, burst: f64) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * rate;
        self.tokens = (self.tokens + refill).min(burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until the next `take` at `rate` succeeds (as of the last `take`).
    fn wait(&self, rate: f64) -> std::time::Duration {
        std::time::Duration::from_secs_f64(((1.0 - self.tokens).max(0.0) / rate).min(3600.0))
    }
}

/// What every session of a node asks: the room, and the limits of a socket.
#[derive(Debug)]
pub(crate) struct Context {
    pub room: VideoRoom,
    pub config: RealtimeConfig,
}

/// The state of one connection.
pub struct Session {
    id: SocketId,
    rt: Arc<Context>,
    user: SocketUser,
    outbox: Outbox,
    channels: Channels,
    pushes: Bucket,
    joins: Bucket,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("topics", &self.channels.topics().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(id: SocketId, rt: Arc<Context>, user: SocketUser, outbox: Outbox) -> Self {
        let pushes = Bucket::full(rt.config.push_burst);
        let joins = Bucket::full(rt.config.join_burst);
        Self {
            id,
            rt,
            user,
            outbox,
            channels: Channels::default(),
            pushes,
            joins,
        }
    }

    pub fn id(&self) -> SocketId {
        self.id
    }

    /// Handles one text frame; returns the frames to write now, in order.
    pub async fn receive(&mut self, text: &str) -> Result<Vec<Encoded>, Fatal> {
        if text.len() > self.rt.config.max_frame_bytes {
            return Err(Fatal {
                code: 1009,
                reason: format!(
                    "frame of {} bytes is over the limit of {}",
                    text.len(),
                    self.rt.config.max_frame_bytes
                ),
            });
        }
        let frame = Inbound::decode(text).map_err(|e| Fatal {
            code: 1007,
            reason: e.to_string(),
        })?;
        metrics::counter!("realtime_frames_received_total", "event" => events::label(&frame.event))
            .increment(1);
        let mut out = Vec::new();
        match (frame.topic.as_str(), frame.event.as_str()) {
            ("phoenix", "heartbeat") => {
                out.push(frame::reply(
                    &Value::Null,
                    &frame.reference,
                    "phoenix",
                    "ok",
                    json!({}),
                ));
            }
            (_, "phx_join") => self.join(frame, &mut out).await,
            (_, "phx_leave") => self.leave(&frame, &mut out),
            _ => self.push(frame, &mut out).await,
        }
        Ok(out)
    }

    async fn join(&mut self, frame: Inbound, out: &mut Vec<Encoded>) {
        metrics::counter!("realtime_joins_total").increment(1);
        let Some(video) = room::parse_topic(&frame.topic) else {
            out.push(unmatched(&frame));
            return;
        };
        let config = &self.rt.config;
        let video = match video {
            // A refused rejoin leaves the joined channel as it is.
            Ok(_) if !self.joins.take(config.joins_per_second, config.join_burst) => {
                Err(rate_limited(
                    domain::limits::SOCKET_JOINS,
                    self.joins.wait(config.joins_per_second),
                ))
            }
            other => other.map_err(|reason| json!({ "reason": reason })),
        };
        let checked = video.and_then(|video| Ok((video, room::check_join(&frame)?)));
        let (video, since) = match checked {
            Ok(checked) => checked,
            Err(response) => {
                out.push(frame::reply(
                    &frame.join_ref,
                    &frame.reference,
                    &frame.topic,
                    "error",
                    response,
                ));
                return;
            }
        };
        // A duplicate join replaces the old channel; its phx_close (with the OLD join_ref)
        // goes out after the new join's reply.
        // The socket stays subscribed to the topic meanwhile: unsubscribing its last local
        // socket would drop the node's Redis subscription and presence replica of the room,
        // only for the new join to make them again (every socket of a node rejoins at once
        // after a Redis outage).
        let replaced = self.channels.remove(&frame.topic).map(|old| {
            self.untrack(&frame.topic, &old);
            frame::encode(
                &old.join_ref,
                &old.join_ref,
                &frame.topic,
                "phx_close",
                &json!({}),
            )
        });
        if self.channels.len() >= self.rt.config.max_channels {
            out.push(frame::reply(
                &frame.join_ref,
                &frame.reference,
                &frame.topic,
                "error",
                json!({ "reason": "too many channels joined" }),
            ));
            if replaced.is_some() {
                self.rt.room.unsubscribe(&frame.topic, self.id);
            }
            out.extend(replaced);
            return;
        }
        let visitor = self.visitor();
        match self.rt.room.join(&visitor, &frame, &video, since).await {
            Ok(entered) => {
                out.extend(entered.frames);
                self.channels.insert(
                    frame.topic.clone(),
                    Joined {
                        join_ref: frame.join_ref.clone(),
                        video,
                        phx_ref: entered.phx_ref,
                    },
                );
            }
            Err(reply) => out.push(reply),
        }
        out.extend(replaced);
    }

    fn leave(&mut self, frame: &Inbound, out: &mut Vec<Encoded>) {
        let reply = || {
            frame::reply(
                &frame.join_ref,
                &frame.reference,
                &frame.topic,
                "ok",
                json!({}),
            )
        };
        match self.channels.get(&frame.topic) {
            None => out.push(reply()),
            Some(joined) if frame.join_ref.is_null() || frame.join_ref == joined.join_ref => {
                if let Some(joined) = self.channels.remove(&frame.topic) {
                    self.drop_channel(&frame.topic, &joined);
                    out.push(frame::reply(
                        &joined.join_ref,
                        &frame.reference,
                        &frame.topic,
                        "ok",
                        json!({}),
                    ));
                    out.push(frame::encode(
                        &joined.join_ref,
                        &joined.join_ref,
                        &frame.topic,
                        "phx_close",
                        &json!({}),
                    ));
                }
            }
            // A stale join_ref: that channel instance is already gone.
            Some(_) => {}
        }
    }

    async fn push(&mut self, frame: Inbound, out: &mut Vec<Encoded>) {
        let Some(joined) = self.channels.get(&frame.topic) else {
            out.push(unmatched(&frame));
            return;
        };
        if !(frame.join_ref.is_null() || frame.join_ref == joined.join_ref) {
            return;
        }
        let join_ref = joined.join_ref.clone();
        let video = joined.video.clone();
        let config = &self.rt.config;
        if !self
            .pushes
            .take(config.pushes_per_second, config.push_burst)
        {
            out.push(frame::reply(
                &join_ref,
                &frame.reference,
                &frame.topic,
                "error",
                rate_limited(
                    domain::limits::SOCKET_PUSHES,
                    self.pushes.wait(config.pushes_per_second),
                ),
            ));
            return;
        }
        let started = Instant::now();
        let (status, response) = self.rt.room.push(&self.visitor(), &frame, &video).await;
        metrics::histogram!("realtime_push_duration_seconds", "event" => events::label(&frame.event))
            .record(started.elapsed().as_secs_f64());
        out.push(frame::reply(
            &join_ref,
            &frame.reference,
            &frame.topic,
            status,
            response,
        ));
    }

    /// This socket, as a room sees it.
    fn visitor(&self) -> Visitor<'_> {
        Visitor {
            socket: self.id,
            outbox: &self.outbox,
            user: &self.user,
        }
    }

    /// Unsubscribes and untracks one channel instance.
    fn drop_channel(&self, topic: &str, joined: &Joined) {
        self.rt.room.leave(topic, &self.visitor(), &joined.phx_ref);
    }

    fn untrack(&self, topic: &str, joined: &Joined) {
        self.rt.room.untrack(topic, &self.user, &joined.phx_ref);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for (topic, joined) in std::mem::take(&mut self.channels).0 {
            self.drop_channel(&topic, &joined);
        }
    }
}

/// Phoenix's answer for a topic nobody handles: join_ref null.
fn unmatched(frame: &Inbound) -> Encoded {
    frame::reply(
        &Value::Null,
        &frame.reference,
        &frame.topic,
        "error",
        json!({ "reason": "unmatched topic" }),
    )
}
