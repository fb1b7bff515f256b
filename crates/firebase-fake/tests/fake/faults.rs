//! Injected faults: statuses, 429 with Retry-After, hangs, dropped connections, latency,
//! malformed and empty bodies, faults on the token endpoint.

use std::time::{Duration, Instant};

use firebase_fake::{Fault, FaultKind};
use reqwest::Method;
use serde_json::json;

use crate::support::{Env, assertion, token_request};

#[tokio::test]
async fn status_faults_apply_the_given_number_of_times_to_matching_requests() {
    let env = Env::new();
    env.fake
        .inject(Fault::status(503).times(2).on("PUT", "videos"));
    let put = |path: &'static str| env.req(Method::PUT, path).json(&json!(1)).send();
    assert_eq!(put("other").await.unwrap().status().as_u16(), 200);
    assert_eq!(put("videos/v1").await.unwrap().status().as_u16(), 503);
    let response = put("videos/v1").await.unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.json::<serde_json::Value>().await.unwrap()["error"].is_string());
    assert_eq!(env.fake.get("videos"), json!(null));
    assert_eq!(put("videos/v1").await.unwrap().status().as_u16(), 200);
    assert_eq!(env.fake.get("videos/v1"), json!(1));

    env.fake.inject(Fault::status(500).always());
    assert_eq!(put("a").await.unwrap().status().as_u16(), 500);
    assert_eq!(put("a").await.unwrap().status().as_u16(), 500);
    env.fake.clear_faults();
    assert_eq!(put("a").await.unwrap().status().as_u16(), 200);
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    let env = Env::new();
    env.fake.inject(Fault::too_many_requests(7));
    let response = env.req(Method::GET, "a").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
}

#[tokio::test]
async fn a_dropped_connection_is_a_client_error_and_nothing_is_written() {
    let env = Env::new();
    env.fake.inject(Fault::drop_connection());
    let error = env
        .req(Method::PUT, "a")
        .json(&json!(1))
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_status(), "{error:?}");
    assert_eq!(env.fake.get("a"), json!(null));
    assert_eq!(env.fake.journal()[0].status, 0);
    assert_eq!(
        env.req(Method::PUT, "a")
            .json(&json!(1))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_hang_ends_with_the_client_timeout_or_with_release() {
    let env = Env::new();
    env.fake.inject(Fault::hang().on("PATCH", "").always());
    let error = env
        .req(Method::PATCH, "a")
        .json(&json!({"x": 1}))
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");

    let hung = env.req(Method::PATCH, "a").json(&json!({"x": 1})).send();
    let release = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        env.fake.release_hangs();
    };
    let (response, ()) = tokio::join!(hung, release);
    assert_eq!(response.unwrap().status().as_u16(), 503);
    assert_eq!(env.fake.get("a"), json!(null));
    // The abandoned request was dropped with its connection, so the release did not answer it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let statuses: Vec<u16> = env.fake.journal().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [0, 503]);
}

#[tokio::test]
async fn latency_delays_then_handles_normally() {
    let env = Env::new();
    env.fake.inject(Fault::latency(Duration::from_millis(300)));
    let started = Instant::now();
    let response = env
        .req(Method::PUT, "a")
        .json(&json!(1))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(env.fake.get("a"), json!(1));
}

#[tokio::test]
async fn malformed_and_empty_ok_bodies() {
    let env = Env::new();
    env.fake.inject(Fault::malformed_json());
    env.fake.inject(Fault::new(FaultKind::EmptyOk));
    let response = env
        .req(Method::PUT, "a")
        .json(&json!(1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.json::<serde_json::Value>().await.is_err());
    let response = env
        .req(Method::PUT, "a")
        .json(&json!(1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.unwrap(), "");
    assert_eq!(env.fake.get("a"), json!(null));
}

#[tokio::test]
async fn token_faults_hit_only_the_token_endpoint() {
    let env = Env::new();
    env.fake.inject_token_fault(Fault::status(503));
    assert_eq!(
        env.req(Method::GET, "a")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let (status, _) = token_request(&env.client, &env.fake, &assertion(&env.fake, json!({}))).await;
    assert_eq!(status, 503);
    let (status, _) = token_request(&env.client, &env.fake, &assertion(&env.fake, json!({}))).await;
    assert_eq!(status, 200);
    assert_eq!(env.fake.tokens_issued(), 1);
}
