//! One phoenix-protocol socket: connect (retrying as phoenix.js does), join the room, then
//! read, heartbeat and publish until the run says stop, counting what it sees.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::shared::Shared;
use crate::stats::Samples;

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// tungstenite zeroes its whole read buffer before every read (128 KiB by default), which
/// cost a third of the generator's CPU in the fanout scenario; frames here are small.
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(8 * 1024)
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

/// Whether the start of a frame (where its refs, topic and event are) contains `needle`:
/// a presence_state can be megabytes, and the generator should not scan it all.
fn head_has(text: &str, needle: &str) -> bool {
    let head = &text.as_bytes()[..text.len().min(200)];
    head.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The `sent=<micros>` stamp a publisher put in a comment's content.
fn sent_stamp(text: &str) -> Option<u64> {
    text.split("sent=")
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The time from the `sent=` stamp in `text` to now, if it has one.
fn since_stamp(text: &str) -> Option<Duration> {
    sent_stamp(text).map(|sent| Duration::from_micros(now_micros().saturating_sub(sent)))
}

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
}

impl Reader {
    /// Counts a text frame: the reply to the join, presence, a comment broadcast, or the
    /// server's ok to a comment this socket pushed.
    async fn frame(&mut self, text: &str) {
        let shared = &self.shared;
        shared.frames.fetch_add(1, Ordering::Relaxed);
        if !self.joined && text.starts_with("[\"1\",\"1\"") && head_has(text, "\"phx_reply\"") {
            self.joined = true;
            shared.joined.fetch_add(1, Ordering::Relaxed);
            shared
                .join_latency
                .lock()
                .await
                .record(self.join_sent.elapsed());
        } else if head_has(text, "\"presence_diff\"") || head_has(text, "\"presence_state\"") {
            shared.presence_frames.fetch_add(1, Ordering::Relaxed);
        } else if text.starts_with("[null,null") && head_has(text, "\"new_comment\"") {
            shared.comments_seen.fetch_add(1, Ordering::Relaxed);
            if let Some(latency) = since_stamp(text) {
                self.latencies.record(latency);
            }
        } else if text.starts_with("[\"1\",\"p")
            && head_has(text, "\"phx_reply\"")
            && text.contains("\"status\":\"ok\"")
        {
            shared.published.fetch_add(1, Ordering::Relaxed);
            if let Some(latency) = since_stamp(text) {
                shared.publish_latency.lock().await.record(latency);
            }
        }
    }

    /// Hands this socket's latencies to the run.
    async fn finish(self) {
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
    Publish,
    CheckStop,
}

/// One socket: connect, join `topic`, then read until told to stop, heartbeating every
/// `heartbeat_every` (phoenix.js: 30 s). `publish` pushes a timestamped comment every interval.
pub(super) async fn socket(
    url: String,
    topic: String,
    shared: Arc<Shared>,
    heartbeat_every: Option<Duration>,
    publish: Option<Duration>,
) {
    let Some(mut ws) = connect(&url, &shared).await else {
        return;
    };
    let join_sent = Instant::now();
    let join = json!(["1", "1", topic, "phx_join", {}]).to_string();
    if let Err(e) = ws.send(Message::text(join)).await {
        shared.fail(format!("join: {e}"));
        return;
    }
    let mut reader = Reader {
        shared: shared.clone(),
        join_sent,
        joined: false,
        latencies: Samples::default(),
    };
    let mut heartbeat = heartbeat_every.map(every);
    let mut publisher = publish.map(every);
    let mut check_stop = tokio::time::interval(Duration::from_millis(200));
    let mut n = 0u64;
    // Not split into halves: every poll of a split stream takes a lock.
    loop {
        let event = tokio::select! {
            msg = ws.next() => Event::Frame(msg),
            () = tick(heartbeat.as_mut()) => Event::Heartbeat,
            () = tick(publisher.as_mut()), if !shared.stop_publishing.load(Ordering::Relaxed) => Event::Publish,
            _ = check_stop.tick() => Event::CheckStop,
        };
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
            Event::Heartbeat => {
                n += 1;
                json!([null, format!("hb{n}"), "phoenix", "heartbeat", {}])
            }
            Event::Publish => {
                n += 1;
                json!(["1", format!("p{n}"), topic, "new_comment", {"content": format!("bench sent={}", now_micros())}])
            }
            Event::CheckStop => {
                if shared.stop.load(Ordering::Relaxed) {
                    let _ = ws.send(Message::Close(None)).await;
                    break;
                }
                continue;
            }
        };
        if ws.send(Message::text(outgoing.to_string())).await.is_err() {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            break;
        }
    }
    reader.finish().await;
}
