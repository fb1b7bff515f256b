//! Presence on one node: exact states in small rooms, shared ones in big rooms, and diffs
//! coalesced per window.

use super::*;
use crate::broker::LocalBroker;
use crate::hub::{Hub, Outbox};
use serde_json::json;

/// One node's hub and presence, with diffs coalesced over `window`.
fn node(window: Duration) -> (Arc<Hub>, Arc<Presence>) {
    let hub = Arc::new(Hub::new());
    let presence = Presence::new(Arc::new(LocalBroker::new(hub.clone())), hub.clone(), window);
    (hub, presence)
}

fn meta(name: &str) -> Connection {
    Connection {
        username: name.to_owned(),
        ..Connection::default()
    }
}

#[test]
fn bigger_rooms_coalesce_over_longer_windows() {
    let w = Duration::from_millis(50);
    assert_eq!(window_for(w, 1), w);
    assert_eq!(window_for(w, 1999), w);
    assert_eq!(window_for(w, 10_000), Duration::from_millis(500));
    assert_eq!(window_for(w, 1_000_000), Duration::from_secs(1));
}

#[tokio::test]
async fn in_a_small_room_the_state_is_exact_and_includes_the_joiner() {
    let (_hub, presence) = node(Duration::from_secs(60));
    presence.track("video:1", "u1", &meta("ann"), false);
    presence.flush("video:1");
    // Not flushed yet: a cached snapshot would not have bob.
    presence.track("video:1", "u2", &meta("bob"), false);
    let v: Value =
        serde_json::from_str(&presence.state_frame("video:1", &json!("1"), "u1")).expect("json");
    assert_eq!(v[4]["u1"]["metas"][0]["username"], "ann");
    assert_eq!(v[4]["u2"]["metas"][0]["username"], "bob");
}

#[tokio::test]
async fn the_state_frame_is_made_once_per_join_ref_and_snapshot() {
    let (_hub, presence) = node(Duration::from_millis(20));
    // A room big enough for a shared state.
    for i in 0..EXACT_STATE_MEMBERS {
        presence.track("video:1", &format!("x{i}"), &meta("someone"), false);
    }
    presence.track("video:1", "u1", &meta("ann"), false);
    presence.flush("video:1");
    let a = presence.state_frame("video:1", &json!("1"), "u1");
    let b = presence.state_frame("video:1", &json!("1"), "u1");
    let c = presence.state_frame("video:1", &json!("2"), "u1");
    assert_eq!(a.as_ptr(), b.as_ptr(), "shared, not copied");
    let v: Value = serde_json::from_str(&c).expect("json");
    assert_eq!(v[0], "2");
    assert_eq!(v[3], "presence_state");
    assert_eq!(v[4]["u1"]["metas"][0]["username"], "ann");
    presence.track("video:1", "u2", &meta("bob"), false);
    presence.flush("video:1");
    let d = presence.state_frame("video:1", &json!("1"), "u1");
    let v: Value = serde_json::from_str(&d).expect("json");
    assert_eq!(
        v[4]["u2"]["metas"][0]["username"], "bob",
        "a new snapshot, a new frame"
    );
}

#[tokio::test]
async fn joins_within_a_window_become_one_diff() {
    let (hub, presence) = node(Duration::from_millis(20));
    let (outbox, rx) = Outbox::new(crate::QueueLimits {
        frames: 16,
        bytes: usize::MAX,
    });
    hub.subscribe("video:1", 1, outbox, viewer());
    let a = presence.track("video:1", "u1", &meta("ann"), false);
    let b = presence.track("video:1", "u1", &meta("ann"), false);
    presence.track("video:1", "u2", &meta("bob"), false);
    assert_ne!(a, b, "each connection has its own phx_ref");
    let frame = rx.next().await.expect("a diff");
    let v: Value = serde_json::from_str(&frame).expect("json");
    assert_eq!(v[3], "presence_diff");
    assert_eq!(
        v[4]["joins"]["u1"]["metas"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(v[4]["joins"]["u2"]["metas"][0]["username"], "bob");
    assert_eq!(v[4]["leaves"], json!({}));
    assert!(rx.try_next().is_none(), "one frame for three joins");
    let state: Value = serde_json::from_str(&presence.snapshot("video:1")).expect("json");
    assert_eq!(state["u1"]["metas"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_leave_names_the_exact_meta_and_a_join_then_leave_in_one_window_is_not_announced_as_a_join()
 {
    let (hub, presence) = node(Duration::from_millis(20));
    let (outbox, rx) = Outbox::new(crate::QueueLimits {
        frames: 16,
        bytes: usize::MAX,
    });
    hub.subscribe("video:1", 1, outbox, viewer());
    let kept = presence.track("video:1", "u1", &meta("ann"), false);
    presence.flush("video:1");
    rx.next().await.expect("join diff");

    let brief = presence.track("video:1", "u2", &meta("bob"), false);
    presence.untrack("video:1", "u2", &brief);
    presence.untrack("video:1", "u1", &kept);
    let frame = rx.next().await.expect("leave diff");
    let v: Value = serde_json::from_str(&frame).expect("json");
    assert_eq!(v[4]["joins"], json!({}));
    assert_eq!(v[4]["leaves"]["u1"]["metas"][0]["phx_ref"], kept.as_str());
    assert_eq!(v[4]["leaves"]["u2"]["metas"][0]["phx_ref"], brief.as_str());
    assert_eq!(&*presence.snapshot("video:1"), "{}");
}

fn viewer() -> crate::hub::Viewer {
    crate::hub::Viewer {
        user: domain::UserId::from_uuid(uuid::Uuid::from_u128(1)),
        moderates: false,
    }
}
