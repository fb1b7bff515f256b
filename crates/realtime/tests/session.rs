//! The session state machine, frames in and frames out: no network, no database. Every
//! port is an in-memory fake; broadcasts flow through the real hub, broker and presence.
//! References like "§4.2" point into docs/PROTOCOL.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "session/fakes.rs"]
mod fakes;
#[path = "session/harness.rs"]
mod harness;

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

// ---------------------------------------------------------------- heartbeat (§4.1)

#[tokio::test(start_paused = true)]
async fn heartbeat_gets_an_ok_reply_with_null_join_ref_and_the_same_ref() {
    let h = Harness::new(config());
    let mut c = h.open(&h.user("ann"));
    let out = c
        .send_text(r#"[null,"16","phoenix","heartbeat",{}]"#)
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![json!([null, "16", "phoenix", "phx_reply", {"status": "ok", "response": {}}])]
    );
    assert!(c.drain().is_empty(), "nothing else is queued");
}

#[tokio::test(start_paused = true)]
async fn refs_are_echoed_with_their_json_type() {
    let h = Harness::new(config());
    let mut c = h.open(&h.user("ann"));
    let out = c
        .send_text(r#"[null,16,"phoenix","heartbeat",{}]"#)
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![ok_reply(Value::Null, json!(16), "phoenix", json!({}))]
    );
    assert!(out[0][1].is_number(), "a numeric ref stays numeric");

    // Numeric join_ref and ref on a join come back as numbers too.
    let out = c.send(json!([7, 7, TOPIC, "phx_join", {}])).await;
    assert_eq!(out[0][0], json!(7));
    assert_eq!(out[0][1], json!(7));
    assert_eq!(
        out[1][0],
        json!(7),
        "presence_state carries the join_ref as sent"
    );
    let out = c
        .send(json!([7, 8, TOPIC, "reaction", {"emoji": "x"}]))
        .await;
    assert_eq!(out, vec![ok_reply(json!(7), json!(8), TOPIC, json!({}))]);
    // ...and "7" is not the same join_ref as 7: a stale push, dropped.
    let out = c
        .send(json!(["7", "9", TOPIC, "reaction", {"emoji": "x"}]))
        .await;
    assert!(out.is_empty(), "{out:?}");
}

// ---------------------------------------------------------------- join (§4.2, §7.2)

