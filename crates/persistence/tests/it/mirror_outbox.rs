//! The mirror outbox: rows written in the change's transaction, sent by one worker at a
//! time, oldest first, by any number of workers without a row taken twice.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use domain::mirror::{MirrorChange, MirrorOutbox, MirrorQueue, MirrorSource};
use domain::ports::{CommentStore, UnitOfWork};
use domain::{ClientId, CommentBody, CommentId, NewComment, UserId, VideoId};
use persistence::test_db::TestDatabase;

const LEASE: Duration = Duration::from_secs(60);

fn video(id: &str) -> VideoId {
    VideoId::parse(id).expect("valid video id")
}

/// Whether nothing can be claimed now.
async fn nothing_due(db: &persistence::Database) -> bool {
    db.claim(10, LEASE)
        .await
        .expect("claimed")
        .entries
        .is_empty()
}

/// A change about `id` that reads back as written, whatever is in `comments`.
fn change(id: CommentId) -> MirrorChange {
    MirrorChange::CommentDeleted {
        id,
        video_id: video("v1"),
    }
}

/// A comment by a new user, stored with the mirror on or off.
async fn post(db: &persistence::Database, text: &str, mirrored: bool) -> domain::Comment {
    let author = crate::user(
        db,
        &format!("u{}", &CommentId::generate().to_string()[24..]),
    )
    .await;
    let new = NewComment {
        video_id: video("v1"),
        user_id: author.id,
        username: author.username.clone(),
        body: CommentBody::parse(text).expect("valid body"),
        client_id: None,
    };
    if mirrored {
        db.insert_mirrored(new).await.expect("posted")
    } else {
        db.insert(new).await.expect("posted")
    }
}

/// The subjects of a claim's changes, in order.
fn subjects(claim: &domain::mirror::Claim) -> Vec<uuid::Uuid> {
    claim.entries.iter().map(|e| e.change.subject()).collect()
}

#[tokio::test]
async fn every_kind_of_change_reads_back_and_a_saved_comment_as_it_is_now() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let edited = post(db, "before", false).await;
    let edited = db
        .update_body(edited.id, CommentBody::parse("after").expect("valid body"))
        .await
        .expect("edited");
    let gone = post(db, "short-lived", false).await;
    let at = Utc::now().with_timezone(&Utc);
    let user = UserId::generate();
    let at = chrono::SubsecRound::trunc_subsecs(at, 6);
    for change in [
        MirrorChange::saved(&edited),
        MirrorChange::saved(&gone),
        change(CommentId::generate()),
        MirrorChange::SignedIn { user, at },
    ] {
        db.enqueue(&change).await.expect("enqueued");
    }
    db.soft_delete(gone.id).await.expect("deleted");
    let claim = db.claim(10, LEASE).await.expect("claimed");
    let read: Vec<MirrorChange> = claim.entries.iter().map(|e| e.change.clone()).collect();
    assert_eq!(read[0], MirrorChange::saved(&edited));
    assert_eq!(
        read[1],
        MirrorChange::CommentDeleted {
            id: gone.id,
            video_id: video("v1")
        },
        "deleted since it was saved: sent as deleted"
    );
    assert!(matches!(read[2], MirrorChange::CommentDeleted { .. }));
    assert_eq!(read[3], MirrorChange::SignedIn { user, at });
    assert!(claim.entries.iter().all(|e| e.attempts == 1));
}

#[tokio::test]
async fn a_rolled_back_change_leaves_no_row() {
    let t = TestDatabase::new().await;
    let tx = t.database().begin().await.expect("begins");
    tx.outbox()
        .enqueue(&change(CommentId::generate()))
        .await
        .expect("enqueued");
    tx.rollback().await;
    assert_eq!(t.count("SELECT COUNT(*) FROM mirror_outbox").await, 0);
}

