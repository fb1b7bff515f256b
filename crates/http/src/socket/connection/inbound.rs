//! What a connection makes of the bytes its client sends: whole frames (a header over
//! the limit is refused before its payload arrives), fragmented messages put together,
//! pings answered, and each text message handed to the session.

use actix_codec::Decoder;
use actix_http::ws::{Frame, Item, ProtocolError};
use bytes::{Bytes, BytesMut};
use realtime::Session;
use tokio::time::Instant;

use super::{CLOSE_OPCODE, Connection, End};
use crate::socket::transport::Transport;

impl<T: Transport> Connection<T> {
    /// Handles the complete frames in `inbound`, until it holds none or the outgoing side
    /// is full (the rest wait in `inbound`, see `backlog`).
    pub(super) async fn handle_frames(&mut self, session: &mut Session) -> Option<End> {
        loop {
            if self.paused() {
                self.backlog = true;
                return None;
            }
            let announced = announced(&self.inbound);
            if let Some((_, len)) = announced
                && len > self.limits.max_frame as u64
            {
                // Refused at the header: the payload is never waited for.
                return Some(too_large(self.limits.max_frame));
            }
            let frame = match self.codec.decode(&mut self.inbound) {
                Ok(Some(frame)) => frame,
                Ok(None) => {
                    self.backlog = false;
                    return None;
                }
                Err(ProtocolError::Overflow) => return Some(too_large(self.limits.max_frame)),
                Err(ProtocolError::BadOpCode)
                    if announced.is_some_and(|(opcode, _)| opcode == CLOSE_OPCODE) =>
                {
                    return Some(End::Close(
                        1002,
                        "invalid close frame: its code must be 1000-1003, 1007-1014 or \
                         3000-4999 and its reason UTF-8"
                            .to_owned(),
                    ));
                }
                Err(e) => {
                    return Some(End::Close(1002, format!("WebSocket protocol error: {e}")));
                }
            };
            self.last_heard = Instant::now();
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
}

fn too_large(max: usize) -> End {
    End::Close(1009, format!("frame over the limit of {max} bytes"))
}

/// The opcode and payload length a frame's header announces, once the header is in.
fn announced(buf: &[u8]) -> Option<(u8, u64)> {
    let opcode = buf.first()? & 0x0F;
    let len = match buf.get(1)? & 0x7F {
        126 => u64::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)),
        127 => u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?),
        n => u64::from(n),
    };
    Some((opcode, len))
}
