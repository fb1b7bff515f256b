//! One look at a Redis server, for `realtime-server config`: does it answer, and if not,
//! what did it say (a refused password, something that is not Redis, nothing listening).

use std::time::Duration;

use fred::interfaces::ClientLike;
use fred::prelude::{Builder, Config};

/// Connects to `url` once and sends PING; `Err` says why that failed.
pub async fn probe(url: &str, timeout: Duration) -> Result<(), String> {
    let config = Config::from_url(url).map_err(|e| e.to_string())?;
    let client = Builder::from_config(config)
        .with_connection_config(|c| {
            c.connection_timeout = timeout;
            c.internal_command_timeout = timeout;
        })
        .with_performance_config(|p| p.default_command_timeout = timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let outcome = tokio::time::timeout(timeout * 2, async {
        client.init().await?;
        client.ping::<String>(None).await
    })
    .await;
    let _ = tokio::time::timeout(timeout, client.quit()).await;
    match outcome {
        Err(_) => Err(format!("no answer within {} s", (timeout * 2).as_secs())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(_)) => Ok(()),
    }
}
