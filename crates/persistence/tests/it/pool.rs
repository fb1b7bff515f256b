//! The pool under cancellation: a request dropped while its query is on the wire (a client
//! that went away) must not leave the rest of that reply for the next query to read. Without
//! `Conn`'s guard and with the pool's `SELECT 1` check off, this test sees bob's lookup
//! answered with ann's row.

use std::time::{Duration, Instant};

use domain::Error;
use domain::ports::UserStore;
use persistence::test_db::TestDatabase;
use persistence::{Database, PoolOptions};

/// A pool of one connection, opened by a lookup of `user`.
async fn one_connection(t: &TestDatabase, user: &domain::User) -> Database {
    let options = PoolOptions {
        max_size: 1,
        ..PoolOptions::default()
    };
    let db = Database::connect_lazy(t.url(), options).expect("pool builds");
    UserStore::by_id(&db, user.id).await.expect("warm-up query");
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_dropped_mid_flight_does_not_answer_the_next_one() {
    let t = TestDatabase::new().await;
    let ann = crate::user(t.database(), "ann").await;
    let bob = crate::user(t.database(), "bob").await;
    // One connection, so every query after a cancelled one runs where it ran.
    let db = one_connection(&t, &bob).await;

    for step in 0..150u64 {
        // Drop a lookup of ann after 0 to 1.5 ms: before its query is sent, while the reply
        // is on its way, or after it is done.
        let lookup = {
            let db = db.clone();
            tokio::spawn(async move { UserStore::by_id(&db, ann.id).await })
        };
        let until = Instant::now() + Duration::from_micros(step * 10);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        lookup.abort();
        let _ = lookup.await;

        let found = UserStore::by_id(&db, bob.id)
            .await
            .unwrap_or_else(|e| panic!("query after a lookup dropped at {step}0 µs: {e}"));
        assert_eq!(
            found.map(|u| u.username),
            Some(bob.username.clone()),
            "lookup of bob after one of ann dropped at {step}0 µs"
        );
    }
}

/// A connection used moments ago goes back into use without a `SELECT 1`; one that died
/// under a query must then be closed, not handed to the next query (which would fail too,
/// and so on for as long as the pool stays busy).
#[tokio::test]
async fn a_connection_that_died_is_replaced_not_reused() {
    let t = TestDatabase::new().await;
    let bob = crate::user(t.database(), "bob").await;
    let db = one_connection(&t, &bob).await;

    // MariaDB ends every connection to this database (as a restart or a KILL would).
    const OTHERS: &str = "SELECT COALESCE(MIN(id), 0) FROM information_schema.processlist \
                          WHERE db = DATABASE() AND id <> CONNECTION_ID()";
    loop {
        let id = t.count(OTHERS).await;
        if id == 0 {
            break;
        }
        // A connection found closing (this test's own last one) may be gone by the KILL.
        if let Err(e) = t.try_execute(&format!("KILL CONNECTION {id}")).await {
            assert!(e.contains("Unknown thread id"), "KILL {id}: {e}");
        }
    }

    // The query on the dead connection may fail, and then says the database is unavailable
    // (503), not that the server failed (500); the one after it runs on a new connection.
    if let Err(e) = UserStore::by_id(&db, bob.id).await {
        assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
    }
    let found = UserStore::by_id(&db, bob.id)
        .await
        .expect("a query after the connection died");
    assert_eq!(found.map(|u| u.username), Some(bob.username));
}
