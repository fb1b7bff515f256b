//! One upgraded WebSocket connection, run on the bare TCP stream once the handshake is
//! done. actix-http's connection machinery (its 8 KiB read and write buffers, the response
//! body channel, a second task) is gone by then; what stays per socket is the session, its
//! queue, and buffers that exist only while there is something in them. Frames are parsed
//! with actix-http's WebSocket codec; outgoing frames are written from the shared
//! broadcast buffers (see `wire`).
//!
//! One task per connection waits for whichever comes first: bytes from the client, frames
//! in its queue, room in the socket for what is still unwritten, or the idle deadline.

use std::time::Duration;

use actix_codec::Decoder;
use actix_http::ws::{Codec, Frame, Item, ProtocolError};
use bytes::{Bytes, BytesMut};
use realtime::{OutboxReceiver, Session};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

use super::wire::Outgoing;

/// How long a closing connection gets to flush its last frames and see the client's close.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// The most read at once; unparsed input is kept only while a frame is incomplete.
const READ_CHUNK: usize = 4096;
/// A client that sends while not reading what it is sent is not read from while this many
/// frames wait for it (its own sends then back up in TCP, not here).
const READ_PAUSE_FRAMES: usize = 256;

/// Limits of one connection.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub idle: Duration,
    pub max_frame: usize,
}

/// How the main loop ended.
enum End {
    /// Close with this code and reason.
    Close(u16, String),
    /// The client closed (echo its code), or the connection is gone.
    Peer(Option<u16>),
    Gone,
}

struct Connection {
    stream: TcpStream,
    codec: Codec,
    inbound: BytesMut,
    /// A fragmented text message being put together.
    fragments: Option<BytesMut>,
    outgoing: Outgoing,
    limits: Limits,
    last_heard: Instant,
}

/// Runs the connection to its end; the session is dropped (presence left, subscriptions
/// gone) as soon as the conversation is over, before the closing handshake.
pub(super) async fn run(
    stream: TcpStream,
    leftover: BytesMut,
    mut session: Session,
    outbox: OutboxReceiver,
    limits: Limits,
) {
    let _ = stream.set_nodelay(true);
    let mut conn = Connection {
        stream,
        codec: Codec::new().max_size(limits.max_frame),
        inbound: leftover,
        fragments: None,
        outgoing: Outgoing::default(),
        limits,
        last_heard: Instant::now(),
    };
    let end = conn.converse(&mut session, &outbox).await;
    let id = session.id();
    drop(session);
    match end {
        End::Close(code, reason) => {
            tracing::info!(socket.id = id, code, reason = %reason, "closing socket");
            conn.outgoing.close(code, &reason);
            conn.finish().await;
        }
        End::Peer(code) => {
            conn.outgoing.close(code.unwrap_or(1000), "");
            conn.finish().await;
        }
        End::Gone => {}
    }
}

impl Connection {
    async fn converse(&mut self, session: &mut Session, outbox: &OutboxReceiver) -> End {
        let idle = sleep(self.limits.idle);
        tokio::pin!(idle);
        loop {
            if let Some(reason) = outbox.kicked() {
                return End::Close(reason.code(), reason.as_str().to_owned());
            }
            // Take queued broadcasts only once the last ones are written, so the queue's
            // bound is the bound on what this socket holds.
            if self.outgoing.is_empty() {
                for frame in outbox.take() {
                    self.outgoing.text(frame.into_bytes());
                }
            }
            match self.outgoing.write_to(&self.stream) {
                Ok(_) => {}
                Err(_) => return End::Gone,
            }
            let waiting_to_write = !self.outgoing.is_empty();
            let may_read = self.outgoing.len() < READ_PAUSE_FRAMES;
            tokio::select! {
                biased;
                () = outbox.ready() => {}
                ready = self.stream.writable(), if waiting_to_write => {
                    if ready.is_err() {
                        return End::Gone;
                    }
                }
                ready = self.stream.readable(), if may_read => {
                    if ready.is_err() {
                        return End::Gone;
                    }
                    if let Some(end) = self.read(session).await {
                        return end;
                    }
                }
                () = &mut idle => {
                    let deadline = self.last_heard + self.limits.idle;
                    if Instant::now() >= deadline {
                        return End::Close(1001, "idle timeout".to_owned());
                    }
                    idle.as_mut().reset(deadline);
                }
            }
        }
    }

