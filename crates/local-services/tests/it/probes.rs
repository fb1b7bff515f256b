//! The protocol probes against closed ports and fake servers.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use local_services::{RedisReply, mariadb_answers, redis_answers, redis_ping};

use crate::{PROBE, addr};

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bound");
    listener.local_addr().expect("address").port()
}

/// A one-connection server on a free port that reads what the client sends (up to `read` bytes)
/// and then replies `reply`.
fn fake_server(read: usize, reply: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bound");
    let port = listener.local_addr().expect("address").port();
    thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = vec![0u8; read];
            let _ = stream.read_exact(&mut buf);
            let _ = stream.write_all(reply);
            thread::sleep(Duration::from_millis(200));
        }
    });
    port
}

#[test]
fn mariadb_answers_is_false_for_a_closed_port() {
    assert!(!mariadb_answers(&addr(closed_port()), PROBE));
}

#[test]
fn mariadb_answers_is_false_for_a_silent_server_within_the_timeout() {
    let port = fake_server(1, b"");
    let started = Instant::now();
    assert!(!mariadb_answers(&addr(port), Duration::from_millis(300)));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn mariadb_answers_recognises_a_handshake_only() {
    // Header: payload length 3 (little endian), sequence 0; then protocol version 10.
    let handshake = fake_server(0, b"\x03\x00\x00\x00\x0a5.5");
    assert!(mariadb_answers(&addr(handshake), PROBE));
    // An error packet (0xff), e.g. "Host is blocked".
    let error = fake_server(0, b"\x05\x00\x00\x00\xff\x69\x04Host");
    assert!(!mariadb_answers(&addr(error), PROBE));
    let redis = fake_server(0, b"-ERR unknown\r\n");
    assert!(!mariadb_answers(&addr(redis), PROBE));
}

#[test]
fn redis_ping_tells_pong_from_noauth() {
    const PING: usize = b"*1\r\n$4\r\nPING\r\n".len();
    let pong = fake_server(PING, b"+PONG\r\n");
    assert_eq!(redis_ping(&addr(pong), PROBE), Some(RedisReply::Pong));
    let noauth = fake_server(PING, b"-NOAUTH Authentication required.\r\n");
    assert_eq!(redis_ping(&addr(noauth), PROBE), Some(RedisReply::NoAuth));
    let noauth = fake_server(PING, b"-NOAUTH Authentication required.\r\n");
    assert!(redis_answers(&addr(noauth), PROBE));
    let other = fake_server(PING, b"HTTP/1.1 400 Bad Request\r\n\r\n");
    assert_eq!(redis_ping(&addr(other), PROBE), None);
    assert!(!redis_answers(&addr(closed_port()), PROBE));
}
