//! Large rooms over two nodes and a real Redis (the threshold lowered to 4 viewers): the
//! mode changes on every socket both ways, counts agree, reactions add up exactly, and the
//! comment budget holds over the cluster while moderators see every comment.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::TestServer;
use crate::api::{Api, Session};
use crate::cluster::{PrivateRedis, wait_until_connected};
use crate::socket::{Ws, connect_to, join, send};

const TOPIC: &str = "video:large-room";

/// Two nodes whose rooms are large from 4 viewers, with 100 ms windows and a budget of 2
/// comments a second.
async fn two_nodes(redis: &PrivateRedis) -> (Api, TestServer) {
    let url = redis.redis.url();
    let settings = |node| {
        [
            ("RTS_REDIS_URL", url.as_str()),
            ("RTS_NODE_ID", node),
            ("RTS_ROOM_LARGE_MEMBERS", "4"),
            ("RTS_ROOM_TICK_MS", "100"),
            ("RTS_ROOM_COMMENTS_PER_SECOND", "2"),
        ]
    };
    let a = Api::with(&settings("node-a")).await;
    let b = a.another_server(&settings("node-b")).await;
    wait_until_connected(&a.server).await;
    wait_until_connected(&b).await;
    (a, b)
}

/// Everything `ws` receives on the room for `wait`.
async fn collect(ws: &mut Ws, wait: Duration) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut frames = Vec::new();
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(text) = message {
            let frame: Value = serde_json::from_str(&text).expect("JSON");
            if frame[2] == TOPIC {
                frames.push(frame);
            }
        }
    }
    frames
}

fn of<'a>(frames: &'a [Value], event: &str) -> Vec<&'a Value> {
    frames.iter().filter(|f| f[3] == event).collect()
}

fn last_stats(frames: &[Value]) -> Option<Value> {
    of(frames, "room_stats").last().map(|f| f[4].clone())
}

/// Waits until every socket's latest `room_stats` says `mode` with `viewers`.
async fn until_every_socket_sees(sockets: &mut [Ws], mode: &str, viewers: u64) {
    let mut seen = vec![None; sockets.len()];
    for _ in 0..30 {
        for (ws, seen) in sockets.iter_mut().zip(seen.iter_mut()) {
            let frames = collect(ws, Duration::from_millis(100)).await;
            if let Some(stats) = last_stats(&frames) {
                *seen = Some(stats);
            }
        }
        let all = seen.iter().all(|s| {
            s.as_ref()
                .is_some_and(|s| s["mode"] == mode && s["viewers"] == viewers)
        });
        if all {
            return;
        }
    }
    panic!("not every socket sees a {mode} room of {viewers}: {seen:?}");
}

