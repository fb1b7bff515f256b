//! One upgraded WebSocket connection, run on the bare TCP stream once the handshake is
//! done. actix-http's connection machinery (its 8 KiB read and write buffers, the response
//! body channel, a second task) is gone by then; what stays per socket is the session, its
//! queue, and buffers that exist only while there is something in them. Frames are parsed
//! with actix-http's WebSocket codec; outgoing frames are written from the shared
//! broadcast buffers (see `wire`).
//!
//! One task per connection waits for whichever comes first: bytes from the client, frames
//! in its queue, room in the socket for what is still unwritten, or the idle deadline.

use std::io;
use std::time::Duration;

use actix_http::ws::Codec;
use bytes::BytesMut;
use realtime::{CloseReason, Opened, OutboxReceiver, Session};
use tokio::time::{Instant, sleep_until, timeout};

use super::transport::Transport;
use super::wire::Outgoing;

/// How long a closing connection gets to flush its last frames and see the client's close.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// The most read at once; unparsed input is kept only while a frame is incomplete.
const READ_CHUNK: usize = 4096;
/// A client that sends while not reading what it is sent is not read from (and frames it
/// already sent are not handled) while this many frames or bytes wait for it: its own
/// sends then back up in TCP, not here, and replies (a join's history can be hundreds of
/// KB for a 100-byte request) cannot pile up.
const READ_PAUSE_FRAMES: usize = 256;
const READ_PAUSE_BYTES: usize = 256 * 1024;
/// Rounds of "take from the queue, write it all" before the task lets others run.
const FLUSH_ROUNDS: usize = 16;
const CLOSE_OPCODE: u8 = 0x8;

/// Limits of one connection.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub idle: Duration,
    pub max_frame: usize,
    /// When the access token the socket was opened with expires.
    pub token_expires: Instant,
}

/// How the main loop ended.
#[derive(Debug, PartialEq)]
enum End {
    /// Close with this code and reason.
    Close(u16, String),
    /// The client closed (echo its code), or the connection is gone.
    Peer(Option<u16>),
    Gone,
}

impl End {
    fn because(reason: CloseReason) -> Self {
        End::Close(reason.code(), reason.as_str().to_owned())
    }
}

struct Connection<T> {
    stream: T,
    codec: Codec,
    inbound: BytesMut,
    /// `inbound` may hold complete frames left unhandled while the outgoing side was full.
    backlog: bool,
    /// A fragmented text message being put together.
    fragments: Option<BytesMut>,
    outgoing: Outgoing,
    limits: Limits,
    /// When the last complete frame arrived: a trickle of partial frames is not activity.
    last_heard: Instant,
}

/// Runs the connection to its end. The session is dropped (presence left, subscriptions
/// gone) as soon as the conversation is over, before the closing handshake; the socket
/// counts as open until that handshake is over too, so a shutdown that waits for every
/// socket waits for every close frame to be written.
///
/// Not an `async fn`: its arguments would stay in the task for its whole life beside
/// what is built from them (rust-lang/rust#62958). Built first, the connection and the
/// parts of `opened` are all the task holds.
pub(super) fn run<T: Transport>(
    stream: T,
    leftover: BytesMut,
    opened: Opened,
    limits: Limits,
) -> impl Future<Output = ()> {
    let Opened {
        mut session,
        outbox,
        registration,
    } = opened;
    let mut conn = Connection {
        stream,
        codec: Codec::new().max_size(limits.max_frame),
        inbound: leftover,
        backlog: true,
        fragments: None,
        outgoing: Outgoing::default(),
        limits,
        last_heard: Instant::now(),
    };
    async move {
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
        drop(registration);
    }
}

impl<T: Transport> Connection<T> {
    async fn converse(&mut self, session: &mut Session, outbox: &OutboxReceiver) -> End {
        // One timer for both deadlines (an idle socket should cost as little as it can):
        // the idle timeout and the token's expiry, whichever comes first.
        let timer = sleep_until(self.next_deadline());
        tokio::pin!(timer);
        loop {
            if let Some(reason) = outbox.kicked() {
                if reason == CloseReason::Shutdown {
                    // What was broadcast before the shutdown still goes out, before the
                    // close frame (a slow consumer's backlog, by contrast, is dropped).
                    for frame in outbox.take() {
                        self.outgoing.text(frame.into_bytes());
                    }
                }
                return End::because(reason);
            }
            match self.flush(outbox) {
                Ok(true) => {
                    tokio::task::yield_now().await;
                    continue;
                }
                Ok(false) => {}
                Err(_) => return End::Gone,
            }
            if self.backlog && !self.paused() {
                if let Some(end) = self.handle_frames(session).await {
                    return end;
                }
                continue;
            }
            let waiting_to_write = !self.outgoing.is_empty();
            let may_read = !self.paused();
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
                () = &mut timer => {
                    let now = Instant::now();
                    if now >= self.limits.token_expires {
                        return End::because(CloseReason::TokenExpired);
                    }
                    if now >= self.last_heard + self.limits.idle {
                        return End::because(CloseReason::Idle);
                    }
                    timer.as_mut().reset(self.next_deadline());
                }
            }
        }
    }

    /// Writes what is pending, taking more from the queue each time all of it is out,
    /// until the socket is full or nothing is left: frames queued while a write was
    /// partial go out as soon as the socket takes the rest, not when the client next
    /// sends. A queued frame is taken only once the ones before it are written, so the
    /// queue's bound is the bound on what this socket holds. `Ok(true)`: more may be
    /// waiting, but the task should let others run first.
    fn flush(&mut self, outbox: &OutboxReceiver) -> io::Result<bool> {
        for _ in 0..FLUSH_ROUNDS {
            if self.outgoing.is_empty() {
                let frames = outbox.take();
                if frames.is_empty() {
                    return Ok(false);
                }
                for frame in frames {
                    self.outgoing.text(frame.into_bytes());
                }
            }
            if !self.outgoing.write_to(&self.stream)? {
                // The socket is full; it wakes the loop when it has room.
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// When the timer must next look: the idle deadline or the token's expiry.
    fn next_deadline(&self) -> Instant {
        (self.last_heard + self.limits.idle).min(self.limits.token_expires)
    }

    /// Too much waits for the client: read nothing more from it for now.
    fn paused(&self) -> bool {
        self.outgoing.len() >= READ_PAUSE_FRAMES || self.outgoing.bytes() >= READ_PAUSE_BYTES
    }

    /// Reads what has arrived and handles every complete frame in it.
    async fn read(&mut self, session: &mut Session) -> Option<End> {
        match self.read_available() {
            Ok(0) => return Some(End::Peer(None)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
            Err(_) => return Some(End::Gone),
        }
        let end = self.handle_frames(session).await;
        if self.inbound.is_empty() {
            // Give the buffer back: an idle connection should hold nothing.
            self.inbound = BytesMut::new();
        }
        end
    }

    /// Reads into a buffer on the stack, then keeps only what arrived: the per-socket
    /// buffer is as large as the unparsed input, not as large as a read could be.
    fn read_available(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; READ_CHUNK];
        let n = self.stream.try_read(&mut chunk)?;
        self.inbound.extend_from_slice(&chunk[..n]);
        Ok(n)
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
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        })
        .await;
    }
}

/// Reads and drops what the client still sends while the connection closes.
fn discard_input(stream: &impl Transport) -> io::Result<usize> {
    let mut sink = [0u8; 1024];
    stream.try_read(&mut sink)
}

mod inbound;
#[cfg(test)]
mod tests;