    /// Reads what has arrived and handles every complete frame in it.
    async fn read(&mut self, session: &mut Session) -> Option<End> {
        match self.read_available() {
            Ok(0) => return Some(End::Peer(None)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return None,
            Err(_) => return Some(End::Gone),
        }
        self.last_heard = Instant::now();
        let end = self.handle_frames(session).await;
        if end.is_none() && self.inbound.len() > self.limits.max_frame + 14 {
            // Still no complete frame, and already more than the largest allowed.
            return Some(too_large(self.limits.max_frame));
        }
        if self.inbound.is_empty() {
            // Give the buffer back: an idle connection should hold nothing.
            self.inbound = BytesMut::new();
        }
        end
    }

    /// Reads into a buffer on the stack, then keeps only what arrived: the per-socket
    /// buffer is as large as the unparsed input, not as large as a read could be.
    fn read_available(&mut self) -> std::io::Result<usize> {
        let mut chunk = [0u8; READ_CHUNK];
        let n = self.stream.try_read(&mut chunk)?;
        self.inbound.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    async fn handle_frames(&mut self, session: &mut Session) -> Option<End> {
        loop {
            let frame = match self.codec.decode(&mut self.inbound) {
                Ok(Some(frame)) => frame,
                Ok(None) => return None,
                Err(ProtocolError::Overflow) => return Some(too_large(self.limits.max_frame)),
                Err(e) => {
                    return Some(End::Close(1002, format!("WebSocket protocol error: {e}")));
                }
            };
            let text = match frame {
                Frame::Text(bytes) => bytes,
                Frame::Continuation(item) => match self.assemble(item) {
                    Ok(Some(text)) => text,
                    Ok(None) => continue,
                    Err(end) => return Some(end),
                },
                Frame::Binary(_) => {
                    return Some(End::Close(
                        1003,
                        "binary frames are not supported".to_owned(),
                    ));
                }
                Frame::Ping(payload) => {
                    self.outgoing.pong(payload);
                    continue;
                }
                Frame::Pong(_) => continue,
                Frame::Close(reason) => return Some(End::Peer(reason.map(|r| r.code.into()))),
            };
            let Ok(text) = std::str::from_utf8(&text) else {
                return Some(End::Close(1007, "text frame is not UTF-8".to_owned()));
            };
            // Boxed: the future of a frame that reaches the database is large, and it
            // should not make every idle connection's task that large.
            match Box::pin(session.receive(text)).await {
                Ok(frames) => {
                    for frame in frames {
                        self.outgoing.text(frame.into_bytes());
                    }
                }
                Err(fatal) => return Some(End::Close(fatal.code, fatal.reason)),
            }
        }
    }

    /// Collects a fragmented message; returns it whole once its last fragment is in.
    fn assemble(&mut self, item: Item) -> Result<Option<Bytes>, End> {
        let (first, last, bytes) = match item {
            Item::FirstText(b) => (true, false, b),
            Item::Continue(b) => (false, false, b),
            Item::Last(b) => (false, true, b),
            Item::FirstBinary(_) => {
                return Err(End::Close(
                    1003,
                    "binary frames are not supported".to_owned(),
                ));
            }
        };
        let buffer = if first {
            self.fragments.insert(BytesMut::new())
        } else {
            match self.fragments.as_mut() {
                Some(buffer) => buffer,
                None => {
                    return Err(End::Close(
                        1002,
                        "continuation without a first fragment".to_owned(),
                    ));
                }
            }
        };
        if buffer.len() + bytes.len() > self.limits.max_frame {
            return Err(too_large(self.limits.max_frame));
        }
        buffer.extend_from_slice(&bytes);
        if last {
            Ok(self.fragments.take().map(BytesMut::freeze))
        } else {
            Ok(None)
        }
    }

    /// The closing handshake: write what is left (the close frame last), say we are done
    /// sending, and read until the client closes too, all within [`CLOSE_GRACE`]. Closing
    /// with unread input would make the kernel reset the connection, and the client could
    /// lose the close frame.
    async fn finish(mut self) {
        let _ = timeout(CLOSE_GRACE, async {
            loop {
                match self.outgoing.write_to(&self.stream) {
                    Ok(true) => break,
                    Ok(false) => {
                        if self.stream.writable().await.is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
            let _ = self.stream.shutdown().await;
            loop {
                if self.stream.readable().await.is_err() {
                    return;
                }
                match discard_input(&self.stream) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        })
        .await;
    }
}

/// Reads and drops what the client still sends while the connection closes.
fn discard_input(stream: &TcpStream) -> std::io::Result<usize> {
    let mut sink = [0u8; 1024];
    stream.try_read(&mut sink)
}

fn too_large(max: usize) -> End {
    End::Close(1009, format!("frame over the limit of {max} bytes"))
}
