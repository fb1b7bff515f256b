use super::*;
use crate::frame;

fn viewer(n: u128) -> Viewer {
    Viewer {
        user: UserId::from_uuid(uuid::Uuid::from_u128(n)),
        moderates: false,
    }
}

#[tokio::test]
async fn one_serialization_reaches_every_subscriber_but_the_excluded() {
    let hub = Hub::new();
    let (a, ra) = Outbox::new(frames(8));
    let (b, rb) = Outbox::new(frames(8));
    hub.subscribe("video:1", 1, a, viewer(1));
    hub.subscribe("video:1", 2, b, viewer(2));
    let f = frame::broadcast("video:1", "reaction", &serde_json::json!({}));
    assert_eq!(hub.broadcast("video:1", &f, Some(1)), 1);
    assert_eq!(hub.broadcast("video:1", &f, None), 2);
    assert_eq!(ra.next().await.as_deref(), Some(&*f));
    let got = rb.next().await.expect("frame");
    assert_eq!(
        got.as_bytes().as_ptr(),
        f.as_bytes().as_ptr(),
        "the same bytes, not a copy"
    );
    hub.unsubscribe("video:1", 1);
    assert_eq!(hub.subscriber_count("video:1"), 1);
}

fn frames(frames: usize) -> QueueLimits {
    QueueLimits {
        frames,
        bytes: usize::MAX,
    }
}

#[tokio::test]
async fn a_watcher_hears_of_first_and_last_subscribers_only() {
    let hub = Hub::new();
    let (a, _ra) = Outbox::new(frames(8));
    hub.subscribe("video:1", 1, a.clone(), viewer(1));
    let (existing, mut changes) = hub.watch_topics().expect("the first watcher");
    assert_eq!(existing, vec!["video:1".to_owned()]);
    assert!(hub.watch_topics().is_none(), "one watcher per hub");
    hub.subscribe("video:1", 2, a.clone(), viewer(2));
    hub.subscribe("video:2", 1, a, viewer(1));
    hub.unsubscribe("video:1", 1);
    hub.unsubscribe("video:1", 2);
    assert_eq!(
        changes.recv().await,
        Some(TopicChange::Added("video:2".into()))
    );
    assert_eq!(
        changes.recv().await,
        Some(TopicChange::Removed("video:1".into()))
    );
    assert!(changes.try_recv().is_err());
}

#[tokio::test]
async fn a_full_queue_kicks_the_slow_socket() {
    let hub = Hub::new();
    let (slow, receiver) = Outbox::new(frames(2));
    hub.subscribe("t", 1, slow, viewer(1));
    let f = frame::broadcast("t", "e", &serde_json::json!({}));
    assert_eq!(hub.broadcast("t", &f, None), 1);
    assert_eq!(hub.broadcast("t", &f, None), 1);
    assert_eq!(
        hub.broadcast("t", &f, None),
        0,
        "the third frame does not fit"
    );
    assert_eq!(receiver.kicked(), Some(CloseReason::SlowConsumer));
}

#[test]
fn a_paced_topic_sends_a_window_in_one_batch_and_held_comments_at_once() {
    let hub = Arc::new(Hub::new());
    let (a, ra) = Outbox::new(frames(8));
    let (m, rm) = Outbox::new(frames(8));
    hub.subscribe("t", 1, a, viewer(1));
    hub.subscribe(
        "t",
        2,
        m,
        Viewer {
            moderates: true,
            ..viewer(2)
        },
    );
    hub.pace("t", true);
    let f = frame::broadcast("t", "new_comment", &serde_json::json!({}));
    hub.deliver("t", "new_comment", &f, None);
    hub.deliver("t", "new_comment", &f, None);
    assert!(ra.try_next().is_none(), "nothing before the window");
    let held = frame::broadcast("t", "new_comment", &serde_json::json!({"held": true}));
    hub.deliver_held("t", UserId::from_uuid(uuid::Uuid::from_u128(3)), &held);
    assert!(
        ra.try_next().is_none(),
        "a held comment of another is not for a viewer"
    );
    assert_eq!(rm.take().len(), 1, "but for a moderator");
    let stats = frame::broadcast("t", "room_stats", &serde_json::json!({}));
    assert_eq!(hub.flush_window("t", vec![stats]), 2);
    assert_eq!(ra.take().len(), 3, "two comments and the stats, together");
    assert_eq!(
        hub.flush_window("t", Vec::new()),
        0,
        "an empty window sends nothing"
    );
    hub.deliver("t", "new_comment", &f, None);
    hub.pace("t", false);
    assert_eq!(ra.take().len(), 1, "what waited goes out when pacing stops");
}

/// Sockets on two runtimes (two HTTP workers) each get a window closed on a third, from
/// their own runtime.
#[test]
fn a_window_reaches_the_sockets_of_every_runtime() {
    let hub = Arc::new(Hub::new());
    let workers: Vec<tokio::runtime::Runtime> = (0..2)
        .map(|_| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime")
        })
        .collect();
    let mut receivers = Vec::new();
    for (n, worker) in workers.iter().enumerate() {
        let (outbox, receiver) = Outbox::new(frames(8));
        let id = n as u64 + 1;
        worker.block_on(async { hub.subscribe("t", id, outbox, viewer(id.into())) });
        receivers.push(receiver);
    }
    hub.pace("t", true);
    let f = frame::broadcast("t", "new_comment", &serde_json::json!({}));
    hub.deliver("t", "new_comment", &f, None);
    let background = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let here = background.block_on(async { hub.flush_window("t", Vec::new()) });
    assert_eq!(here, 0, "handed to the workers, not offered from here");
    assert!(receivers.iter().all(|r| r.try_next().is_none()));
    for (worker, receiver) in workers.iter().zip(&receivers) {
        // The hand-off runs once the worker runs.
        worker.block_on(async {
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
        });
        assert_eq!(receiver.take().len(), 1);
    }
}

#[test]
fn a_held_comment_reaches_each_moderator_and_author_socket_once_and_none_that_left() {
    let hub = Hub::new();
    let moderator = Viewer {
        moderates: true,
        ..viewer(1)
    };
    let (m, rm) = Outbox::new(frames(8));
    let (a1, ra1) = Outbox::new(frames(8));
    let (a2, ra2) = Outbox::new(frames(8));
    let (other, rother) = Outbox::new(frames(8));
    hub.subscribe("t", 1, m, moderator);
    hub.subscribe("t", 2, a1, viewer(2));
    hub.subscribe("t", 3, a2.clone(), viewer(2));
    hub.subscribe("t", 4, other, viewer(3));
    // Subscribing again replaces, it does not add.
    hub.subscribe("t", 3, a2, viewer(2));
    let held = frame::broadcast("t", "new_comment", &serde_json::json!({"held": true}));
    hub.deliver_held("t", viewer(2).user, &held);
    hub.deliver_held("t", moderator.user, &held);
    assert_eq!(rm.take().len(), 2, "both, its own once");
    assert_eq!((ra1.take().len(), ra2.take().len()), (1, 1));
    assert!(rother.try_next().is_none());
    hub.unsubscribe("t", 2);
    hub.deliver_held("t", viewer(2).user, &held);
    assert!(ra1.try_next().is_none(), "left");
    assert_eq!(ra2.take().len(), 1);
}
