//! The session: heartbeat.

use super::*;

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
