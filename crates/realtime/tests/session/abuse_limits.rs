//! The session: abuse limits.

use super::*;

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
