//! What the node says of its dependencies: a warning at start when the database does not
//! answer or lacks migrations, and Redis's part in `/readyz`.

use std::sync::Arc;

use domain::ports::HealthProbe;
use persistence::Database;
use realtime::BrokerStatus;

use crate::config::Config;

/// Says in the log, without holding up the start, when the database does not answer or
/// lacks migrations: the first failing request should not be where an operator learns it.
pub(crate) fn spawn_database_check(database: Database, config: &Config) {
    let url = config.database_url.clone();
    let within = config.database_timeout;
    tokio::spawn(async move {
        match tokio::time::timeout(within, database.ping()).await {
            Err(_) => tracing::warn!(
                database = %url,
                "the database does not answer within {} ms: requests that need it answer 503 \
                 and /readyz says not ready until it does (check RTS_DATABASE_URL; \
                 `realtime-server config` tests the connection)",
                within.as_millis()
            ),
            Ok(Err(error)) => tracing::warn!(
                database = %url,
                %error,
                "the database does not answer: requests that need it answer 503 and /readyz \
                 says not ready until it does (check RTS_DATABASE_URL; `realtime-server \
                 config` tests the connection)"
            ),
            Ok(Ok(())) => match persistence::migrations::status(&url).await {
                Ok(states) => {
                    let pending = states.iter().filter(|m| !m.applied).count();
                    if pending > 0 {
                        tracing::warn!(
                            pending,
                            "the database lacks {pending} migration(s): run `realtime-server \
                             migrate up` (or set RTS_MIGRATE_ON_START=true)"
                        );
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot read which migrations are applied")
                }
            },
        }
    });
}

/// Redis, as the broker sees it. Its absence degrades the node (no cross-node delivery)
/// but never makes it unready: a load balancer must not pull every node at once.
pub(crate) struct RedisProbe(pub(crate) Arc<BrokerStatus>);

#[async_trait::async_trait]
impl HealthProbe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn required(&self) -> bool {
        false
    }

    async fn check(&self) -> Result<(), String> {
        if self.0.is_connected() {
            return Ok(());
        }
        let mut reason = "unreachable: serving this node's sockets only".to_owned();
        if let Some(error) = self.0.last_error() {
            reason.push_str(&format!(" (last error: {error})"));
        }
        Err(reason)
    }
}
