//! MariaDB going away and coming back, on a private instance this test starts (never the
//! shared one): `/readyz` turns 503 within seconds and back to 200, without a restart.

use std::time::{Duration, Instant};

use local_services::MariaDb;

use crate::TestServer;

async fn wait_for_status(
    client: &reqwest::Client,
    url: &str,
    want: u16,
    within: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let status = client
            .get(url)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        if status == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "/readyz did not turn {want} within {within:?} (last: {status})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_mariadb_down_and_up() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("outage-mariadb-{}", std::process::id()));
    let data = dir.clone();
    let mut db = tokio::task::spawn_blocking(move || MariaDb::start(&data, None))
        .await
        .expect("join")
        .expect("private MariaDB starts");
    let url = db.url("rts_outage");
    let database_url = persistence::DatabaseUrl::parse(&url).expect("valid url");
    persistence::ensure_database_exists(&database_url)
        .await
        .expect("database created");

    let server = TestServer::start(&url, &[]).await;
    let client = crate::http_client();
    let ready = server.url("/readyz");
    wait_for_status(&client, &ready, 200, Duration::from_secs(10)).await;

    db = tokio::task::spawn_blocking(move || db.stop().map(|()| db))
        .await
        .expect("join")
        .expect("MariaDB stops");
    let down = wait_for_status(&client, &ready, 503, Duration::from_secs(10)).await;
    let alive = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(alive.status(), 200, "the server itself keeps running");

    db = tokio::task::spawn_blocking(move || db.restart().map(|()| db))
        .await
        .expect("join")
        .expect("MariaDB restarts");
    let up = wait_for_status(&client, &ready, 200, Duration::from_secs(15)).await;
    eprintln!("readyz: 503 after {down:?} down, 200 after {up:?} back");
    drop(server);
    tokio::task::spawn_blocking(move || drop(db))
        .await
        .expect("join");
    std::fs::remove_dir_all(&dir).ok();
}
