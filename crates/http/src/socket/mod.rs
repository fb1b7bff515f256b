//! The WebSocket transport for phoenix.js: the authenticated handshake, then a lean
//! per-connection loop on the bare TCP stream. Every protocol decision is the realtime
//! crate's; this module only authenticates, moves frames and closes.
//!
//! - `handshake`: who may connect, the 101 (or the error envelope), and taking the stream
//!   out of actix-http;
//! - `connection`: reading and parsing client frames, feeding the session, the idle
//!   deadline and the closing handshake;
//! - `wire`: writing queued frames without copying them;
//! - `transport`: what the connection needs of its stream (TCP, or a pipe in tests).

mod connection;
mod handshake;
mod transport;
mod wire;

pub(crate) use handshake::{PATH, upgrade, without_upgrade};
