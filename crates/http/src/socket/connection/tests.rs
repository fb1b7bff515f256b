//! The connection loop over an in-memory pipe whose send window the test sets, so partial
//! writes, broadcasts arriving during them, slow readers and the closing handshake are
//! covered whatever the kernel's buffer sizes are.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::BytesMut;
use domain::comments::Comments;
use domain::ports::{CommentStore, NoCommentEvents, Posted, Transaction, UnitOfWork};
use domain::{
    ClientId, Comment, CommentBody, CommentId, DeviceRowId, NewComment, Page, PageRequest, Role,
    UserId, Username, VideoId,
};
use realtime::{Hub, LocalBroker, Realtime, RealtimeConfig, Rooms, SocketUser, frame};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Limits, run};
use crate::socket::transport::pipe::{ClientEnd, pipe};

/// A video with no comments: joins work, nothing is stored.
struct NoComments;

#[async_trait]
impl CommentStore for NoComments {
    async fn insert(&self, _: NewComment) -> domain::Result<Comment> {
        Err(domain::Error::NotFound("video"))
    }
    async fn insert_mirrored(&self, _: NewComment) -> domain::Result<Comment> {
        Err(domain::Error::NotFound("video"))
    }
    async fn by_client_id(
        &self,
        _: UserId,
        _: &VideoId,
        _: &ClientId,
    ) -> domain::Result<Option<Posted>> {
        Ok(None)
    }
    async fn by_id(&self, _: CommentId) -> domain::Result<Option<Comment>> {
        Ok(None)
    }
    async fn newest_for_video(
        &self,
        _: &VideoId,
        _: PageRequest<CommentId>,
    ) -> domain::Result<Page<Comment, CommentId>> {
        Ok(Page {
            items: Vec::new(),
            next: None,
        })
    }
    async fn after_position(&self, _: &VideoId, _: u64, _: u16) -> domain::Result<Vec<Comment>> {
        Ok(Vec::new())
    }
    async fn last_position(&self, _: &VideoId) -> domain::Result<u64> {
        Ok(0)
    }
    async fn position_of(&self, _: &VideoId, _: CommentId) -> domain::Result<Option<u64>> {
        Ok(None)
    }
    async fn update_body(&self, _: CommentId, _: CommentBody) -> domain::Result<Comment> {
        Err(domain::Error::NotFound("comment"))
    }
    async fn soft_delete(&self, _: CommentId) -> domain::Result<()> {
        Err(domain::Error::NotFound("comment"))
    }
}

/// Writes are not what these tests are about: a transaction cannot even begin.
struct NoWrites;

#[async_trait]
impl UnitOfWork for NoWrites {
    async fn begin(&self) -> domain::Result<Box<dyn Transaction>> {
        Err(domain::Error::internal("these tests store nothing"))
    }
}

const TOPIC: &str = "video:v1";

struct Node {
    hub: Arc<Hub>,
    rt: Arc<Realtime>,
}

impl Node {
    fn new(config: RealtimeConfig) -> Self {
        let hub = Arc::new(Hub::new());
        let broker = Arc::new(LocalBroker::new(hub.clone()));
        let rooms = Rooms::new(hub.clone(), broker, None, &config);
        let comments = Comments::new(
            Arc::new(NoComments),
            Arc::new(auth::RolePolicy),
            Arc::new(domain::limits::Unlimited),
            Arc::new(NoCommentEvents),
            Arc::new(NoWrites),
        );
        let rt = Realtime::new(rooms, comments, config);
        Self { hub, rt }
    }

    /// A connection over a pipe whose server end may hold `window` unread bytes.
    fn connect(&self, window: usize, limits: Limits) -> (Client, JoinHandle<()>) {
        let user = SocketUser {
            actor: domain::policy::Actor {
                user_id: UserId::generate(),
                device: DeviceRowId::generate(),
                role: Role::User,
                username: Username::parse("ann").unwrap(),
            },
            device_id: "ann-phone".to_owned(),
        };
        let opened = self.rt.open(user, Ipv4Addr::LOCALHOST.into()).unwrap();
        let (server, client) = pipe(window);
        let task = tokio::spawn(run(server, BytesMut::new(), opened, limits));
        (
            Client {
                end: client,
                unparsed: Vec::new(),
            },
            task,
        )
    }

