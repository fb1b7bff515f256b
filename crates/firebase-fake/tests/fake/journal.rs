//! The journal records every request with its path, query, credential, body and status;
//! reset empties the fake.

use firebase_fake::{Auth, Endpoint, Fault};
use reqwest::Method;
use serde_json::json;

use crate::support::{Env, assertion, token_request};

#[tokio::test]
async fn every_request_is_journaled_in_order() {
    let env = Env::new();
    env.put("videos/v 1/c", json!({"t": 1})).await;
    let secret = env.fake.legacy_secret().to_owned();
    let url = format!("{}&auth={secret}&print=silent", env.fake.url("videos"));
    env.client.delete(url).send().await.unwrap();
    env.client.get(env.fake.url("")).send().await.unwrap();
    env.fake.inject(Fault::status(500));
    env.client
        .get(env.fake.url("x"))
        .bearer_auth("tok")
        .send()
        .await
        .unwrap();
    token_request(&env.client, &env.fake, &assertion(&env.fake, json!({}))).await;

    let journal = env.fake.journal();
    let summary: Vec<(&str, &str, u16)> = journal
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.status))
        .collect();
    assert_eq!(
        summary,
        [
            ("PUT", "videos/v 1/c", 200),
            ("DELETE", "videos", 204),
            ("GET", "", 401),
            ("GET", "x", 500),
            ("POST", "token", 200),
        ]
    );
    assert!(journal[0].is("PUT", "videos/v 1/c"));
    assert_eq!(journal[0].auth, Auth::Owner);
    assert_eq!(journal[0].body, Some(json!({"t": 1})));
    assert_eq!(journal[0].query_param("ns"), Some("fake-db"));
    assert_eq!(journal[1].auth, Auth::Secret);
    assert_eq!(journal[1].query_param("print"), Some("silent"));
    assert_eq!(journal[2].auth, Auth::None);
    assert_eq!(journal[3].auth, Auth::Bearer("tok".to_owned()));
    assert_eq!(journal[4].endpoint, Endpoint::Token);
    assert_eq!(
        journal[4]
            .body
            .as_ref()
            .and_then(|b| b["grant_type"].as_str()),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    assert!(
        journal
            .windows(2)
            .all(|w| w[0].id < w[1].id && w[0].at <= w[1].at)
    );

    env.fake.reset();
    assert!(env.fake.journal().is_empty());
    assert_eq!(env.fake.tree(), json!(null));
    assert_eq!(env.fake.tokens_issued(), 0);
}

#[tokio::test]
async fn reset_keeps_issued_tokens_valid() {
    let env = Env::new();
    let token = env.fake.issue_token();
    env.fake.set("a", json!(1));
    env.fake.reset();
    let response = env
        .req(Method::GET, "a")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}