#[tokio::test(start_paused = true)]
async fn join_replies_with_recent_history_oldest_first_then_presence_state() {
    let h = Harness::new(RealtimeConfig {
        join_history: 3,
        ..config()
    });
    let author = UserId::generate();
    let seeded: Vec<_> = (1..=5)
        .map(|i| h.store.seed("v1", author, &format!("c{i}")))
        .collect();
    h.store.seed("v2", author, "elsewhere");
    let deleted = h.store.seed("v1", author, "gone");
    h.store.delete(deleted.id);

    let mut c = h.open(&h.user("ann"));
    let out = c.join(TOPIC, "4").await;
    assert_eq!(out.len(), 2, "reply then presence_state: {out:?}");

    // The reply comes first: the three newest live comments of v1, oldest first.
    let expected: Vec<Value> = seeded[2..].iter().map(comment_json).collect();
    assert_eq!(
        out[0],
        ok_reply(
            json!("4"),
            json!("4"),
            TOPIC,
            json!({ "comments": expected, "position": 5 })
        )
    );

    // Then presence_state, pushed to this channel: [jr, null, topic, ...].
    assert_eq!(out[1][0], "4");
    assert_eq!(out[1][1], Value::Null);
    assert_eq!(out[1][2], TOPIC);
    assert_eq!(out[1][3], "presence_state");
    assert!(out[1][4].is_object());
    assert!(
        c.drain().is_empty(),
        "nothing queued before the reply went out"
    );

    // Later, one presence_diff broadcast announces the joiner under its user id.
    settle().await;
    let diffs = c.drain();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    let diff = &diffs[0];
    assert_eq!(diff[0], Value::Null);
    assert_eq!(diff[1], Value::Null);
    assert_eq!(diff[2], TOPIC);
    assert_eq!(diff[3], "presence_diff");
    assert_eq!(diff[4]["leaves"], json!({}));
    assert_eq!(keys(&diff[4]["joins"]), BTreeSet::from([c.key()]));
    let metas = diff[4]["joins"][c.key()]["metas"].as_array().unwrap();
    assert_eq!(metas.len(), 1);
    let meta = &metas[0];
    assert!(meta["phx_ref"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(meta["username"], "ann");
    assert_eq!(meta["device_id"], "ann-phone");
    assert!(meta["online_at"].is_i64(), "{meta}");

    // Whatever the state said, the client's list ends with exactly this connection.
    let mut view = PresenceView::default();
    view.apply_all(out.iter().chain(&diffs));
    assert_eq!(view.keys(), vec![c.key()]);
    assert_eq!(view.refs(&c.key()), vec![meta["phx_ref"].as_str().unwrap()]);
}

#[tokio::test(start_paused = true)]
async fn join_on_an_empty_video_replies_with_no_comments() {
    let h = Harness::new(config());
    let mut c = h.open(&h.user("ann"));
    let out = c.join("video:empty", "1").await;
    assert_eq!(
        out[0],
        ok_reply(
            json!("1"),
            json!("1"),
            "video:empty",
            json!({"comments": [], "position": 0})
        )
    );
}

#[tokio::test(start_paused = true)]
async fn presence_state_lists_those_already_in_the_room() {
    let h = Harness::new(config());
    let ann = h.joined("ann").await;
    settle().await;
    let mut bob = h.open(&h.user("bob"));
    let out = bob.join(TOPIC, "3").await;
    let state = &out[1];
    assert_eq!(state[3], "presence_state");
    let ann_metas = state[4][ann.key()]["metas"].as_array().unwrap();
    assert_eq!(ann_metas.len(), 1);
    assert_eq!(ann_metas[0]["username"], "ann");

    settle().await;
    let mut view = PresenceView::default();
    view.apply(state);
    view.apply_all(&bob.drain());
    let mut expected = vec![ann.key(), bob.key()];
    expected.sort();
    assert_eq!(view.keys(), expected);
}

#[tokio::test(start_paused = true)]
async fn join_with_since_sends_only_later_comments_oldest_first_and_complete() {
    let h = Harness::new(config());
    let author = UserId::generate();
    let c: Vec<_> = (1..=5)
        .map(|i| h.store.seed("v1", author, &format!("c{i}")))
        .collect();
    h.store.seed("v2", author, "other video");
    let mut client = h.open(&h.user("ann"));
    let out = client
        .join_with(TOPIC, "2", json!({ "since": c[1].id.to_string() }))
        .await;
    let expected: Vec<Value> = c[2..].iter().map(comment_json).collect();
    assert_eq!(
        out[0],
        ok_reply(
            json!("2"),
            json!("2"),
            TOPIC,
            json!({ "comments": expected, "complete": true, "position": 5 })
        )
    );
    assert_eq!(out[1][3], "presence_state");
}

#[tokio::test(start_paused = true)]
async fn join_with_after_sends_what_was_stored_after_that_position() {
    let h = Harness::new(config());
    let author = UserId::generate();
    let c: Vec<_> = (1..=4)
        .map(|i| h.store.seed("v1", author, &format!("c{i}")))
        .collect();
    h.store.delete(c[2].id);
    let mut client = h.open(&h.user("ann"));
    let out = client.join_with(TOPIC, "2", json!({ "after": 1 })).await;
    let expected: Vec<Value> = [&c[1], &c[3]].into_iter().map(comment_json).collect();
    assert_eq!(
        out[0][4]["response"],
        json!({ "comments": expected, "complete": true, "position": 4 }),
        "a deleted one is skipped, and the position is the room's last"
    );
    let out = client.join_with(TOPIC, "3", json!({ "after": 4 })).await;
    assert_eq!(
        out[0][4]["response"],
        json!({ "comments": [], "complete": true, "position": 4 })
    );
}

#[tokio::test(start_paused = true)]
async fn join_with_since_and_nothing_missed_is_complete_and_empty() {
    let h = Harness::new(config());
    let last = h.store.seed("v1", UserId::generate(), "latest");
    let mut client = h.open(&h.user("ann"));
    let out = client
        .join_with(TOPIC, "2", json!({ "since": last.id.to_string() }))
        .await;
    assert_eq!(
        out[0][4]["response"],
        json!({"comments": [], "complete": true, "position": 1})
    );
}

#[tokio::test(start_paused = true)]
async fn join_with_since_beyond_since_limit_is_incomplete_with_exactly_the_limit() {
    let h = Harness::new(RealtimeConfig {
        since_limit: 3,
        ..config()
    });
    let author = UserId::generate();
    let c: Vec<_> = (1..=8)
        .map(|i| h.store.seed("v1", author, &format!("c{i}")))
        .collect();
    let mut client = h.open(&h.user("ann"));
    let out = client
        .join_with(TOPIC, "2", json!({ "since": c[0].id.to_string() }))
        .await;
    let response = &out[0][4]["response"];
    assert_eq!(out[0][4]["status"], "ok");
    assert_eq!(response["complete"], false);
    assert_eq!(
        ids_of(&response["comments"]),
        c[1..4].iter().map(|c| c.id.to_string()).collect::<Vec<_>>(),
        "the oldest missed ones, oldest first"
    );

    // Exactly since_limit missed is still complete.
    let out = client
        .join_with(TOPIC, "3", json!({ "since": c[4].id.to_string() }))
        .await;
    assert_eq!(out[0][4]["response"]["complete"], true);
    assert_eq!(
        ids_of(&out[0][4]["response"]["comments"]),
        c[5..].iter().map(|c| c.id.to_string()).collect::<Vec<_>>()
    );
}

#[tokio::test(start_paused = true)]
async fn join_with_an_invalid_since_is_an_error_reply_with_join_ref_and_no_channel() {
    let h = Harness::new(config());
    let mut client = h.open(&h.user("ann"));
    let unknown = CommentId::generate().to_string();
    for (i, payload) in [
        json!({ "since": "not-an-id" }),
        json!({ "since": 5 }),
        json!({ "since": {"id": 1} }),
        json!({ "since": unknown }),
        json!({ "after": -1 }),
        json!({ "after": "3" }),
        json!({ "after": 1.5 }),
        json!({ "after": 0, "since": unknown }),
    ]
    .into_iter()
    .enumerate()
    {
        let jr = format!("{}", i + 1);
        let out = client.join_with(TOPIC, &jr, payload).await;
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0][0], json!(jr));
        assert_eq!(out[0][1], json!(jr));
        assert_eq!(out[0][2], TOPIC);
        assert_eq!(out[0][3], "phx_reply");
        assert_eq!(out[0][4]["status"], "error");
        assert!(out[0][4]["response"]["reason"].is_string(), "{out:?}");
    }
    // No channel was kept: a push is answered "unmatched topic", and nobody is present.
    let out = client
        .send(json!(["1", "9", TOPIC, "reaction", {"emoji": "x"}]))
        .await;
    assert_eq!(
        out,
        vec![error_reply(
            Value::Null,
            json!("9"),
            TOPIC,
            "unmatched topic"
        )]
    );
    assert_eq!(h.hub.subscriber_count(TOPIC), 0);
    settle().await;
    assert!(client.drain().is_empty());
}

#[tokio::test(start_paused = true)]
async fn join_of_an_unmatched_topic_is_an_error_with_null_join_ref() {
    let h = Harness::new(config());
    let mut client = h.open(&h.user("ann"));
    for topic in ["nochannel", "room:lobby", "phoenix", "video"] {
        let out = client.join(topic, "10").await;
        assert_eq!(
            out,
            vec![error_reply(
                Value::Null,
                json!("10"),
                topic,
                "unmatched topic"
            )]
        );
    }
}

#[tokio::test(start_paused = true)]
async fn join_of_an_invalid_video_id_is_an_error_with_join_ref() {
    let h = Harness::new(config());
    let mut client = h.open(&h.user("ann"));
    for topic in ["video:a b", "video:", "video:a:b"] {
        let out = client.join(topic, "5").await;
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0][0], "5");
        assert_eq!(out[0][1], "5");
        assert_eq!(out[0][2], topic);
        assert_eq!(out[0][4]["status"], "error");
        assert_eq!(out[0][4]["response"]["reason"], "invalid video id");
    }
    assert_eq!(h.hub.subscriber_count("video:a b"), 0);
}

