//! Paths, the data model and the methods: PUT, GET, POST, PATCH, DELETE, print, shallow,
//! server values.

use reqwest::Method;
use serde_json::json;

use crate::support::{Env, json_of};

#[tokio::test]
async fn put_then_get_round_trips_and_missing_nodes_are_null() {
    let env = Env::new();
    let value = json!({"text": "hi", "n": 1.5, "ok": true, "list": ["a", "b"]});
    let (status, echo) = json_of(env.put("videos/v1/comments/c1", value.clone()).await).await;
    assert_eq!((status, echo), (200, value.clone()));
    assert_eq!(env.get("videos/v1/comments/c1").await, (200, value.clone()));
    assert_eq!(env.fake.get("videos/v1/comments/c1/text"), json!("hi"));
    assert_eq!(env.get("videos/v2").await, (200, json!(null)));
    assert_eq!(
        env.get("").await,
        (200, json!({"videos": {"v1": {"comments": {"c1": value}}}}))
    );
}

#[tokio::test]
async fn paths_are_decoded_checked_and_namespaced() {
    let env = Env::new();
    env.put("a b/ü", json!(1)).await;
    assert_eq!(env.fake.get("a b/ü"), json!(1));
    let raw = |path: &str| format!("http://{}/{path}", env.fake.addr());
    let status = |url: String| {
        let request = env.client.get(url).bearer_auth("owner").send();
        async move { request.await.unwrap().status().as_u16() }
    };
    assert_eq!(status(raw("a%20b//%C3%BC/.json?ns=fake-db")).await, 200);
    assert_eq!(status(raw("a%20b.json?ns=other-db")).await, 404);
    assert_eq!(status(raw("a%20b.json")).await, 404);
    assert_eq!(status(raw("a%20b?ns=fake-db")).await, 404);
    assert_eq!(status(raw("bad$key.json?ns=fake-db")).await, 400);
    assert_eq!(status(raw("a%2Fb.json?ns=fake-db")).await, 400);
    assert_eq!(
        status(raw("q.json?ns=fake-db&orderBy=%22%24key%22")).await,
        400
    );
    let (status, _) = json_of(env.put("x", json!({"bad.key": 1})).await).await;
    assert_eq!(status, 400);
    assert_eq!(env.fake.get("x"), json!(null));
}

#[tokio::test]
async fn patch_sets_each_path_atomically_and_refuses_overlaps() {
    let env = Env::new();
    env.fake.set("users/u1", json!({"name": "a", "age": 3}));
    env.fake
        .set("videos/v1/meta", json!({"count": 1, "title": "t"}));
    let body = json!({
        "users/u1": {"name": "b"},
        "videos/v1/meta/count": 2,
        "presence/v1/u7": null,
    });
    let response = env.req(Method::PATCH, "").json(&body).send().await.unwrap();
    assert_eq!(json_of(response).await, (200, body));
    assert_eq!(
        env.fake.tree(),
        json!({"users": {"u1": {"name": "b"}}, "videos": {"v1": {"meta": {"count": 2, "title": "t"}}}})
    );
    let before = env.fake.tree();
    for bad in [
        json!({"users/u2": 1, "users/u2/name": "x"}),
        json!({"users/u2": 1, "/users//u2/": 2}),
        json!({"users/u3": 1, "bad#key": 2}),
        json!({"users/u3": {".sv": "nonsense"}}),
        json!({}),
        json!([1, 2]),
        json!("text"),
    ] {
        let response = env.req(Method::PATCH, "").json(&bad).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{bad}");
        assert_eq!(env.fake.tree(), before, "{bad} changed the tree");
    }
    let duplicate = r#"{"users/u4": 1, "users/u4": 2}"#;
    let response = env
        .req(Method::PATCH, "")
        .header("content-type", "application/json")
        .body(duplicate)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
}

#[tokio::test]
async fn bad_json_bodies_are_refused() {
    let env = Env::new();
    for (method, body) in [
        (Method::PUT, "{nope"),
        (Method::POST, ""),
        (Method::PATCH, "["),
    ] {
        let response = env
            .req(method.clone(), "a")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, error) = json_of(response).await;
        assert_eq!(status, 400, "{method}");
        assert!(error["error"].is_string());
    }
}

