//! Credentials: the token endpoint, access tokens, expiry, the legacy secret, `Bearer owner`.

use firebase_fake::DATABASE_SCOPE;
use serde_json::json;

use crate::support::{Env, assertion, json_of, now_secs, token_request};

#[tokio::test]
async fn requests_need_a_credential() {
    let env = Env::new();
    let url = env.fake.url("a");
    let response = env.client.get(&url).send().await.unwrap();
    assert_eq!(
        json_of(response).await,
        (401, json!({"error": "Permission denied"}))
    );
    let response = env
        .client
        .get(&url)
        .bearer_auth("made-up")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 401);
    assert!(body["error"].is_string());
    let response = env
        .client
        .get(format!("{url}&auth=wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let secret = env.fake.legacy_secret().to_owned();
    let response = env
        .client
        .get(format!("{url}&auth={secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    env.fake.set_open(true);
    let response = env.client.get(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn a_signed_assertion_buys_a_token_that_works_until_expired() {
    let env = Env::new();
    let (status, body) =
        token_request(&env.client, &env.fake, &assertion(&env.fake, json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(env.fake.tokens_issued(), 1);

    let url = env.fake.url("a");
    let response = env
        .client
        .put(&url)
        .bearer_auth(&token)
        .json(&json!(1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let response = env
        .client
        .get(format!("{url}&access_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await, (200, json!(1)));

    env.fake.expire_tokens();
    let response = env
        .client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);

    let (status, body) =
        token_request(&env.client, &env.fake, &assertion(&env.fake, json!({}))).await;
    assert_eq!(status, 200);
    let fresh = body["access_token"].as_str().unwrap();
    assert_ne!(fresh, token);
    let response = env
        .client
        .get(&url)
        .bearer_auth(fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(env.fake.tokens_issued(), 2);
}

#[tokio::test]
async fn bad_assertions_get_invalid_grant() {
    let env = Env::new();
    let now = now_secs();
    for overrides in [
        json!({"scope": DATABASE_SCOPE}),
        json!({"aud": "https://oauth2.googleapis.com/token"}),
        json!({"iss": "someone@example.com"}),
        json!({"iat": now, "exp": now + 3601}),
        json!({"iat": now - 4000, "exp": now - 400}),
    ] {
        let (status, body) = token_request(
            &env.client,
            &env.fake,
            &assertion(&env.fake, overrides.clone()),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{overrides}"
        );
        assert!(body["error_description"].is_string());
    }
    let good = assertion(&env.fake, json!({}));
    let mut parts: Vec<&str> = good.split('.').collect();
    let other = assertion(&env.fake, json!({"exp": now + 10}));
    parts[2] = other.split('.').nth(2).unwrap();
    let (status, body) = token_request(&env.client, &env.fake, &parts.join(".")).await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Invalid JWT Signature."))
    );

    let response = env
        .client
        .post(env.fake.token_uri())
        .form(&[
            ("grant_type", "client_credentials"),
            ("assertion", good.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(env.fake.tokens_issued(), 0);
}

#[tokio::test]
async fn the_key_file_names_the_fake() {
    let env = Env::new();
    let key: serde_json::Value = serde_json::from_str(&env.fake.service_account_json()).unwrap();
    assert_eq!(key["type"], "service_account");
    assert_eq!(key["token_uri"], env.fake.token_uri());
    assert!(
        key["private_key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert_eq!(env.fake.namespace(), "fake-db");
    assert_eq!(
        env.fake.database_url(),
        format!("http://127.0.0.1:{}/?ns=fake-db", env.fake.port())
    );
}
