//! Users for the sockets, signed up over REST.

use serde_json::{Value, json};

/// Signs up `n` users over REST; returns their access tokens.
pub(super) async fn users(base: &str, n: usize) -> Result<Vec<String>, String> {
    let client = reqwest::Client::new();
    let run = std::process::id();
    let mut tokens = Vec::with_capacity(n);
    let mut tasks = Vec::new();
    for i in 0..n {
        let (client, url) = (client.clone(), format!("{base}/api/auth/register"));
        tasks.push(tokio::spawn(async move {
            let body = json!({
                "email": format!("ws{run}x{i}@example.com"),
                "username": format!("ws{run}x{i}"),
                "password": "bench-password",
                "device_id": "loadgen",
            });
            let res = client
                .post(url)
                .json(&body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let v: Value = res.json().await.map_err(|e| e.to_string())?;
            v["access_token"]
                .as_str()
                .map(str::to_owned)
                .ok_or(format!("no token: {v}"))
        }));
    }
    for t in tasks {
        tokens.push(t.await.map_err(|e| e.to_string())??);
    }
    Ok(tokens)
}
