//! The session: socket end.

use super::*;

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
