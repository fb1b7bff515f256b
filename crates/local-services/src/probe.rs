//! Protocol-level probes: does a MariaDB or a Redis answer at an address? Also free-port helpers.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// True when something at `addr` (e.g. `"127.0.0.1:3306"`) speaks the MariaDB/MySQL protocol: it
/// accepts a connection and, within `timeout` overall, sends its initial handshake packet (a 4-byte
/// header with sequence id 0, then protocol version 10). Does not log in; the connection is closed
/// right after the first packet.
pub fn mariadb_answers(addr: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let Some(mut stream) = connect(addr, deadline) else {
        return false;
    };
    let mut first = [0u8; 5];
    if read_exact_until(&mut stream, &mut first, deadline).is_err() {
        return false;
    }
    let payload_len = u32::from_le_bytes([first[0], first[1], first[2], 0]);
    let sequence_id = first[3];
    let protocol_version = first[4];
    // A handshake is a few dozen bytes; an error packet (0xff, e.g. "Host is blocked") is not one.
    sequence_id == 0 && protocol_version == 10 && (2..=4096).contains(&payload_len)
}

/// How a Redis answered `PING`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisReply {
    /// `+PONG`: ready and needs no password.
    Pong,
    /// `-NOAUTH ...`: a Redis answers, but it requires a password.
    NoAuth,
}

/// Sends `PING` to `addr` and returns how a Redis answered, or `None` when nothing answers within
/// `timeout` or the answer is not a Redis one.
pub fn redis_ping(addr: &str, timeout: Duration) -> Option<RedisReply> {
    let deadline = Instant::now() + timeout;
    let mut stream = connect(addr, deadline)?;
    stream.set_write_timeout(Some(remaining(deadline)?)).ok()?;
    stream.write_all(b"*1\r\n$4\r\nPING\r\n").ok()?;
    let line = read_line_until(&mut stream, deadline)?;
    if line.starts_with(b"+PONG") {
        Some(RedisReply::Pong)
    } else if line.starts_with(b"-NOAUTH") {
        Some(RedisReply::NoAuth)
    } else {
        None
    }
}

/// True when something at `addr` answers Redis `PING` within `timeout`, with `+PONG` or with a
/// `-NOAUTH` error (use [`redis_ping`] to tell the two apart).
pub fn redis_answers(addr: &str, timeout: Duration) -> bool {
    redis_ping(addr, timeout).is_some()
}

/// A port on 127.0.0.1 that was free a moment ago (the OS's choice for port 0).
pub(crate) fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// True when nothing listens on 127.0.0.1:`port` (binding it succeeds).
pub(crate) fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

pub(crate) fn local_addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

fn remaining(deadline: Instant) -> Option<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    (!left.is_zero()).then_some(left)
}

fn connect(addr: &str, deadline: Instant) -> Option<TcpStream> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs().ok()?.collect();
    addrs.iter().find_map(|a| {
        let stream = TcpStream::connect_timeout(a, remaining(deadline)?).ok()?;
        stream.set_nodelay(true).ok()?;
        Some(stream)
    })
}

fn read_exact_until(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let left = remaining(deadline).ok_or_else(|| io::Error::from(io::ErrorKind::TimedOut))?;
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf[filled..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads up to the first CRLF (at most 512 bytes).
fn read_line_until(stream: &mut TcpStream, deadline: Instant) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    let mut chunk = [0u8; 128];
    while !line.windows(2).any(|w| w == b"\r\n") && line.len() < 512 {
        stream.set_read_timeout(Some(remaining(deadline)?)).ok()?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => line.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    (!line.is_empty()).then_some(line)
}
