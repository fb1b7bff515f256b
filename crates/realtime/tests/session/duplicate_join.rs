//! The session: duplicate join.

use super::*;

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