    fn broadcast(&self, event: &str, payload: &Value) {
        let frame = frame::broadcast(TOPIC, event, payload);
        self.hub.broadcast(TOPIC, &frame, None);
    }
}

fn limits() -> Limits {
    Limits {
        idle: Duration::from_secs(60),
        max_frame: 16 * 1024,
        token_expires: Instant::now() + Duration::from_secs(3600),
    }
}

/// A frame as the client sees it.
#[derive(Debug, PartialEq)]
enum Seen {
    Text(Value),
    Close(u16, String),
    Other(u8),
}

struct Client {
    end: ClientEnd,
    unparsed: Vec<u8>,
}

impl Client {
    /// Sends a masked frame, as clients must.
    fn send_frame(&self, opcode: u8, payload: &[u8]) {
        let mut out = vec![0x80 | opcode];
        match payload.len() {
            n @ 0..=125 => out.push(0x80 | n as u8),
            n @ 126..=0xFFFF => {
                out.push(0x80 | 126);
                out.extend((n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend((n as u64).to_be_bytes());
            }
        }
        let mask = [1u8, 2, 3, 4];
        out.extend(mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.end.send(&out);
    }

    fn send(&self, frame: &Value) {
        self.send_frame(0x1, frame.to_string().as_bytes());
    }

    fn join(&self) {
        self.send(&json!(["1", "1", TOPIC, "phx_join", {}]));
    }

    /// Reads what is there now, at most `max` bytes, and returns the frames completed.
    fn read_now(&mut self, max: usize) -> Vec<Seen> {
        let bytes = self.end.read(max);
        self.unparsed.extend(bytes);
        let mut frames = Vec::new();
        while let Some((seen, used)) = parse(&self.unparsed) {
            frames.push(seen);
            self.unparsed.drain(..used);
        }
        frames
    }

    /// Reads until `want` frames arrived, or the server closed, or `within` passed.
    async fn read_frames(&mut self, want: usize, within: Duration) -> Vec<Seen> {
        let deadline = Instant::now() + within;
        let mut frames = Vec::new();
        while frames.len() < want {
            frames.extend(self.read_now(usize::MAX));
            if frames.len() >= want {
                break;
            }
            match tokio::time::timeout_at(deadline, self.end.wait_output()).await {
                Ok(true) => {}
                Ok(false) | Err(_) => break,
            }
        }
        frames
    }

    /// Reads until the server's close frame; returns its code and reason.
    async fn closed(&mut self, within: Duration) -> (u16, String) {
        let deadline = Instant::now() + within;
        loop {
            for seen in self.read_now(usize::MAX) {
                if let Seen::Close(code, reason) = seen {
                    return (code, reason);
                }
            }
            match tokio::time::timeout_at(deadline, self.end.wait_output()).await {
                Ok(true) => {}
                Ok(false) => panic!("the server closed without a close frame"),
                Err(_) => panic!("no close frame within {within:?}"),
            }
        }
    }
}

/// One server frame (unmasked) from the front of `buf`, and its length.
fn parse(buf: &[u8]) -> Option<(Seen, usize)> {
    let opcode = buf.first()? & 0x0F;
    let (len, at) = match buf.get(1)? & 0x7F {
        126 => (
            u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let payload = buf.get(at..at + len)?;
    let seen = match opcode {
        0x1 => Seen::Text(serde_json::from_slice(payload).unwrap()),
        0x8 => Seen::Close(
            u16::from_be_bytes([payload[0], payload[1]]),
            String::from_utf8_lossy(&payload[2..]).into_owned(),
        ),
        other => Seen::Other(other),
    };
    Some((seen, at + len))
}

fn event(seen: &Seen) -> Option<&str> {
    match seen {
        Seen::Text(v) => v[3].as_str(),
        _ => None,
    }
}

/// Joins and reads the reply, the room's stats and the presence state.
async fn joined(client: &mut Client) {
    client.join();
    let frames = client.read_frames(3, Duration::from_secs(5)).await;
    assert_eq!(event(&frames[0]), Some("phx_reply"), "{frames:?}");
    assert_eq!(event(&frames[1]), Some("room_stats"), "{frames:?}");
    assert_eq!(event(&frames[2]), Some("presence_state"), "{frames:?}");
}

/// The defect this loop had: frames offered while a write was partial waited for the
/// client's next message. Here the client never sends after joining, and reads slowly
/// through a window far smaller than what is broadcast; everything must still arrive.
#[tokio::test]
async fn broadcasts_during_partial_writes_arrive_without_the_client_sending() {
    let node = Node::new(RealtimeConfig::default());
    let (mut client, _task) = node.connect(4096, limits());
    joined(&mut client).await;
    let long = "x".repeat(8000);
    for i in 0..300 {
        node.broadcast("new_comment", &json!({ "n": i, "content": long }));
    }
    let mut seen = Vec::new();
    let mut reactions = 0;
    while seen.len() < 300 + 20 {
        // Read a little at a time, as a client with a small receive buffer does.
        let before = seen.len();
        // room_stats (on join, and as the room's count changes) is not counted here.
        for frame in client.read_now(3000) {
            if event(&frame) != Some("room_stats") {
                seen.push(frame);
            }
        }
        if seen.len() >= 300 && reactions < 20 {
            node.broadcast("reaction", &json!({ "emoji": "👍", "n": reactions }));
            reactions += 1;
        }
        if seen.len() == before {
            let more = tokio::time::timeout(Duration::from_secs(5), client.end.wait_output())
                .await
                .unwrap_or_else(|_| panic!("stalled after {} frames", seen.len()));
            assert!(more, "the server closed after {} frames", seen.len());
        }
    }
    let numbers: Vec<u64> = seen
        .iter()
        .filter(|f| event(f) == Some("new_comment"))
        .map(|f| match f {
            Seen::Text(v) => v[4]["n"].as_u64().unwrap(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(numbers, (0..300).collect::<Vec<_>>(), "all, in order");
    assert_eq!(
        seen.iter().filter(|f| event(f) == Some("reaction")).count(),
        20
    );
    assert!(
        client.end.partial_writes() > 0,
        "the window forced partial writes"
    );
}

/// A client that sends and never reads is not read from once enough waits for it: what
/// it sent stays in its own buffers, and the server's replies stop growing.
#[tokio::test]
async fn a_client_that_never_reads_is_not_read_from() {
    let node = Node::new(RealtimeConfig::default());
    let (client, _task) = node.connect(1024, limits());
    let heartbeat = json!([null, "1", "phoenix", "heartbeat", {}]);
    for _ in 0..5000 {
        client.send(&heartbeat);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let unread = client.end.unread_by_server();
    assert!(
        unread > 0,
        "the server kept reading though nothing it wrote was read"
    );
    assert!(!client.end.server_closed());
}

/// A queue over its byte bound closes the socket with 1013.
#[tokio::test]
async fn a_socket_whose_queue_passes_its_byte_bound_is_closed_with_1013() {
    let node = Node::new(RealtimeConfig {
        outbox_bytes: 64 * 1024,
        ..RealtimeConfig::default()
    });
    let (mut client, _task) = node.connect(1024, limits());
    joined(&mut client).await;
    let long = "x".repeat(8000);
    for i in 0..40 {
        node.broadcast("new_comment", &json!({ "n": i, "content": long }));
    }
    let (code, reason) = client.closed(Duration::from_secs(5)).await;
    assert_eq!((code, reason.as_str()), (1013, "slow consumer"));
}

/// The closing handshake writes every frame queued before the close frame, through
/// partial writes, then says it is done sending.
#[tokio::test]
async fn frames_queued_before_a_close_are_written_before_it() {
    let node = Node::new(RealtimeConfig::default());
    let (mut client, task) = node.connect(512, limits());
    joined(&mut client).await;
    for i in 0..10 {
        node.broadcast("reaction", &json!({ "n": i, "pad": "y".repeat(300) }));
    }
    node.rt.close_all();
    let frames = client.read_frames(11, Duration::from_secs(5)).await;
    assert_eq!(
        frames
            .iter()
            .filter(|f| event(f) == Some("reaction"))
            .count(),
        10,
        "{frames:?}"
    );
    assert_eq!(
        frames.last(),
        Some(&Seen::Close(1012, "server shutting down".to_owned()))
    );
    client.end.close();
    task.await.unwrap();
    assert!(client.end.server_closed());
    assert_eq!(node.rt.open_sockets(), 0);
}

/// While the close frame is still unwritten the socket counts as open, so a shutdown
/// that waits for every socket waits for its close frame.
#[tokio::test]
async fn a_closing_socket_counts_as_open_until_its_close_frame_is_written() {
    let node = Node::new(RealtimeConfig::default());
    let (mut client, task) = node.connect(64, limits());
    joined(&mut client).await;
    node.broadcast("reaction", &json!({ "pad": "z".repeat(500) }));
    node.rt.close_all();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(node.rt.open_sockets(), 1, "the close frame is not out yet");
    let (code, _) = client.closed(Duration::from_secs(5)).await;
    assert_eq!(code, 1012);
    client.end.close();
    task.await.unwrap();
    assert_eq!(node.rt.open_sockets(), 0);
}

/// Only complete frames are activity: a frame trickled a byte at a time does not keep the
/// socket alive past the idle timeout.
#[tokio::test(start_paused = true)]
async fn a_trickled_partial_frame_does_not_hold_off_the_idle_timeout() {
    let node = Node::new(RealtimeConfig::default());
    let (mut client, _task) = node.connect(64 * 1024, limits());
    let started = Instant::now();
    // The header of a 100-byte masked text frame, then its bytes one every 5 s.
    client.end.send(&[0x81, 0x80 | 100, 1, 2, 3, 4]);
    let watch = async {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_secs(5)).await;
            client.end.send(b"a");
        }
    };
    let mut closer = Client {
        end: client.end.clone(),
        unparsed: Vec::new(),
    };
    let (code, reason) = tokio::select! {
        closed = closer.closed(Duration::from_secs(600)) => closed,
        () = watch => panic!("still open after 500 s of trickle"),
    };
    assert_eq!((code, reason.as_str()), (1001, "idle timeout"));
    assert!(started.elapsed() < Duration::from_secs(70));
    client.unparsed.clear();
}

/// A frame whose header announces more than the limit is refused at the header, without
/// waiting for (or buffering) its payload.
#[tokio::test]
async fn an_oversized_frame_is_refused_at_its_header() {
    let node = Node::new(RealtimeConfig::default());
    let (mut client, _task) = node.connect(64 * 1024, limits());
    let mut header = vec![0x81, 0x80 | 127];
    header.extend((10_000_000u64).to_be_bytes());
    header.extend([1, 2, 3, 4]);
    client.end.send(&header);
    let (code, reason) = client.closed(Duration::from_secs(5)).await;
    assert_eq!(
        (code, reason.as_str()),
        (1009, "frame over the limit of 16384 bytes")
    );
}

/// A close frame with a code no endpoint may send gets a reason saying so.
#[tokio::test]
async fn a_close_with_an_invalid_code_is_answered_with_a_clear_reason() {
    let node = Node::new(RealtimeConfig::default());
    let (mut client, _task) = node.connect(64 * 1024, limits());
    client.send_frame(0x8, &999u16.to_be_bytes());
    let (code, reason) = client.closed(Duration::from_secs(5)).await;
    assert_eq!(code, 1002);
    assert!(reason.starts_with("invalid close frame"), "{reason}");
}

/// A valid close is echoed with its code.
#[tokio::test]
async fn a_client_close_is_echoed() {
    let node = Node::new(RealtimeConfig::default());
    let (mut client, _task) = node.connect(64 * 1024, limits());
    client.send_frame(0x8, &4000u16.to_be_bytes());
    let (code, _) = client.closed(Duration::from_secs(5)).await;
    assert_eq!(code, 4000);
}

/// A socket ends when its access token does, with a reason of its own.
#[tokio::test(start_paused = true)]
async fn a_socket_is_closed_when_its_token_expires() {
    let node = Node::new(RealtimeConfig::default());
    let expires = Instant::now() + Duration::from_secs(90);
    let (mut client, _task) = node.connect(
        64 * 1024,
        Limits {
            token_expires: expires,
            ..limits()
        },
    );
    joined(&mut client).await;
    // Heartbeats keep it from idling out.
    let heartbeats = async {
        loop {
            tokio::time::sleep(Duration::from_secs(20)).await;
            client.end.send(&heartbeat_frame(json!([
                null,
                "2",
                "phoenix",
                "heartbeat",
                {}
            ])));
        }
    };
    let mut closer = Client {
        end: client.end.clone(),
        unparsed: Vec::new(),
    };
    let (code, reason) = tokio::select! {
        closed = closer.closed(Duration::from_secs(600)) => closed,
        () = heartbeats => unreachable!(),
    };
    assert_eq!((code, reason.as_str()), (4001, "token expired"));
    assert!(Instant::now() >= expires);
}

/// A masked text frame, for sending from inside a borrow of the client.
fn heartbeat_frame(value: Value) -> Vec<u8> {
    let payload = value.to_string();
    let mut out = vec![0x81, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    out.extend(payload.bytes());
    out
}

mod props {
    //! Whatever bytes arrive, in whatever pieces: no panic, the task ends once the client
    //! goes, and any close the server sends carries a code it documents.
    use super::*;
    use proptest::prelude::*;

    /// Masked frames of every opcode (valid ones, reserved ones, fragments) and noise.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            3 => (0u8..16, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..200))
                .prop_map(|(opcode, fin, payload)| masked(opcode, fin, &payload)),
            2 => prop_oneof![
                Just(json!([null, "1", "phoenix", "heartbeat", {}])),
                Just(json!(["1", "1", TOPIC, "phx_join", {}])),
                Just(json!(["1", "2", TOPIC, "reaction", {"emoji": "x"}])),
                Just(json!(["1", "3", TOPIC, "phx_leave", {}])),
            ]
            .prop_map(|v| masked(0x1, true, v.to_string().as_bytes())),
            1 => proptest::collection::vec(any::<u8>(), 0..40),
        ]
    }

    fn masked(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            n @ 0..=125 => out.push(0x80 | n as u8),
            n => {
                out.push(0x80 | 126);
                out.extend((n as u16).to_be_bytes());
            }
        }
        let mask = [9u8, 8, 7, 6];
        out.extend(mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 128,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_bytes_end_cleanly(pieces in proptest::collection::vec(piece(), 0..30), split in 1usize..64) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let node = Node::new(RealtimeConfig::default());
                let (mut client, task) = node.connect(64 * 1024, limits());
                let bytes: Vec<u8> = pieces.concat();
                for chunk in bytes.chunks(split) {
                    client.end.send(chunk);
                    tokio::task::yield_now().await;
                }
                client.end.close();
                tokio::time::timeout(Duration::from_secs(5), task)
                    .await
                    .expect("the connection ends once the client is gone")
                    .expect("no panic");
                for seen in client.read_now(usize::MAX) {
                    if let Seen::Close(code, _) = seen {
                        assert!(
                            [1000, 1001, 1002, 1003, 1007, 1009].contains(&code)
                                || (3000..5000).contains(&code)
                                || (1010..=1014).contains(&code),
                            "close code {code}"
                        );
                    }
                }
                assert_eq!(node.rt.open_sockets(), 0);
            });
        }
    }
}
