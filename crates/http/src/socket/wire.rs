//! The outgoing side of one WebSocket connection: frames waiting to be written, written
//! straight from the shared broadcast buffers with vectored writes. A frame's header (2 to
//! 10 bytes; server frames are never masked) is made at write time, so a broadcast is
//! never copied per subscriber, and a queue that is empty holds no memory.

use std::collections::VecDeque;
use std::io::{self, IoSlice};

use bytes::Bytes;

use super::transport::Transport;

const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PONG: u8 = 0xA;

/// Frames handed to one `writev`; Linux accepts up to 1024 slices.
const BATCH: usize = 64;

/// One frame to send: an opcode and its payload.
#[derive(Debug)]
struct Frame {
    opcode: u8,
    payload: Bytes,
}

impl Frame {
    fn wire_len(&self) -> usize {
        header_len(self.payload.len()) + self.payload.len()
    }
}

fn header_len(payload: usize) -> usize {
    match payload {
        0..=125 => 2,
        126..=0xFFFF => 4,
        _ => 10,
    }
}

/// Writes the header of a final, unmasked frame into `out`; returns its length.
fn header(opcode: u8, payload: usize, out: &mut [u8; 10]) -> usize {
    out[0] = 0x80 | opcode;
    match payload {
        0..=125 => {
            out[1] = payload as u8;
            2
        }
        126..=0xFFFF => {
            out[1] = 126;
            out[2..4].copy_from_slice(&(payload as u16).to_be_bytes());
            4
        }
        _ => {
            out[1] = 127;
            out[2..10].copy_from_slice(&(payload as u64).to_be_bytes());
            10
        }
    }
}

/// The frames a connection still has to write, oldest first.
#[derive(Debug, Default)]
pub(super) struct Outgoing {
    frames: VecDeque<Frame>,
    /// Bytes of the first frame (header included) already written.
    written: usize,
    /// Payload bytes of the frames not yet fully written.
    bytes: usize,
}

impl Outgoing {
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Payload bytes still to write.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn push(&mut self, opcode: u8, payload: Bytes) {
        self.bytes += payload.len();
        self.frames.push_back(Frame { opcode, payload });
    }

    pub fn text(&mut self, payload: Bytes) {
        self.push(TEXT, payload);
    }

    pub fn pong(&mut self, payload: Bytes) {
        self.push(PONG, payload);
    }

    /// A close frame: the code, then a reason cut to fit a control frame (125 bytes).
    pub fn close(&mut self, code: u16, reason: &str) {
        let mut payload = Vec::with_capacity(2 + reason.len().min(123));
        payload.extend_from_slice(&code.to_be_bytes());
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        payload.extend_from_slice(&reason.as_bytes()[..end]);
        self.push(CLOSE, payload.into());
    }

    /// Writes as much as the socket takes without waiting. `Ok(true)`: everything is
    /// written; `Ok(false)`: the socket is full, wait until it is writable.
    pub fn write_to(&mut self, stream: &impl Transport) -> io::Result<bool> {
        let mut headers = [[0u8; 10]; BATCH];
        while !self.frames.is_empty() {
            let mut lens = [0usize; BATCH];
            for (i, frame) in self.frames.iter().take(BATCH).enumerate() {
                lens[i] = header(frame.opcode, frame.payload.len(), &mut headers[i]);
            }
            let mut slices = [IoSlice::new(&[]); 2 * BATCH];
            let mut used = 0;
            for (i, frame) in self.frames.iter().take(BATCH).enumerate() {
                let len = lens[i];
                // The first frame may be partly written already.
                let skip = if i == 0 { self.written } else { 0 };
                if skip < len {
                    slices[used] = IoSlice::new(&headers[i][skip..len]);
                    used += 1;
                }
                let from = skip.saturating_sub(len);
                if from < frame.payload.len() {
                    slices[used] = IoSlice::new(&frame.payload[from..]);
                    used += 1;
                }
            }
            let written = match stream.try_write_vectored(&slices[..used]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.advance(written);
        }
        // Give the buffer back: an idle connection should hold nothing.
        self.frames = VecDeque::new();
        Ok(true)
    }

    fn advance(&mut self, mut n: usize) {
        while let Some(front) = self.frames.front() {
            let left = front.wire_len() - self.written;
            if n < left {
                self.written += n;
                return;
            }
            n -= left;
            self.written = 0;
            self.bytes -= front.payload.len();
            self.frames.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_rfc_6455_length_forms() {
        let mut h = [0u8; 10];
        assert_eq!(header(TEXT, 5, &mut h), 2);
        assert_eq!(&h[..2], &[0x81, 5]);
        assert_eq!(header(TEXT, 126, &mut h), 4);
        assert_eq!(&h[..4], &[0x81, 126, 0, 126]);
        assert_eq!(header(CLOSE, 70_000, &mut h), 10);
        assert_eq!(&h[..10], &[0x88, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    }

    #[test]
    fn a_close_reason_is_cut_to_fit_a_control_frame_on_a_char_boundary() {
        let mut out = Outgoing::default();
        out.close(1001, &"é".repeat(100));
        let frame = out.frames.front().expect("close frame");
        assert!(frame.payload.len() <= 125);
        assert_eq!(&frame.payload[..2], &1001u16.to_be_bytes());
        assert!(std::str::from_utf8(&frame.payload[2..]).is_ok());
    }

    #[test]
    fn partial_writes_resume_mid_frame() {
        let mut out = Outgoing::default();
        out.text(Bytes::from_static(b"hello"));
        out.text(Bytes::from_static(b"world"));
        out.advance(3);
        assert_eq!(out.frames.len(), 2);
        assert_eq!(out.written, 3);
        out.advance(4 + 2);
        assert_eq!(out.frames.len(), 1, "the first frame (7 bytes) is done");
        assert_eq!(out.written, 2);
        out.advance(5);
        assert!(out.is_empty());
    }

    /// A frame larger than the socket buffers goes out in many partial writes and
    /// arrives byte for byte, framed, after the frames queued before it.
    #[tokio::test]
    async fn large_frames_survive_partial_writes_over_a_real_socket() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // A small receive window, and more than the kernel's largest send buffer.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(8192).unwrap();
        let (client, server) = tokio::join!(socket.connect(addr), listener.accept());
        let (mut client, (server, _)) = (client.unwrap(), server.unwrap());
        let big: Vec<u8> = (0..12_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut out = Outgoing::default();
        out.text(Bytes::from_static(b"first"));
        out.text(Bytes::from(big.clone()));
        out.pong(Bytes::from_static(b"p"));
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            client.read_to_end(&mut all).await.unwrap();
            all
        });
        let mut partial = false;
        loop {
            match out.write_to(&server).unwrap() {
                true => break,
                false => {
                    partial = true;
                    server.writable().await.unwrap();
                }
            }
        }
        assert!(partial, "12 MB cannot fit the socket buffers at once");
        drop(server);
        let all = reader.await.unwrap();
        assert_eq!(&all[..7], b"\x81\x05first");
        assert_eq!(&all[7..9], &[0x81, 127]);
        assert_eq!(&all[9..17], &(big.len() as u64).to_be_bytes());
        assert_eq!(&all[17..17 + big.len()], &big[..]);
        assert_eq!(&all[17 + big.len()..], b"\x8a\x01p");
    }
}