#[tokio::test]
async fn one_worker_at_a_time_takes_the_oldest_changes_in_order() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let (a, b) = (CommentId::generate(), CommentId::generate());
    let (a, b) = (*a.as_uuid(), *b.as_uuid());
    for id in [a, b, a, a] {
        db.enqueue(&change(CommentId::from_uuid(id)))
            .await
            .expect("enqueued");
    }
    let first = db.claim(10, LEASE).await.expect("claimed");
    assert_eq!(
        subjects(&first),
        [a, b],
        "a's second change waits for the next batch"
    );
    // While the first worker holds the lease, no other takes anything.
    assert!(nothing_due(db).await);
    let ids: Vec<u64> = first.entries.iter().map(|e| e.id).collect();
    db.sent(first.lease, &ids).await.expect("deleted");
    assert!(
        nothing_due(db).await,
        "still the first worker's until released"
    );
    db.release(first.lease).await.expect("released");
    let second = db.claim(10, LEASE).await.expect("claimed");
    assert_eq!(subjects(&second), [a]);
    assert!(second.entries[0].id > first.entries[0].id);
    let ids: Vec<u64> = second.entries.iter().map(|e| e.id).collect();
    db.sent(second.lease, &ids).await.expect("deleted");
    db.release(second.lease).await.expect("released");
    let third = db.claim(10, LEASE).await.expect("claimed");
    assert_eq!(subjects(&third), [a]);
    assert_eq!(t.count("SELECT COUNT(*) FROM mirror_outbox").await, 1);
}

#[tokio::test]
async fn workers_racing_never_take_a_change_twice() {
    let t = TestDatabase::new().await;
    let db = t.database().clone();
    for _ in 0..400 {
        db.enqueue(&change(CommentId::generate()))
            .await
            .expect("enqueued");
    }
    let mut workers = Vec::new();
    for _ in 0..4 {
        let db = db.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claim = db.claim(25, LEASE).await.expect("claimed");
                if claim.entries.is_empty() {
                    // Another worker's turn, or nothing left.
                    if MirrorQueue::status(&db).await.expect("status").pending == 0 {
                        return mine;
                    }
                    tokio::task::yield_now().await;
                    continue;
                }
                let ids: Vec<u64> = claim.entries.iter().map(|e| e.id).collect();
                db.sent(claim.lease, &ids).await.expect("deleted");
                db.release(claim.lease).await.expect("released");
                mine.extend(ids);
            }
        }));
    }
    let mut seen = HashSet::new();
    for worker in workers {
        for id in worker.await.expect("worker ran") {
            assert!(seen.insert(id), "change {id} taken twice");
        }
    }
    assert_eq!(seen.len(), 400);
    assert_eq!(t.count("SELECT COUNT(*) FROM mirror_outbox").await, 0);
}

#[tokio::test]
async fn retried_changes_wait_and_a_lost_lease_reports_nothing() {
    let t = TestDatabase::new().await;
    let db = t.database();
    db.enqueue(&change(CommentId::generate()))
        .await
        .expect("enqueued");
    let claim = db
        .claim(10, Duration::from_millis(1))
        .await
        .expect("claimed");
    let ids: Vec<u64> = claim.entries.iter().map(|e| e.id).collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The lease ran out: another worker takes the change over (the first one reported no
    // failure, so this is still the first counted try)...
    let again = db.claim(10, LEASE).await.expect("claimed");
    assert_eq!(again.entries.len(), 1);
    assert_eq!(again.entries[0].attempts, 1);
    // ...and the first worker's late report changes nothing.
    db.sent(claim.lease, &ids).await.expect("no-op");
    assert_eq!(MirrorQueue::status(db).await.expect("status").pending, 1);
    db.retry(
        again.lease,
        &ids,
        Duration::from_secs(3600),
        "503 unavailable",
    )
    .await
    .expect("rescheduled");
    // The whole queue waits, a change enqueued since included.
    db.enqueue(&change(CommentId::generate()))
        .await
        .expect("enqueued");
    assert!(nothing_due(db).await);
    let status = MirrorQueue::status(db).await.expect("status");
    assert_eq!(status.pending, 2);
    assert!(status.oldest_pending.is_some());
}

#[tokio::test]
async fn a_retried_change_counts_its_try_and_keeps_its_place() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let (first, second) = (CommentId::generate(), CommentId::generate());
    for id in [first, second] {
        db.enqueue(&change(id)).await.expect("enqueued");
    }
    let claim = db.claim(1, LEASE).await.expect("claimed");
    let ids: Vec<u64> = claim.entries.iter().map(|e| e.id).collect();
    db.retry(claim.lease, &ids, Duration::ZERO, "503 unavailable")
        .await
        .expect("rescheduled");
    let again = db.claim(10, LEASE).await.expect("claimed");
    assert_eq!(subjects(&again), [*first.as_uuid(), *second.as_uuid()]);
    assert_eq!(again.entries[0].attempts, 2);
    assert_eq!(again.entries[1].attempts, 1);
}

