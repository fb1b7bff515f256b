use persistence::test_db::TestDatabase;
use serde_json::Value;

use crate::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alive_and_ready_with_a_database() {
    let db = TestDatabase::new().await;
    let server = TestServer::start(db.url().expose(), &[]).await;
    let client = crate::http_client();

    let alive = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(alive.status(), 200);

    let ready = client
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["mariadb"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_without_a_database_but_alive() {
    // Nothing listens on port 1.
    let server = TestServer::start("mysql://root@127.0.0.1:1/nothing", &[]).await;
    let client = crate::http_client();
    let alive = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(alive.status(), 200);
    let ready = client
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["status"], "unavailable");
    let reason = body["checks"]["mariadb"].as_str().unwrap_or_default();
    assert!(reason.contains("unavailable"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_echoed_or_made() {
    let server = TestServer::start("mysql://root@127.0.0.1:1/nothing", &[]).await;
    let client = crate::http_client();
    let given = client
        .get(server.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("healthz");
    assert_eq!(given.headers()["x-request-id"], "abc-123");

    for bad in ["", "has space", &"x".repeat(65)] {
        let made = client
            .get(server.url("/healthz"))
            .header("x-request-id", bad)
            .send()
            .await
            .expect("healthz");
        let id = made.headers()["x-request-id"]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        assert_ne!(id, bad);
        assert!(
            uuid::Uuid::parse_str(&id).is_ok(),
            "a fresh UUID instead of {bad:?}: {id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_get_the_error_envelope() {
    let server = TestServer::start("mysql://root@127.0.0.1:1/nothing", &[]).await;
    let res = crate::get(server.url("/no/such/route"))
        .await
        .expect("request");
    assert_eq!(res.status(), 404);
    assert!(res.headers().contains_key("x-request-id"));
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["message"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_request_latency_by_route_and_pool_state() {
    let server = TestServer::start("mysql://root@127.0.0.1:1/nothing", &[]).await;
    crate::get(server.url("/healthz")).await.expect("healthz");
    crate::get(server.url("/nope-1234")).await.expect("404");
    let res = crate::get(server.url("/metrics")).await.expect("metrics");
    assert_eq!(res.status(), 200);
    let text = res.text().await.expect("text");
    assert!(
        text.contains(
            r#"http_request_duration_seconds_bucket{route="/healthz",method="GET",status="200""#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="unmatched""#),
        "unrouted paths share one label: {text}"
    );
    assert!(!text.contains("nope-1234"), "paths never become labels");
    assert!(text.contains("db_pool_max_connections"), "{text}");
}
