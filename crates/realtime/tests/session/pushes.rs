//! The session: pushes.

use super::*;

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
