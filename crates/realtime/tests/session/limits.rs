//! The session: limits.

use super::*;

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