#[tokio::test(start_paused = true)]
async fn join_fails_cleanly_when_the_history_cannot_be_loaded() {
    let h = Harness::new(config());
    let mut client = h.open(&h.user("ann"));
    h.store.down.store(true, Ordering::SeqCst);
    let out = client.join(TOPIC, "1").await;
    assert_eq!(
        out,
        vec![error_reply(json!("1"), json!("1"), TOPIC, "unavailable")]
    );
    assert_eq!(h.hub.subscriber_count(TOPIC), 0, "not subscribed");
    settle().await;
    assert!(client.drain().is_empty(), "not tracked in presence");

    h.store.down.store(false, Ordering::SeqCst);
    let out = client.join(TOPIC, "2").await;
    assert_eq!(
        out[0][4]["status"], "ok",
        "a rejoin works once the store is back"
    );
}

#[tokio::test(start_paused = true)]
async fn push_to_a_topic_not_joined_is_unmatched_with_null_join_ref() {
    let h = Harness::new(config());
    let mut client = h.open(&h.user("ann"));
    let out = client
        .send(json!(["4", "11", TOPIC, "new_comment", {"content": "hi"}]))
        .await;
    assert_eq!(
        out,
        vec![error_reply(
            Value::Null,
            json!("11"),
            TOPIC,
            "unmatched topic"
        )]
    );
    assert!(h.store.all().is_empty());
    let out = client
        .send(json!([null, "12", "phoenix", "something", {}]))
        .await;
    assert_eq!(
        out,
        vec![error_reply(
            Value::Null,
            json!("12"),
            "phoenix",
            "unmatched topic"
        )]
    );
}

/// A comment stored while a join is reading the history (a slow query) is not in that
/// history, and the room subscribes the joiner only after the read, so it is not broadcast
/// to the joiner either: it is lost for that client until it reconnects. Every comment
/// posted during a join must reach the joiner one way or the other.
async fn comment_posted_during_a_join_reaches_the_joiner(since: bool) {
    let h = Harness::new(config());
    let first = h.store.seed("v1", UserId::generate(), "before");
    let mut bob = h.joined("bob").await;
    let mut ann = h.open(&h.user("ann"));
    let gate = h.store.pause_next_read();
    let params = if since {
        json!({ "since": first.id.to_string() })
    } else {
        json!({})
    };
    let (out, posted) = tokio::join!(ann.join_with(TOPIC, "1", params), async {
        gate.entered.notified().await;
        let out = post(&mut bob, "2", "during the join").await;
        gate.release.notify_one();
        out
    });
    assert_eq!(out[0][4]["status"], "ok", "{out:?}");
    let id = posted[0][4]["response"]["comment"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{posted:?}"))
        .to_owned();
    let in_history = ids_of(&out[0][4]["response"]["comments"]).contains(&id);
    let broadcast = ann
        .drain_event("new_comment")
        .iter()
        .any(|f| f[4]["comment"]["id"] == id.as_str());
    assert!(
        in_history || broadcast,
        "comment {id} was posted during the join and is neither in the join reply nor \
         broadcast to the joiner: {out:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_comment_posted_while_a_join_loads_history_still_reaches_the_joiner() {
    comment_posted_during_a_join_reaches_the_joiner(false).await;
}

#[tokio::test(start_paused = true)]
async fn a_comment_posted_while_a_join_with_since_loads_still_reaches_the_joiner() {
    comment_posted_during_a_join_reaches_the_joiner(true).await;
}

// ---------------------------------------------------------------- duplicate join (§4.2.1)

#[tokio::test(start_paused = true)]
async fn duplicate_join_replies_first_then_closes_the_old_join_ref() {
    let h = Harness::new(config());
    let mut ann = h.joined("ann").await;
    let mut bob = h.joined("bob").await;
    settle().await;
    let mut ann_view = PresenceView::default();
    ann_view.apply_all(&ann.drain());
    let bob_frames = bob.drain();
    let mut bob_view = PresenceView::default();
    bob_view.apply_all(&bob_frames);
    let old_ref = bob_view.refs(&ann.key());
    assert_eq!(old_ref.len(), 1, "{bob_frames:?}");

    let out = ann.join(TOPIC, "21").await;
    assert_eq!(out[0][0], "21", "the new join's reply comes first: {out:?}");
    assert_eq!(out[0][1], "21");
    assert_eq!(out[0][3], "phx_reply");
    assert_eq!(out[0][4]["status"], "ok");
    let closes: Vec<&Value> = out.iter().filter(|f| f[3] == "phx_close").collect();
    assert_eq!(
        closes,
        vec![&close("1", TOPIC)],
        "closed with the OLD join_ref"
    );
    let states: Vec<&Value> = out.iter().filter(|f| f[3] == "presence_state").collect();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0][0], "21");
    assert_eq!(out.len(), 3, "{out:?}");

    // The old meta leaves and a new one joins, in one diff.
    settle().await;
    let diffs = bob.drain();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    let diff = &diffs[0][4];
    assert_eq!(
        diff["leaves"][ann.key()]["metas"][0]["phx_ref"],
        json!(old_ref[0])
    );
    assert_eq!(
        diff["leaves"][ann.key()]["metas"].as_array().unwrap().len(),
        1
    );
    let new_ref = diff["joins"][ann.key()]["metas"][0]["phx_ref"].clone();
    assert!(new_ref.is_string());
    assert_ne!(new_ref, json!(old_ref[0]));
    bob_view.apply(&diffs[0]);
    assert_eq!(bob_view.refs(&ann.key()), vec![new_ref.as_str().unwrap()]);

    // The rejoined client's own list also ends with exactly one meta for ann.
    ann_view.apply_all(&out);
    ann_view.apply_all(&ann.drain());
    assert_eq!(ann_view.refs(&ann.key()), vec![new_ref.as_str().unwrap()]);

    // One subscription: a broadcast arrives once.
    assert_eq!(h.hub.subscriber_count(TOPIC), 2);
    let out = post(&mut bob, "5", "hello").await;
    assert_eq!(out[0][4]["status"], "ok");
    assert_eq!(ann.drain_event("new_comment").len(), 1);
}

// ---------------------------------------------------------------- leave (§4.4)

