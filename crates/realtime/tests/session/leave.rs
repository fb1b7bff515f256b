//! The session: leave.

use super::*;

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
