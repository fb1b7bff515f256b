//! The session state machine, frames in and frames out: no network, no database. Every
//! port is an in-memory fake; broadcasts flow through the real hub, broker and presence.
//! One file per part of the protocol (session/*.rs); docs/realtime.md describes it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "session/abuse_limits.rs"]
mod abuse_limits;
#[path = "session/duplicate_join.rs"]
mod duplicate_join;
#[path = "session/fakes.rs"]
mod fakes;
#[path = "session/harness.rs"]
mod harness;
#[path = "session/heartbeat.rs"]
mod heartbeat;
#[path = "session/join.rs"]
mod join;
#[path = "session/large_room.rs"]
mod large_room;
#[path = "session/leave.rs"]
mod leave;
#[path = "session/limits.rs"]
mod limits;
#[path = "session/presence.rs"]
mod presence;
#[path = "session/pushes.rs"]
mod pushes;
#[path = "session/socket_end.rs"]
mod socket_end;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use domain::ports::LiveConnections;
use domain::{CommentId, DeviceRowId, Role, UserId};
use harness::{Client, Harness, PresenceView, TOPIC, config, settle};
use realtime::{CloseReason, RealtimeConfig};
use serde_json::{Value, json};

use crate::fakes::{CountingLimiter, SimplePolicy};

fn ok_reply(join_ref: Value, reference: Value, topic: &str, response: Value) -> Value {
    json!([join_ref, reference, topic, "phx_reply", {"status": "ok", "response": response}])
}

fn error_reply(join_ref: Value, reference: Value, topic: &str, reason: &str) -> Value {
    json!([join_ref, reference, topic, "phx_reply", {"status": "error", "response": {"reason": reason}}])
}

fn close(join_ref: &str, topic: &str) -> Value {
    json!([join_ref, join_ref, topic, "phx_close", {}])
}

/// Posts a comment on `TOPIC` with join_ref "1".
async fn post(client: &mut Client, reference: &str, content: &str) -> Vec<Value> {
    client
        .send(json!(["1", reference, TOPIC, "new_comment", { "content": content }]))
        .await
}

fn ids_of(comments: &Value) -> Vec<String> {
    comments
        .as_array()
        .unwrap_or_else(|| panic!("not a list of comments: {comments}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn keys(map: &Value) -> BTreeSet<String> {
    map.as_object()
        .unwrap_or_else(|| panic!("not an object: {map}"))
        .keys()
        .cloned()
        .collect()
}

/// The comment object as clients see it.
fn comment_json(c: &domain::Comment) -> Value {
    serde_json::to_value(c).unwrap()
}
