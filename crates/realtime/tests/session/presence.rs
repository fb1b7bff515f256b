//! The session: presence.

use super::*;

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
/// told (when the owning channel ends, its presence is removed: a leave diff).
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