/// Registers `n` users, each with a socket joined to the room, `on` one node.
async fn viewers(api: &Api, on: &TestServer, prefix: &str, n: usize) -> (Vec<Session>, Vec<Ws>) {
    let mut sessions = Vec::new();
    let mut sockets = Vec::new();
    for i in 0..n {
        let session = api.register(&format!("{prefix}{i}")).await;
        let mut ws = connect_to(on, &session).await;
        join(&mut ws, TOPIC, "1", json!({})).await;
        sessions.push(session);
        sockets.push(ws);
    }
    (sessions, sockets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_turns_large_over_two_nodes_and_small_again_and_every_socket_sees_it() {
    let redis = PrivateRedis::start();
    let (api, b) = two_nodes(&redis).await;
    let (_, mut on_a) = viewers(&api, &api.server, "la", 2).await;
    let (_, mut on_b) = viewers(&api, &b, "lb", 1).await;
    let mut all: Vec<Ws> = on_a.drain(..).chain(on_b.drain(..)).collect();
    until_every_socket_sees(&mut all, "small", 3).await;

    let (_, more) = viewers(&api, &b, "lc", 1).await;
    all.extend(more);
    // Counts agree on both nodes within a second or so.
    until_every_socket_sees(&mut all, "large", 4).await;

    // Reactions add up to what was sent: none lost, none counted twice over the nodes.
    for (i, ws) in all.iter_mut().enumerate() {
        for n in 0..3 {
            let emoji = if n == 0 { "👍" } else { "🔥" };
            send(
                ws,
                json!(["1", format!("r{i}{n}"), TOPIC, "reaction", { "emoji": emoji }]),
            )
            .await;
        }
    }
    for ws in all.iter_mut() {
        let frames = collect(ws, Duration::from_millis(1200)).await;
        assert!(
            of(&frames, "reaction").is_empty(),
            "none relayed one by one"
        );
        let mut sum: BTreeMap<String, u64> = BTreeMap::new();
        for window in of(&frames, "reactions") {
            assert_eq!(window[4]["window_ms"], 100);
            for (emoji, n) in window[4]["counts"].as_object().expect("counts") {
                *sum.entry(emoji.clone()).or_default() += n.as_u64().expect("a count");
            }
        }
        assert_eq!(sum, BTreeMap::from([("👍".into(), 4), ("🔥".into(), 8)]));
    }

    // 4 -> 2: below 80% of 4, small again everywhere.
    drop(all.remove(3));
    drop(all.remove(0));
    until_every_socket_sees(&mut all, "small", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_comment_budget_holds_over_two_nodes_and_moderators_see_every_comment() {
    let redis = PrivateRedis::start();
    let (api, b) = two_nodes(&redis).await;
    let (_, mut sockets_a) = viewers(&api, &api.server, "pa", 2).await;
    let (_, mut sockets_b) = viewers(&api, &b, "pb", 2).await;
    let moderator = api.user_with_role("lmod", "moderator").await;
    let mut watching = connect_to(&b, &moderator).await;
    join(&mut watching, TOPIC, "1", json!({})).await;
    let viewer = api.register("lview").await;
    let mut on_a = connect_to(&api.server, &viewer).await;
    join(&mut on_a, TOPIC, "1", json!({})).await;
    until_every_socket_sees(std::slice::from_mut(&mut on_a), "large", 6).await;

    // 4 posters, 2 on each node, 4 comments a second each for 3 s: 48 offered against a
    // budget of 2 a second.
    let started = tokio::time::Instant::now();
    for round in 0..12 {
        for (i, ws) in sockets_a.iter_mut().chain(sockets_b.iter_mut()).enumerate() {
            let content = format!("c{round}-{i}");
            send(
                ws,
                json!(["1", format!("p{round}{i}"), TOPIC, "new_comment", { "content": content }]),
            )
            .await;
        }
        tokio::time::sleep_until(started + Duration::from_millis(250) * (round + 1)).await;
    }
    let seen_by_viewer = collect(&mut on_a, Duration::from_millis(1500)).await;
    let seen_by_moderator = collect(&mut watching, Duration::from_millis(300)).await;

    let shown: BTreeSet<String> = of(&seen_by_viewer, "new_comment")
        .iter()
        .map(|f| f[4]["comment"]["id"].as_str().expect("an id").to_owned())
        .collect();
    assert!(
        (2..=10).contains(&shown.len()),
        "about 2 a second over 3 s, shown {}",
        shown.len()
    );
    assert!(
        of(&seen_by_viewer, "new_comment")
            .iter()
            .all(|f| f[4]["held"].is_null())
    );
    let to_moderator = of(&seen_by_moderator, "new_comment");
    let moderator_ids: BTreeSet<String> = to_moderator
        .iter()
        .map(|f| f[4]["comment"]["id"].as_str().expect("an id").to_owned())
        .collect();
    assert_eq!(
        moderator_ids.len(),
        48,
        "the moderator sees every comment once"
    );
    assert_eq!(to_moderator.len(), 48);
    assert!(shown.is_subset(&moderator_ids));
    let held = to_moderator.iter().filter(|f| f[4]["held"] == true).count();
    assert_eq!(held, 48 - shown.len(), "the rest are marked held");
    let stats = last_stats(&seen_by_viewer).expect("room_stats");
    assert_eq!(stats["mode"], "large");

    // Every comment stored exactly once.
    let page = api
        .get("/api/videos/large-room/comments?limit=100", None)
        .await;
    let stored = page.assert_status(200)["comments"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    assert_eq!(stored, 48);
}
