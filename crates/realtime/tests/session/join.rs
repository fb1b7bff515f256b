//! The session: join.

use super::*;

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