#[tokio::test]
async fn print_silent_answers_204_with_no_body_for_every_method() {
    let env = Env::new();
    for (method, body) in [
        (Method::PUT, Some(json!({"x": 1}))),
        (Method::PATCH, Some(json!({"y": 2}))),
        (Method::POST, Some(json!(3))),
        (Method::GET, None),
        (Method::DELETE, None),
    ] {
        let url = format!("{}&print=silent", env.fake.url("node"));
        let mut request = env.client.request(method.clone(), url).bearer_auth("owner");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 204, "{method}");
        assert_eq!(response.text().await.unwrap(), "", "{method}");
    }
    assert_eq!(env.fake.tree(), json!(null));
}

#[tokio::test]
async fn delete_prunes_empty_parents() {
    let env = Env::new();
    env.fake.set("presence/v1/u1", json!({"online": true}));
    env.fake.set("presence/v2/u2", json!({"online": true}));
    let response = env
        .req(Method::DELETE, "presence/v1/u1")
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await, (200, json!(null)));
    assert_eq!(
        env.fake.tree(),
        json!({"presence": {"v2": {"u2": {"online": true}}}})
    );
    let response = env
        .req(Method::DELETE, "presence/v2/u2/online")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(env.fake.tree(), json!(null));
    let response = env.req(Method::DELETE, "never/there").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    env.put("gone", json!({"a": null, "b": {}})).await;
    assert_eq!(env.fake.tree(), json!(null));
}

#[tokio::test]
async fn server_values_resolve_at_commit() {
    let env = Env::new();
    env.fake.freeze_clock(1_700_000_000_123);
    env.fake.set("meta/count", json!(40));
    let (status, echo) = json_of(
        env.put("c/1", json!({"ts": {".sv": "timestamp"}, "text": "x"}))
            .await,
    )
    .await;
    assert_eq!(
        (status, echo),
        (200, json!({"ts": 1_700_000_000_123_u64, "text": "x"}))
    );
    let response = env
        .req(Method::PATCH, "")
        .json(&json!({"meta/count": {".sv": {"increment": 2}}, "meta/new": {".sv": {"increment": 1}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(env.fake.get("meta"), json!({"count": 42, "new": 1}));
    let (status, _) = json_of(env.put("c/2", json!({".sv": "now"})).await).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn post_creates_time_ordered_push_ids() {
    let env = Env::new();
    let mut names = Vec::new();
    for i in 0..5 {
        let response = env
            .req(Method::POST, "c")
            .json(&json!({"i": i}))
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, 200);
        let name = body["name"].as_str().unwrap().to_owned();
        assert_eq!(name.len(), 20);
        assert_eq!(env.fake.get(&format!("c/{name}/i")), json!(i));
        names.push(name);
    }
    assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
}

#[tokio::test]
async fn method_override_turns_a_post_into_a_patch() {
    let env = Env::new();
    env.fake.set("u", json!({"a": 1, "b": 2}));
    let response = env
        .req(Method::POST, "u")
        .header("X-HTTP-Method-Override", "PATCH")
        .json(&json!({"a": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(env.fake.get("u"), json!({"a": 3, "b": 2}));
    let response = env
        .req(Method::POST, "u/b")
        .header("X-HTTP-Method-Override", "DELETE")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(env.fake.get("u"), json!({"a": 3}));
}

#[tokio::test]
async fn shallow_lists_keys_and_refuses_etags() {
    let env = Env::new();
    env.fake.set("v", json!({"a": {"deep": 1}, "b": "text"}));
    let url = format!("{}&shallow=true", env.fake.url("v"));
    let response = env
        .client
        .get(&url)
        .bearer_auth("owner")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(response).await,
        (200, json!({"a": true, "b": true}))
    );
    let response = env
        .client
        .get(format!("{}&shallow=true", env.fake.url("v/b")))
        .bearer_auth("owner")
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await, (200, json!("text")));
    let response = env
        .client
        .get(&url)
        .bearer_auth("owner")
        .header("X-Firebase-ETag", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
}

/// The fake has its own runtime, so a test on paused tokio time still talks to it.
#[tokio::test(start_paused = true)]
async fn works_from_a_paused_clock_test() {
    let env = Env::new();
    env.put("p", json!(1)).await;
    assert_eq!(env.get("p").await, (200, json!(1)));
}

#[test]
fn the_handle_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<firebase_fake::FakeFirebase>();
    shareable::<firebase_fake::Request>();
    shareable::<firebase_fake::Fault>();
}