#[tokio::test]
async fn dead_letters_are_listed_and_revived_unless_superseded() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let (a, b) = (CommentId::generate(), CommentId::generate());
    db.enqueue(&change(a)).await.expect("enqueued");
    db.enqueue(&change(b)).await.expect("enqueued");
    let claim = db.claim(10, LEASE).await.expect("claimed");
    let ids: Vec<u64> = claim.entries.iter().map(|e| e.id).collect();
    db.bury(claim.lease, &ids, "400 Invalid data")
        .await
        .expect("buried");
    // a changed again since: its dead change is superseded.
    db.enqueue(&change(a)).await.expect("enqueued");
    let letters = db.dead_letters(10).await.expect("listed");
    assert_eq!(letters.len(), 2);
    assert!(letters.iter().all(|l| l.error == "400 Invalid data"));
    assert_eq!(MirrorQueue::status(db).await.expect("status").dead, 2);
    assert_eq!(db.revive_dead().await.expect("revived"), 1);
    let status = MirrorQueue::status(db).await.expect("status");
    assert_eq!((status.pending, status.dead), (2, 1));
}

#[tokio::test]
async fn the_videos_with_live_comments_page_in_order() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    for v in ["b", "a", "c", "a"] {
        domain::ports::CommentStore::insert(
            db,
            domain::NewComment {
                video_id: video(v),
                user_id: ann.id,
                username: ann.username.clone(),
                body: domain::CommentBody::parse("hi").expect("valid"),
                client_id: None,
            },
        )
        .await
        .expect("inserted");
    }
    let first = db.videos(None, 2).await.expect("listed");
    assert_eq!(first, [video("a"), video("b")]);
    let rest = db.videos(Some(&video("b")), 2).await.expect("listed");
    assert_eq!(rest, [video("c")]);
}

#[tokio::test]
async fn a_mirrored_post_stores_its_change_with_it_or_neither() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let new = |text: &str, client_id: &str| NewComment {
        video_id: video("v1"),
        user_id: ann.id,
        username: ann.username.clone(),
        body: CommentBody::parse(text).expect("valid body"),
        client_id: Some(ClientId::parse(client_id).expect("valid client id")),
    };
    let count = || async {
        (
            t.count("SELECT COUNT(*) FROM comments").await,
            t.count("SELECT COUNT(*) FROM mirror_outbox").await,
        )
    };

    // Outside a transaction: one statement, the outbox row written by the trigger.
    let posted = db
        .insert_mirrored(new("mirrored 🎉 — ünïcode", "tab-1:1"))
        .await
        .expect("posted");
    assert_eq!(
        db.by_id(posted.id).await.expect("query"),
        Some(posted.clone())
    );
    let claim = db.claim(10, LEASE).await.expect("claimed");
    let read: Vec<MirrorChange> = claim.entries.iter().map(|e| e.change.clone()).collect();
    assert_eq!(read, vec![MirrorChange::saved(&posted)]);

    // A clash stores neither row and reads as the plain insert's clash.
    let again = db.insert_mirrored(new("retry", "tab-1:1")).await;
    assert!(
        matches!(&again, Err(domain::Error::Conflict(m)) if m.contains("client_id")),
        "{again:?}"
    );
    assert_eq!(count().await, (1, 1));

    // Inside a transaction: both rows are the transaction's.
    let tx = db.begin().await.expect("begins");
    tx.comments()
        .insert_mirrored(new("rolled back", "tab-1:2"))
        .await
        .expect("posted");
    tx.rollback().await;
    assert_eq!(count().await, (1, 1));
    let tx = db.begin().await.expect("begins");
    tx.comments()
        .insert_mirrored(new("committed", "tab-1:3"))
        .await
        .expect("posted");
    tx.commit().await.expect("committed");
    assert_eq!(count().await, (2, 2));
    // With the mirror off, no outbox row.
    post(db, "plain", false).await;
    assert_eq!(count().await, (3, 2));
}

