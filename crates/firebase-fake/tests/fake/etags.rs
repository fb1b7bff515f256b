//! Conditional requests: ETags on GET, if-match on PUT/DELETE (412), if-none-match (304).

use reqwest::Method;
use serde_json::json;

use crate::support::{Env, json_of};

async fn etag_of(env: &Env, path: &str) -> String {
    let response = env
        .req(Method::GET, path)
        .header("X-Firebase-ETag", "true")
        .send()
        .await
        .unwrap();
    response.headers()["etag"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_stale_if_match_gets_412_with_the_current_value_and_etag() {
    let env = Env::new();
    env.fake.set("counter", json!(1));
    let first = etag_of(&env, "counter").await;
    assert_ne!(first, "null_etag");
    env.fake.set("counter", json!(2));

    let response = env
        .req(Method::PUT, "counter")
        .header("if-match", &first)
        .json(&json!(2))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 412);
    let current = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(current, etag_of(&env, "counter").await);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!(2)
    );
    assert_eq!(env.fake.get("counter"), json!(2));

    let response = env
        .req(Method::PUT, "counter")
        .header("if-match", &current)
        .json(&json!(3))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let new = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(new, etag_of(&env, "counter").await);
    assert_eq!(env.fake.get("counter"), json!(3));

    let response = env
        .req(Method::DELETE, "counter")
        .header("if-match", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 412);
    let response = env
        .req(Method::DELETE, "counter")
        .header("if-match", &new)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["etag"], "null_etag");
}

#[tokio::test]
async fn null_etag_means_create_if_absent() {
    let env = Env::new();
    assert_eq!(etag_of(&env, "slot").await, "null_etag");
    let put = |value| {
        env.req(Method::PUT, "slot")
            .header("if-match", "null_etag")
            .json(&value)
            .send()
    };
    assert_eq!(put(json!("first")).await.unwrap().status().as_u16(), 200);
    let response = put(json!("second")).await.unwrap();
    assert_eq!(json_of(response).await, (412, json!("first")));
}

#[tokio::test]
async fn if_none_match_gets_304_while_unchanged() {
    let env = Env::new();
    env.fake.set("v", json!({"b": 1, "a": 2}));
    let tag = etag_of(&env, "v").await;
    let get = || {
        env.req(Method::GET, "v")
            .header("if-none-match", &tag)
            .send()
    };
    let response = get().await.unwrap();
    assert_eq!(response.status().as_u16(), 304);
    env.fake.set("v/a", json!(3));
    let response = get().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_ne!(response.headers()["etag"].to_str().unwrap(), tag);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({"a": 3, "b": 1})
    );
}

#[tokio::test]
async fn if_match_on_patch_or_post_is_refused() {
    let env = Env::new();
    for method in [Method::PATCH, Method::POST] {
        let response = env
            .req(method, "v")
            .header("if-match", "null_etag")
            .json(&json!({"a": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400);
    }
    assert_eq!(env.fake.tree(), json!(null));
}