#[tokio::test(start_paused = true)]
async fn leave_with_the_current_join_ref_replies_ok_then_closes() {
    let h = Harness::new(config());
    let mut ann = h.joined("ann").await;
    let mut bob = h.joined("bob").await;
    settle().await;
    ann.drain();
    let mut bob_view = PresenceView::default();
    bob_view.apply_all(&bob.drain());

    let out = ann.send(json!(["1", "20", TOPIC, "phx_leave", {}])).await;
    assert_eq!(
        out,
        vec![
            ok_reply(json!("1"), json!("20"), TOPIC, json!({})),
            close("1", TOPIC)
        ]
    );

    // Unsubscribed and untracked.
    assert_eq!(h.hub.subscriber_count(TOPIC), 1);
    settle().await;
    let diffs = bob.drain();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!(diffs[0][4]["joins"], json!({}));
    assert_eq!(keys(&diffs[0][4]["leaves"]), BTreeSet::from([ann.key()]));
    bob_view.apply_all(&diffs);
    assert_eq!(bob_view.keys(), vec![bob.key()]);
    post(&mut bob, "2", "after ann left").await;
    assert!(ann.drain().is_empty(), "no broadcasts after leaving");

    // The topic is no longer joined.
    let out = ann
        .send(json!(["1", "21", TOPIC, "reaction", {"emoji": "x"}]))
        .await;
    assert_eq!(
        out,
        vec![error_reply(
            Value::Null,
            json!("21"),
            TOPIC,
            "unmatched topic"
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn leave_with_a_null_join_ref_means_the_current_join() {
    let h = Harness::new(config());
    let mut ann = h.joined("ann").await;
    let out = ann.send(json!([null, "20", TOPIC, "phx_leave", {}])).await;
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0][4], json!({"status": "ok", "response": {}}));
    assert_eq!(out[1], close("1", TOPIC));
    assert_eq!(h.hub.subscriber_count(TOPIC), 0);
}

#[tokio::test(start_paused = true)]
async fn leave_with_a_stale_join_ref_sends_nothing_and_keeps_the_channel() {
    let h = Harness::new(config());
    let mut ann = h.joined("ann").await;
    ann.join(TOPIC, "5").await;
    let out = ann.send(json!(["1", "6", TOPIC, "phx_leave", {}])).await;
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(h.hub.subscriber_count(TOPIC), 1);
    let out = ann
        .send(json!(["5", "7", TOPIC, "reaction", {"emoji": "x"}]))
        .await;
    assert_eq!(
        out,
        vec![ok_reply(json!("5"), json!("7"), TOPIC, json!({}))]
    );
}

#[tokio::test(start_paused = true)]
async fn leave_of_a_topic_not_joined_replies_ok_echoing_the_join_ref() {
    let h = Harness::new(config());
    let mut ann = h.open(&h.user("ann"));
    let out = ann
        .send(json!(["10", "13", "nochannel", "phx_leave", {}]))
        .await;
    assert_eq!(
        out,
        vec![ok_reply(json!("10"), json!("13"), "nochannel", json!({}))]
    );
    let out = ann.send(json!(["3", "14", TOPIC, "phx_leave", {}])).await;
    assert_eq!(
        out,
        vec![ok_reply(json!("3"), json!("14"), TOPIC, json!({}))]
    );
}

// ---------------------------------------------------------------- pushes (§4.3)

#[tokio::test(start_paused = true)]
async fn pushes_with_a_stale_join_ref_are_dropped_silently() {
    let h = Harness::new(config());
    let mut ann = h.joined("ann").await;
    let mut bob = h.joined("bob").await;
    ann.join(TOPIC, "5").await;
    settle().await;
    bob.drain();
    for frame in [
        json!(["1", "6", TOPIC, "new_comment", {"content": "stale"}]),
        json!(["1", "7", TOPIC, "reaction", {"emoji": "x"}]),
        json!(["1", "8", TOPIC, "unknown", {}]),
    ] {
        let out = ann.send(frame).await;
        assert!(out.is_empty(), "{out:?}");
    }
    assert!(h.store.all().is_empty(), "nothing stored");
    assert!(bob.drain().is_empty(), "nothing broadcast");
}

#[tokio::test(start_paused = true)]
async fn pushes_with_a_null_join_ref_go_to_the_current_join() {
    let h = Harness::new(config());
    let mut ann = h.joined("ann").await;
    let out = ann
        .send(json!([null, "6", TOPIC, "new_comment", {"content": "hi"}]))
        .await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0][0], "1", "the reply carries the channel's join_ref");
    assert_eq!(out[0][1], "6");
    assert_eq!(out[0][4]["status"], "ok");
    assert_eq!(h.store.all().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn new_comment_is_stored_trimmed_replied_and_broadcast_to_everyone() {
    let h = Harness::new(config());
    let mut ann = h.joined("ann").await;
    let mut bob = h.joined("bob").await;
    let mut eve = h.open(&h.user("eve"));
    eve.join("video:other", "1").await;
    settle().await;
    ann.drain();
    bob.drain();
    eve.drain();

    let out = ann
        .send(json!(["1", "11", TOPIC, "new_comment", {"content": "  hello world \n"}]))
        .await;
    let stored = h.store.all();
    assert_eq!(stored.len(), 1);
    let expected = comment_json(&stored[0]);
    assert_eq!(expected["content"], "hello world");
    assert_eq!(expected["username"], "ann");
    assert_eq!(expected["user_id"], ann.key());
    assert_eq!(expected["video_id"], "v1");
    assert_eq!(
        out,
        vec![ok_reply(
            json!("1"),
            json!("11"),
            TOPIC,
            json!({ "comment": expected })
        )]
    );
    assert_eq!(
        keys(&out[0][4]["response"]["comment"]),
        BTreeSet::from(
            [
                "id",
                "video_id",
                "user_id",
                "username",
                "content",
                "inserted_at",
                "updated_at",
                "position",
                "version"
            ]
            .map(String::from)
        )
    );

    let broadcast = json!([null, null, TOPIC, "new_comment", { "comment": expected }]);
    assert_eq!(
        ann.drain(),
        vec![broadcast.clone()],
        "the sender gets it too"
    );
    assert_eq!(bob.drain(), vec![broadcast]);
    assert!(eve.drain().is_empty(), "other rooms do not");
}

#[tokio::test(start_paused = true)]
async fn new_comment_with_blank_content_is_a_validation_error() {
    let h = Harness::new(config());
    let mut ann = h.joined("ann").await;
    settle().await;
    ann.drain();
    for content in ["", "   ", "\n\t "] {
        let out = post(&mut ann, "3", content).await;
        assert_eq!(out.len(), 1);
        assert_eq!(out[0][0], "1");
        assert_eq!(out[0][1], "3");
        assert_eq!(out[0][4]["status"], "error");
        let response = &out[0][4]["response"];
        assert_eq!(response["reason"], "validation_failed");
        let details = response["details"].as_array().unwrap();
        assert_eq!(details.len(), 1);
        assert_eq!(details[0]["field"], "content");
        assert!(details[0]["message"].is_string());
    }
    let out = post(&mut ann, "4", &"x".repeat(2001)).await;
    assert_eq!(out[0][4]["response"]["reason"], "validation_failed");
    assert!(h.store.all().is_empty());
    assert!(ann.drain().is_empty(), "nothing broadcast");
}

#[tokio::test(start_paused = true)]
async fn new_comment_with_content_that_is_not_a_string_is_an_error() {
    let h = Harness::new(config());
    let mut ann = h.joined("ann").await;
    for payload in [
        json!({"content": 42}),
        json!({"content": null}),
        json!({"content": ["hi"]}),
        json!({}),
        json!({"body": "hi"}),
        json!({"content": "hi", "client_id": 7}),
        json!({"content": "hi", "client_id": "bad id"}),
    ] {
        let out = ann
            .send(json!(["1", "5", TOPIC, "new_comment", payload]))
            .await;
        assert_eq!(out.len(), 1, "{payload}: {out:?}");
        assert_eq!(out[0][4]["status"], "error", "{payload}");
        assert!(out[0][4]["response"]["reason"].is_string(), "{payload}");
    }
    assert!(h.store.all().is_empty());
}

#[tokio::test(start_paused = true)]
async fn new_comment_with_a_repeated_client_id_returns_the_same_comment_stored_once() {
    let h = Harness::new(config());
    let mut ann = h.joined("ann").await;
    let mut bob = h.joined("bob").await;
    settle().await;
    bob.drain();
    let push =
        |r: &str| json!(["1", r, TOPIC, "new_comment", {"content": "hi", "client_id": "abc-1"}]);
    let first = ann.send(push("5")).await;
    let second = ann.send(push("6")).await;
    assert_eq!(first[0][4]["status"], "ok");
    assert_eq!(second[0][4]["status"], "ok");
    assert_eq!(first[0][4]["response"], second[0][4]["response"]);
    assert_eq!(h.store.all().len(), 1);
    assert_eq!(bob.drain_event("new_comment").len(), 1, "announced once");

    // Another author may use the same client id.
    let out = bob
        .send(json!(["1", "7", TOPIC, "new_comment", {"content": "hi", "client_id": "abc-1"}]))
        .await;
    assert_eq!(out[0][4]["status"], "ok");
    assert_ne!(out[0][4]["response"], first[0][4]["response"]);
    assert_eq!(h.store.all().len(), 2);
}

/// A retry after the comment was deleted does not bring it back; the same client id on
/// another video is a new comment.
#[tokio::test(start_paused = true)]
async fn a_client_id_names_one_comment_per_video_and_a_deleted_one_stays_deleted() {
    let h = Harness::new(config());
    let mut ann = h.joined("ann").await;
    let push = |join_ref: &str, r: &str, topic: &str| json!([join_ref, r, topic, "new_comment", {"content": "hi", "client_id": "abc-1"}]);
    let first = ann.send(push("1", "5", TOPIC)).await;
    assert_eq!(first[0][4]["status"], "ok");
    let id = first[0][4]["response"]["comment"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    h.store.delete(id);
    let retry = ann.send(push("1", "6", TOPIC)).await;
    assert_eq!(retry[0][4]["status"], "error");
    assert_eq!(retry[0][4]["response"]["reason"], "conflict");
    assert_eq!(h.store.all().len(), 1, "nothing stored again");

    let joined = ann.join("video:other", "8").await;
    assert_eq!(joined[0][4]["status"], "ok", "{joined:?}");
    let elsewhere = ann.send(push("8", "9", "video:other")).await;
    assert_eq!(elsewhere[0][4]["status"], "ok", "{elsewhere:?}");
    assert_eq!(elsewhere[0][4]["response"]["comment"]["video_id"], "other");
    assert_eq!(h.store.all().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn new_comment_refused_by_the_policy_is_forbidden() {
    let h = Harness::with(
        config(),
        Arc::new(domain::limits::Unlimited),
        SimplePolicy {
            no_posting: vec![Role::User],
        },
    );
    let mut ann = h.joined("ann").await;
    let out = post(&mut ann, "2", "hi").await;
    assert_eq!(
        out,
        vec![error_reply(json!("1"), json!("2"), TOPIC, "forbidden")]
    );
    assert!(h.store.all().is_empty());
}

#[tokio::test(start_paused = true)]
async fn new_comment_over_the_domain_rate_limit_is_rate_limited() {
    let h = Harness::with(
        config(),
        Arc::new(CountingLimiter::new(2)),
        SimplePolicy::default(),
    );
    let mut ann = h.joined("ann").await;
    assert_eq!(post(&mut ann, "2", "one").await[0][4]["status"], "ok");
    assert_eq!(post(&mut ann, "3", "two").await[0][4]["status"], "ok");
    let out = post(&mut ann, "4", "three").await;
    assert_eq!(
        out,
        vec![
            json!(["1", "4", TOPIC, "phx_reply", {"status": "error", "response": {"reason": "rate_limited", "retry_after_ms": 1000, "message": "You're posting too fast; try again in 1 s"}}])
        ],
        "the limiter's wait, as REST's Retry-After says it"
    );
    assert_eq!(h.store.all().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn reaction_reaches_the_others_but_not_the_sender() {
    let h = Harness::new(config());
    let mut ann = h.joined("ann").await;
    let mut bob = h.joined("bob").await;
    let mut cat = h.joined("cat").await;
    settle().await;
    ann.drain();
    bob.drain();
    cat.drain();

    let out = ann
        .send(json!(["1", "9", TOPIC, "reaction", {"emoji": "🎉"}]))
        .await;
    assert_eq!(
        out,
        vec![ok_reply(json!("1"), json!("9"), TOPIC, json!({}))]
    );
    let expected = json!([null, null, TOPIC, "reaction", {"user_id": ann.key(), "emoji": "🎉"}]);
    assert_eq!(bob.drain(), vec![expected.clone()]);
    assert_eq!(cat.drain(), vec![expected]);
    assert!(
        ann.drain().is_empty(),
        "the sender does not get its own reaction"
    );
    assert!(h.store.all().is_empty(), "reactions are not stored");
}

#[tokio::test(start_paused = true)]
async fn reaction_emoji_must_be_1_to_32_bytes_of_text() {
    let h = Harness::new(config());
    let mut ann = h.joined("ann").await;
    let mut bob = h.joined("bob").await;
    settle().await;
    bob.drain();
    let ok = ann
        .send(json!(["1", "2", TOPIC, "reaction", {"emoji": "a".repeat(32)}]))
        .await;
    assert_eq!(ok[0][4]["status"], "ok");
    assert_eq!(bob.drain().len(), 1);
    for emoji in [
        json!("a".repeat(33)),
        json!(""),
        json!("a\u{7}"),
        json!(5),
        Value::Null,
    ] {
        let out = ann
            .send(json!(["1", "3", TOPIC, "reaction", {"emoji": emoji}]))
            .await;
        assert_eq!(out.len(), 1);
        assert_eq!(out[0][4]["status"], "error", "{emoji}");
        assert!(out[0][4]["response"]["reason"].is_string());
    }
    assert!(bob.drain().is_empty(), "no invalid reaction was broadcast");
}

#[tokio::test(start_paused = true)]
async fn unknown_event_is_an_error_reply() {
    let h = Harness::new(config());
    let mut ann = h.joined("ann").await;
    let out = ann.send(json!(["1", "4", TOPIC, "shout", {}])).await;
    assert_eq!(
        out,
        vec![error_reply(json!("1"), json!("4"), TOPIC, "unknown event")]
    );
}

#[tokio::test(start_paused = true)]
async fn pushes_beyond_the_burst_are_rate_limited() {
    let h = Harness::new(RealtimeConfig {
        pushes_per_second: 0.001,
        push_burst: 3.0,
        ..config()
    });
    let mut ann = h.joined("ann").await;
    for r in ["2", "3", "4"] {
        let out = ann
            .send(json!(["1", r, TOPIC, "reaction", {"emoji": "x"}]))
            .await;
        assert_eq!(out[0][4]["status"], "ok", "push {r}");
    }
    let out = ann
        .send(json!(["1", "5", TOPIC, "new_comment", {"content": "hi"}]))
        .await;
    // One push per 1,000 s: the next is a thousand seconds away.
    assert_eq!(
        out,
        vec![
            json!(["1", "5", TOPIC, "phx_reply", {"status": "error", "response": {"reason": "rate_limited", "retry_after_ms": 1_000_000, "message": "You're posting too fast; try again in 17 min"}}])
        ]
    );
    assert!(h.store.all().is_empty());
    // Heartbeats, joins and leaves are not pushes.
    let out = ann
        .send(json!([null, "6", "phoenix", "heartbeat", {}]))
        .await;
    assert_eq!(out[0][4]["status"], "ok");
    let out = ann.join("video:v2", "7").await;
    assert_eq!(out[0][4]["status"], "ok");
}

// ---------------------------------------------------------------- limits

#[tokio::test(start_paused = true)]
async fn a_join_beyond_max_channels_is_refused() {
    let h = Harness::new(RealtimeConfig {
        max_channels: 2,
        ..config()
    });
    let mut ann = h.open(&h.user("ann"));
    assert_eq!(ann.join("video:a", "1").await[0][4]["status"], "ok");
    assert_eq!(ann.join("video:b", "2").await[0][4]["status"], "ok");
    let out = ann.join("video:c", "3").await;
    assert_eq!(
        out,
        vec![error_reply(
            json!("3"),
            json!("3"),
            "video:c",
            "too many channels joined"
        )]
    );
    assert_eq!(h.hub.subscriber_count("video:c"), 0);
    // Rejoining a joined topic is not a new channel.
    assert_eq!(ann.join("video:a", "4").await[0][4]["status"], "ok");
    // After a leave there is room again.
    ann.send(json!(["2", "5", "video:b", "phx_leave", {}]))
        .await;
    assert_eq!(ann.join("video:c", "6").await[0][4]["status"], "ok");
}

#[tokio::test(start_paused = true)]
async fn malformed_frames_are_fatal_1007() {
    let h = Harness::new(config());
    let mut ann = h.open(&h.user("ann"));
    for text in [
        "not json",
        "[1,2",
        r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}"#,
        r#"[null,"1","phoenix","heartbeat"]"#,
        r#"[null,"1",3,"heartbeat",{}]"#,
        r#""just a string""#,
    ] {
        let err = ann.send_text(text).await.expect_err(text);
        assert_eq!(err.code, 1007, "{text}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_frame_over_max_frame_bytes_is_fatal_1009() {
    let h = Harness::new(RealtimeConfig {
        max_frame_bytes: 64,
        ..config()
    });
    let mut ann = h.open(&h.user("ann"));
    let frame = |pad: usize| {
        format!(
            r#"[null,"1","phoenix","heartbeat",{{"p":"{}"}}]"#,
            "x".repeat(pad)
        )
    };
    let base = frame(0).len();
    let at_limit = frame(64 - base);
    assert_eq!(at_limit.len(), 64);
    assert_eq!(ann.send_text(&at_limit).await.unwrap().len(), 1);
    let over = frame(65 - base);
    let err = ann.send_text(&over).await.unwrap_err();
    assert_eq!(err.code, 1009);
}

// ---------------------------------------------------------------- socket end (§5)

#[tokio::test(start_paused = true)]
async fn dropping_a_session_untracks_presence_and_unsubscribes() {
    let h = Harness::new(config());
    let mut ann = h.joined("ann").await;
    ann.join("video:v2", "2").await;
    let mut bob = h.joined("bob").await;
    settle().await;
    let mut bob_view = PresenceView::default();
    bob_view.apply_all(&bob.drain());
    assert_eq!(bob_view.keys().len(), 2);
    assert_eq!(h.rt.open_sockets(), 2);
    assert_eq!(h.hub.subscriber_count(TOPIC), 2);

    let ann_key = ann.key();
    drop(ann);
    assert_eq!(h.rt.open_sockets(), 1);
    assert_eq!(h.hub.subscriber_count(TOPIC), 1);
    assert_eq!(h.hub.subscriber_count("video:v2"), 0);

    settle().await;
    let diffs = bob.drain();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!(diffs[0][3], "presence_diff");
    assert_eq!(diffs[0][4]["joins"], json!({}));
    assert_eq!(keys(&diffs[0][4]["leaves"]), BTreeSet::from([ann_key]));
    bob_view.apply_all(&diffs);
    assert_eq!(bob_view.keys(), vec![bob.key()]);

    drop(bob);
    assert_eq!(h.rt.open_sockets(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_socket_that_does_not_drain_its_queue_is_kicked_as_slow_consumer() {
    let h = Harness::new(RealtimeConfig {
        outbox_capacity: 2,
        ..config()
    });
    let slow = h.joined("slow").await;
    let mut bob = h.joined("bob").await;
    assert_eq!(slow.kicked(), None);
    for i in 0..4 {
        let out = post(&mut bob, &format!("{}", i + 2), "spam").await;
        assert_eq!(out[0][4]["status"], "ok");
        bob.drain();
    }
    assert_eq!(slow.kicked(), Some(CloseReason::SlowConsumer));
    assert_eq!(CloseReason::SlowConsumer.code(), 1013);
    assert_eq!(bob.kicked(), None, "a socket that keeps up stays");
}

#[tokio::test(start_paused = true)]
async fn disconnect_device_and_user_kick_exactly_their_sockets_with_1001() {
    let h = Harness::new(config());
    let ann_id = UserId::generate();
    let (phone, laptop) = (DeviceRowId::generate(), DeviceRowId::generate());
    let ann_phone = h.open(&h.user_with("ann", ann_id, phone, Role::User));
    let ann_phone2 = h.open(&h.user_with("ann", ann_id, phone, Role::User));
    let ann_laptop = h.open(&h.user_with("ann", ann_id, laptop, Role::User));
    let bob = h.open(&h.user("bob"));

    assert_eq!(h.rt.disconnect_device(phone), 2);
    assert_eq!(ann_phone.kicked(), Some(CloseReason::Revoked));
    assert_eq!(ann_phone2.kicked(), Some(CloseReason::Revoked));
    assert_eq!(ann_laptop.kicked(), None);
    assert_eq!(bob.kicked(), None);
    assert_eq!(CloseReason::Revoked.code(), 1001);

    h.rt.disconnect_user(ann_id);
    assert_eq!(ann_laptop.kicked(), Some(CloseReason::Revoked));
    assert_eq!(bob.kicked(), None);

    // The domain port does the same.
    let cat = h.open(&h.user("cat"));
    let dan = h.open(&h.user("dan"));
    h.rt.user_deactivated(cat.user.actor.user_id);
    h.rt.device_revoked(bob.user.actor.device);
    assert_eq!(cat.kicked(), Some(CloseReason::Revoked));
    assert_eq!(bob.kicked(), Some(CloseReason::Revoked));
    assert_eq!(dan.kicked(), None);
    assert_eq!(h.rt.disconnect_user(UserId::generate()), 0);
}

#[tokio::test(start_paused = true)]
async fn close_all_kicks_every_socket_with_1012() {
    let h = Harness::new(config());
    let a = h.open(&h.user("ann"));
    let b = h.open(&h.user("bob"));
    assert_eq!(h.rt.close_all(), 2);
    assert_eq!(a.kicked(), Some(CloseReason::Shutdown));
    assert_eq!(b.kicked(), Some(CloseReason::Shutdown));
    assert_eq!(CloseReason::Shutdown.code(), 1012);
}

// ---------------------------------------------------------------- presence (§7)

#[tokio::test(start_paused = true)]
async fn twenty_joins_within_one_window_are_one_presence_diff() {
    let h = Harness::new(config());
    let mut observer = h.joined("observer").await;
    settle().await;
    observer.drain();

    let mut others = Vec::new();
    for i in 0..20 {
        others.push(h.joined(&format!("user{i}")).await);
    }
    settle().await;
    let frames = observer.drain();
    assert_eq!(frames.len(), 1, "one diff for 20 joins: {frames:?}");
    assert_eq!(frames[0][3], "presence_diff");
    assert_eq!(frames[0][4]["leaves"], json!({}));
    let joined = keys(&frames[0][4]["joins"]);
    let expected: BTreeSet<String> = others.iter().map(Client::key).collect();
    assert_eq!(joined, expected);
}

#[tokio::test(start_paused = true)]
async fn two_sockets_of_one_user_are_two_metas_under_one_key() {
    let h = Harness::new(config());
    let ann = h.user("ann");
    let mut tab1 = h.open(&ann);
    let mut tab2 = h.open(&ann);
    tab1.join(TOPIC, "1").await;
    tab2.join(TOPIC, "1").await;
    settle().await;
    let mut view = PresenceView::default();
    view.apply_all(&tab2.drain());
    let refs = view.refs(&tab1.key());
    assert_eq!(refs.len(), 2, "{view:?}");
    assert_ne!(refs[0], refs[1], "each connection has its own phx_ref");

    drop(tab1);
    settle().await;
    let frames = tab2.drain();
    view.apply_all(&frames);
    assert_eq!(view.refs(&tab2.key()).len(), 1, "{frames:?}");
}

/// A client that joins while another connection's join is still pending gets a state that
/// lists that connection; if it leaves within the same window, the joiner must still be
/// told (§7.1: when the owning channel ends its presence is removed ⇒ leave diff).
#[tokio::test(start_paused = true)]
async fn a_join_and_leave_inside_the_first_window_leaves_no_ghost_for_a_later_joiner() {
    let h = Harness::new(config());
    let mut ann = h.open(&h.user("ann"));
    ann.join(TOPIC, "1").await;
    let mut bob = h.open(&h.user("bob"));
    let out = bob.join(TOPIC, "1").await;
    let mut bob_view = PresenceView::default();
    bob_view.apply_all(&out);
    ann.send(json!(["1", "2", TOPIC, "phx_leave", {}])).await;
    settle().await;
    let diffs = bob.drain();
    bob_view.apply_all(&diffs);
    assert_eq!(
        bob_view.keys(),
        vec![bob.key()],
        "ann left, yet bob's list still holds her: presence_state {} then diffs {diffs:?}",
        out[1]
    );
}

/// The same with a socket that closes instead of leaving.
#[tokio::test(start_paused = true)]
async fn a_socket_closed_inside_the_first_window_leaves_no_ghost_for_a_later_joiner() {
    let h = Harness::new(config());
    let mut ann = h.open(&h.user("ann"));
    ann.join(TOPIC, "1").await;
    let mut bob = h.open(&h.user("bob"));
    let out = bob.join(TOPIC, "1").await;
    drop(ann);
    settle().await;
    let mut bob_view = PresenceView::default();
    bob_view.apply_all(&out);
    bob_view.apply_all(&bob.drain());
    assert_eq!(bob_view.keys(), vec![bob.key()], "{bob_view:?}");
}

/// Presence seen by a late joiner after churn converges on who is really there.
#[tokio::test(start_paused = true)]
async fn presence_converges_after_churn_across_windows() {
    let h = Harness::new(config());
    let mut watcher = h.joined("watcher").await;
    let mut view = PresenceView::default();
    let mut ann = h.joined("ann").await;
    settle().await;
    view.apply_all(&watcher.drain());
    // Churn: ann rejoins, bob comes and goes, cat stays; some in one window, some across.
    ann.join(TOPIC, "2").await;
    let bob = h.joined("bob").await;
    settle().await;
    let cat = h.joined("cat").await;
    drop(bob);
    tokio::time::sleep(Duration::from_millis(3)).await;
    ann.send(json!(["2", "3", TOPIC, "phx_leave", {}])).await;
    settle().await;
    view.apply_all(&watcher.drain());
    let mut expected = vec![watcher.key(), cat.key()];
    expected.sort();
    assert_eq!(view.keys(), expected, "{view:?}");
    assert_eq!(view.refs(&cat.key()).len(), 1);

    // A late joiner's state plus diffs agrees.
    let mut late = h.open(&h.user("late"));
    let out = late.join(TOPIC, "1").await;
    settle().await;
    let mut late_view = PresenceView::default();
    late_view.apply_all(&out);
    late_view.apply_all(&late.drain());
    let mut expected = vec![watcher.key(), cat.key(), late.key()];
    expected.sort();
    assert_eq!(late_view.keys(), expected, "{late_view:?}");
    assert!(h.audit.entries.lock().unwrap().is_empty());
}

// ---------------------------------------------------------------- abuse limits

#[tokio::test(start_paused = true)]
async fn a_join_with_since_is_bounded_in_bytes_and_says_it_is_incomplete() {
    let h = Harness::new(RealtimeConfig {
        since_bytes: 4000,
        ..config()
    });
    let author = UserId::generate();
    let long = "x".repeat(1000);
    let c: Vec<_> = (0..20)
        .map(|i| h.store.seed("v1", author, &format!("{i}{long}")))
        .collect();
    let mut client = h.open(&h.user("ann"));
    let out = client
        .join_with(TOPIC, "2", json!({ "since": c[0].id.to_string() }))
        .await;
    let response = &out[0][4]["response"];
    assert_eq!(response["complete"], false);
    let got = ids_of(&response["comments"]);
    assert!(
        (1..=4).contains(&got.len()),
        "about 4000 bytes of 1 KB comments: {}",
        got.len()
    );
    assert_eq!(
        got,
        c[1..=got.len()]
            .iter()
            .map(|c| c.id.to_string())
            .collect::<Vec<_>>(),
        "the oldest missed ones, so the client pages on from the last"
    );
    assert!(out[0].to_string().len() < 4000 + 1500);
}

#[tokio::test(start_paused = true)]
async fn joins_are_rate_limited_per_socket_without_losing_the_joined_channel() {
    let h = Harness::new(RealtimeConfig {
        joins_per_second: 1.0,
        join_burst: 3.0,
        ..config()
    });
    let mut client = h.open(&h.user("ann"));
    for i in 0..3 {
        let out = client.join(TOPIC, &format!("{i}")).await;
        assert_eq!(out[0][4]["status"], "ok", "{out:?}");
    }
    client.drain();
    let out = client.join(TOPIC, "9").await;
    assert_eq!(
        out.len(),
        1,
        "no phx_close: the joined channel stays: {out:?}"
    );
    assert_eq!(out[0][4]["status"], "error");
    assert_eq!(out[0][4]["response"]["reason"], "rate_limited");
    assert_eq!(out[0][4]["response"]["retry_after_ms"], 1000);
    assert_eq!(
        out[0][4]["response"]["message"],
        "You're joining rooms too fast; try again in 1 s"
    );
    // The channel joined with "2" still works.
    let out = client
        .send(json!(["2", "5", TOPIC, "reaction", {"emoji": "👍"}]))
        .await;
    assert_eq!(out[0][4]["status"], "ok", "{out:?}");
    tokio::time::advance(std::time::Duration::from_secs(1)).await;
    let out = client.join(TOPIC, "10").await;
    assert_eq!(
        out[0][4]["status"], "ok",
        "a token came back after a second"
    );
}

#[tokio::test(start_paused = true)]
async fn sockets_are_limited_per_user_per_address_and_per_node() {
    use realtime::Refused;
    use std::net::{IpAddr, Ipv4Addr};
    let h = Harness::new(RealtimeConfig {
        max_sockets: 5,
        max_sockets_per_user: 2,
        max_sockets_per_address: 3,
        ..config()
    });
    let here = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let there = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let ann = h.user("ann");
    let a1 = h.rt.open(ann.clone(), here).unwrap();
    let _a2 = h.rt.open(ann.clone(), there).unwrap();
    assert_eq!(
        h.rt.open(ann.clone(), there).unwrap_err(),
        Refused::TooManyForUser
    );
    let _b = h.rt.open(h.user("bob"), here).unwrap();
    let _c = h.rt.open(h.user("cat"), here).unwrap();
    assert_eq!(
        h.rt.open(h.user("dan"), here).unwrap_err(),
        Refused::TooManyForAddress
    );
    let _d = h.rt.open(h.user("dan"), there).unwrap();
    assert_eq!(
        h.rt.open(h.user("eve"), there).unwrap_err(),
        Refused::NodeFull
    );
    // A socket gone frees its places.
    drop(a1);
    let _e = h.rt.open(ann, here).unwrap();
    assert_eq!(h.rt.open_sockets(), 5);
}

/// The comment object as clients see it.
fn comment_json(c: &domain::Comment) -> Value {
    serde_json::to_value(c).unwrap()
}
