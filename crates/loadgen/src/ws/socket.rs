//! One phoenix-protocol socket: connect (retrying as phoenix.js does), join the room, then
//! read, heartbeat and push (comments or reactions) until the run says stop, counting what
//! it sees.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::frames::{self, Kind};
use super::hot::Tally;
use super::room::Role;
use super::shared::Shared;
use crate::stats::Samples;

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// tungstenite zeroes its whole read buffer before every read (128 KiB by default), which
/// cost a third of the generator's CPU in the fanout scenario, and still 8% at 8 KiB in a
/// hot room (two reads a window, the second finding nothing); what a viewer gets in one
/// window is about 1 KB, and a bigger frame is read in several goes.
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(2 * 1024)
}

/// phoenix.js's reconnect backoff for the first attempts (its default `reconnectAfterMs`).
const RECONNECT_AFTER: [Duration; 9] = [
    Duration::from_millis(10),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(150),
    Duration::from_millis(200),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_millis(1000),
    Duration::from_millis(2000),
];

/// The next tick of `interval`; never, without one.
async fn tick(interval: Option<&mut tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Every `every`, from one `every` from now.
fn every(every: Duration) -> tokio::time::Interval {
    tokio::time::interval_at(tokio::time::Instant::now() + every, every)
}

/// Like phoenix.js: a refused or failed connect is retried after a backoff. `None` once
/// the backoff is used up (the failure is counted).
async fn connect(url: &str, shared: &Shared) -> Option<Ws> {
    let mut attempt = 0;
    loop {
        match tokio_tungstenite::connect_async_with_config(url, Some(socket_config()), true).await {
            Ok((ws, _)) => return Some(ws),
            Err(e) if attempt < RECONNECT_AFTER.len() => {
                shared.retry(format!("connect: {e}"));
                tokio::time::sleep(RECONNECT_AFTER[attempt]).await;
                attempt += 1;
            }
            Err(e) => {
                shared.fail(format!("connect: {e}"));
                return None;
            }
        }
    }
}

/// What one socket has seen since it asked to join.
struct Reader {
    shared: Arc<Shared>,
    join_sent: Instant,
    joined: bool,
    /// Comments' end-to-end latencies, merged into the shared ones when the socket ends.
    latencies: Samples,
    /// A viewer of a hot-room run tallies what it receives instead.
    tally: Option<Tally>,
}

impl Reader {
    /// Counts a text frame: the reply to the join, presence, a comment broadcast, the
    /// server's answer to something this socket pushed, and (viewers of a hot room) all of it.
    async fn frame(&mut self, text: &str) {
        let shared = &self.shared;
        shared.frames.fetch_add(1, Ordering::Relaxed);
        let kind = frames::kind(text, self.joined);
        if let Some(tally) = &mut self.tally {
            tally.frame(&shared.hot, kind, text);
        }
        match kind {
            Kind::JoinReply => {
                self.joined = true;
                shared.joined.fetch_add(1, Ordering::Relaxed);
                let latency = self.join_sent.elapsed();
                shared.join_latency.lock().await.record(latency);
            }
            Kind::Presence => {
                shared.presence_frames.fetch_add(1, Ordering::Relaxed);
            }
            Kind::Comment => {
                shared.comments_seen.fetch_add(1, Ordering::Relaxed);
                if self.tally.is_none()
                    && let Some(latency) = frames::since_stamp(text)
                {
                    self.latencies.record(latency);
                }
            }
            Kind::CommentReply { ok: true } => {
                shared.published.fetch_add(1, Ordering::Relaxed);
                if let Some(latency) = frames::since_stamp(text) {
                    shared.publish_latency.lock().await.record(latency);
                }
            }
            Kind::ReactionReply { ok: false } => {
                shared.hot.reactions_refused.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Hands this socket's latencies and (if it joined) its tally to the run.
    async fn finish(self) {
        if let (Some(tally), true) = (self.tally, self.joined) {
            tally.finish(&self.shared.hot);
        }
        self.shared
            .delivery_latency
            .lock()
            .await
            .merge(self.latencies);
    }
}

/// What woke the socket up. The select only decides what happened; sending happens after
/// it, when the stream is free again.
enum Event {
    Frame(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
    Heartbeat,
    Push,
    Stop,
}

/// The emoji reactors cycle through.
const EMOJI: [&str; 3] = ["🔥", "👍", "😂"];

/// One socket of a run.
pub(super) struct Spec {
    pub(super) url: String,
    pub(super) topic: String,
    pub(super) role: Role,
    /// How often it heartbeats (phoenix.js: 30 s; `None`: never).
    pub(super) heartbeat: Option<Duration>,
    /// How often a publisher posts a comment, or a reactor reacts.
    pub(super) push_every: Option<Duration>,
    /// A viewer tallies what it receives for the hot-room report.
    pub(super) tally: bool,
}

impl Spec {
    /// When this socket first pushes: publishers together after one interval, as they
    /// always did; reactors spread over the interval, so reactions do not come in bursts.
    fn pusher(&self) -> Option<tokio::time::Interval> {
        let every = self.push_every?;
        let offset = match self.role {
            Role::Reactor(i) => every.mul_f64((i as f64 * 0.618_034).fract()),
            _ => every,
        };
        Some(tokio::time::interval_at(
            tokio::time::Instant::now() + offset,
            every,
        ))
    }

    /// The `n`th push of this socket: a numbered, timestamped comment, or a reaction.
    fn push(&self, shared: &Shared, n: u64) -> serde_json::Value {
        let topic = &self.topic;
        if let Role::Reactor(_) = self.role {
            let k = shared.hot.reaction_pushed();
            let emoji = EMOJI[(k % EMOJI.len() as u64) as usize];
            return json!(["1", format!("r{n}"), topic, "reaction", { "emoji": emoji }]);
        }
        let seq = shared.hot.next_seq.fetch_add(1, Ordering::Relaxed);
        let content = frames::comment_content(seq);
        json!(["1", format!("p{n}"), topic, "new_comment", { "content": content }])
    }
}

/// One socket: connect, join its topic, then read until told to stop, heartbeating and
/// pushing as `spec` says.
pub(super) async fn socket(spec: Spec, shared: Arc<Shared>) {
    let Some(mut ws) = connect(&spec.url, &shared).await else {
        return;
    };
    let join_sent = Instant::now();
    let join = json!(["1", "1", spec.topic, "phx_join", {}]).to_string();
    if let Err(e) = ws.send(Message::text(join)).await {
        shared.fail(format!("join: {e}"));
        return;
    }
    let mut reader = Reader {
        shared: shared.clone(),
        join_sent,
        joined: false,
        latencies: Samples::default(),
        tally: spec.tally.then(|| Tally::new(spec.role == Role::Viewer(0))),
    };
    let mut heartbeat = spec.heartbeat.map(every);
    let mut pusher = spec.pusher();
    // Waiting from here, so a stop told while this socket is busy is not missed.
    let stopped = shared.stopping.notified();
    tokio::pin!(stopped);
    stopped.as_mut().enable();
    let mut stop_told = shared.stop.load(Ordering::Relaxed);
    let mut n = 0u64;
    // Not split into halves: every poll of a split stream takes a lock.
    loop {
        let event = if std::mem::take(&mut stop_told) {
            Event::Stop
        } else {
            tokio::select! {
            msg = ws.next() => Event::Frame(msg),
            () = tick(heartbeat.as_mut()) => Event::Heartbeat,
            () = tick(pusher.as_mut()), if !shared.stop_publishing.load(Ordering::Relaxed) => Event::Push,
            () = &mut stopped => Event::Stop,
            }
        };
        n += 1;
        let outgoing = match event {
            Event::Frame(Some(Ok(Message::Text(text)))) => {
                reader.frame(&text).await;
                continue;
            }
            Event::Frame(Some(Ok(_))) => continue,
            Event::Frame(_) => {
                if !shared.stop.load(Ordering::Relaxed) {
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                }
                break;
            }
            Event::Heartbeat => json!([null, format!("hb{n}"), "phoenix", "heartbeat", {}]),
            Event::Push => spec.push(&shared, n),
            Event::Stop => {
                let _ = ws.send(Message::Close(None)).await;
                break;
            }
        };
        if ws.send(Message::text(outgoing.to_string())).await.is_err() {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            break;
        }
    }
    reader.finish().await;
}