#[tokio::test]
async fn a_comment_that_no_longer_reads_becomes_a_dead_letter_and_holds_nothing_up() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let bad = post(db, "fine when posted", true).await;
    // Stored before a stricter rule, say: only invisible characters.
    t.execute(&format!(
        "UPDATE comments SET content = '\u{200B}' WHERE id = x'{}'",
        bad.id.as_uuid().simple()
    ))
    .await;
    let good = post(db, "fine", true).await;
    let claim = db.claim(10, LEASE).await.expect("claimed");
    assert_eq!(subjects(&claim), [*good.id.as_uuid()]);
    assert_eq!(MirrorQueue::status(db).await.expect("status").dead, 1);
    let letters = db.dead_letters(10).await.expect("listed");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].change.subject(), *bad.id.as_uuid());
    assert_eq!(letters[0].error, "unreadable row");
    // Nothing is left to hold the queue up.
    let ids: Vec<u64> = claim.entries.iter().map(|e| e.id).collect();
    db.sent(claim.lease, &ids).await.expect("deleted");
    db.release(claim.lease).await.expect("released");
    assert!(nothing_due(db).await);
    assert_eq!(MirrorQueue::status(db).await.expect("status").pending, 0);
}

#[tokio::test]
async fn a_lease_is_renewed_while_held_and_not_after() {
    let t = TestDatabase::new().await;
    let db = t.database();
    db.enqueue(&change(CommentId::generate()))
        .await
        .expect("enqueued");
    let claim = db.claim(10, LEASE).await.expect("claimed");
    assert!(db.renew(claim.lease, LEASE).await.expect("renewed"));
    db.release(claim.lease).await.expect("released");
    assert!(!db.renew(claim.lease, LEASE).await.expect("asked"));
    // A lost lease cannot be renewed either: it ran out, and another worker took it.
    let short = db
        .claim(10, Duration::from_millis(1))
        .await
        .expect("claimed");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let other = db.claim(10, LEASE).await.expect("claimed");
    assert_eq!(other.entries.len(), 1);
    assert!(!db.renew(short.lease, LEASE).await.expect("asked"));
}

#[tokio::test]
async fn a_sign_in_is_sent_as_the_users_last() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let earlier = chrono::SubsecRound::trunc_subsecs(Utc::now() - chrono::Duration::hours(1), 6);
    db.enqueue(&MirrorChange::SignedIn {
        user: ann.id,
        at: earlier,
    })
    .await
    .expect("enqueued");
    t.execute(&format!(
        "UPDATE users SET last_login_at = '2030-01-02 03:04:05.000006' WHERE id = x'{}'",
        ann.id.as_uuid().simple()
    ))
    .await;
    let claim = db.claim(10, LEASE).await.expect("claimed");
    let MirrorChange::SignedIn { at, .. } = &claim.entries[0].change else {
        panic!("{:?}", claim.entries[0].change);
    };
    assert_eq!(domain::wire::timestamp(*at), "2030-01-02T03:04:05.000006Z");
}
