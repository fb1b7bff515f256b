//! Wiring: builds the pool and the app state, binds the listener and starts serving.

use std::net::TcpListener;
use std::sync::Arc;

use auth::{
    AccessTokens, Accounts, InProcessLimiter, PasswordHasher, RolePolicy, SessionTimes, Sessions,
    Stores,
};
use domain::comments::Comments;
use domain::limits::{Quotas, RateKey, RateLimiter};
use domain::mirror::Mirror;
use domain::ports::HealthProbe;
use http_api::{AppState, HttpOptions, RunningServer};
use persistence::{Database, PoolOptions};
use realtime::{BrokerStatus, Hub, LocalBroker, Realtime, RedisBroker, RoomFeed};
use secrecy::ExposeSecret;

use crate::access::{NodeAccess, apply_remote};
use crate::config::Config;
use crate::telemetry;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "cannot listen on {addr}: {source}; stop what listens there or set RTS_HTTP_ADDR to another address and port"
    )]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] persistence::Error),
    #[error(
        "RTS_JWT_SECRET is not set: give it at least {} random bytes, e.g. `export RTS_JWT_SECRET=$(openssl rand -base64 48)`",
        auth::MIN_SECRET_BYTES
    )]
    MissingJwtSecret,
    #[error("invalid setting RTS_JWT_SECRET: {0}")]
    WeakJwtSecret(#[from] auth::WeakSecret),
    #[error("cannot prepare password hashing: {0}")]
    Passwords(#[from] auth::Error),
    #[error("cannot start the HTTP server: {0}")]
    Http(std::io::Error),
    #[error("invalid setting RTS_REDIS_URL: {0}")]
    Redis(#[from] realtime::RedisError),
    #[error("cannot start the Firebase mirror: {0}")]
    Firebase(String),
}

/// Says in the log, without holding up the start, when the database does not answer or
/// lacks migrations: the first failing request should not be where an operator learns it.
fn spawn_database_check(database: Database, config: &Config) {
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

/// Starts the server. MariaDB need not be up: `/readyz` reports it until it is.
/// `handle_signals`: stop gracefully on SIGINT/SIGTERM (the binary), or only through the
/// returned server's stop handle (tests).
pub async fn start(config: &Config, handle_signals: bool) -> Result<RunningServer, StartError> {
    if config.migrate_on_start {
        persistence::ensure_database_exists(&config.database_url).await?;
        let applied = persistence::migrations::run_pending(&config.database_url).await?;
        tracing::info!(count = applied.len(), "migrations applied on start");
    }
    let database = Database::connect_lazy(
        &config.database_url,
        PoolOptions {
            max_size: config.database_pool_size,
            timeout: config.database_timeout,
        },
    )?;
    spawn_database_check(database.clone(), config);
    let secret = config
        .jwt_secret
        .as_ref()
        .ok_or(StartError::MissingJwtSecret)?;
    let access = AccessTokens::new(secret, config.access_token_ttl)?;
    let local_limiter = Arc::new(InProcessLimiter::new(config.rate_limits));
    spawn_limiter_upkeep(&local_limiter);
    let db = Arc::new(database.clone());
    let policy = Arc::new(RolePolicy);
    let hub = Arc::new(Hub::new());
    let (cluster, peers) = match &config.redis_url {
        Some(url) => {
            let (cluster, peers) =
                RedisBroker::start(url.expose_secret(), &config.node_id, hub.clone())?;
            (Some(cluster), Some(peers))
        }
        None => (None, None),
    };
    let broker: Arc<dyn realtime::Broker> = match &cluster {
        Some(cluster) => cluster.clone(),
        None => Arc::new(LocalBroker::new(hub.clone())),
    };
    let redis = cluster.as_ref().map(|c| c.status());
    // With several nodes the limits are counted in Redis, so spreading requests over
    // nodes does not multiply an allowance; each node's own limiter counts while Redis
    // does not answer.
    let limiter: Arc<dyn RateLimiter> = match &cluster {
        Some(cluster) => {
            Arc::new(cluster.shared_limiter(quota_of(config.rate_limits), local_limiter.clone()))
        }
        None => local_limiter,
    };
    let feed = Arc::new(RoomFeed::new(broker.clone()));
    let mirrored = if config.firebase.is_some() {
        Mirror::On
    } else {
        Mirror::Off
    };
    let comments = Comments::new(
        db.clone(),
        policy.clone(),
        limiter.clone(),
        feed,
        db.clone(),
    )
    .mirrored(mirrored);
    let mut realtime_config = config.realtime;
    if realtime_config.max_sockets == 0 {
        realtime_config.max_sockets = socket_budget();
    }
    let realtime = Realtime::new(hub, broker, peers, comments.clone(), realtime_config);
    let firebase = match &config.firebase {
        Some(settings) => Some(
            crate::mirror::start(
                settings,
                config.firebase_timeout,
                config.firebase_max_retry,
                &database,
                realtime.presence(),
                redis.clone(),
            )
            .map_err(StartError::Firebase)?,
        ),
        None => None,
    };
    let stores = Stores {
        transactions: db.clone(),
        users: db.clone(),
        devices: db.clone(),
        tokens: db.clone(),
        audit: db.clone(),
        limiter,
        live: Arc::new(NodeAccess {
            realtime: realtime.clone(),
            cluster: cluster.clone(),
        }),
    };
    let hasher = PasswordHasher::new(password_hash_concurrency())?;
    let sessions = Sessions::new(
        stores,
        hasher,
        access,
        SessionTimes {
            access_ttl: config.access_token_ttl,
            refresh_ttl: config.refresh_token_ttl,
            ..SessionTimes::default()
        },
    )
    .mirrored(mirrored);
    if let Some(cluster) = &cluster {
        let (sessions, realtime) = (sessions.clone(), realtime.clone());
        cluster.on_access_change(move |change| apply_remote(&sessions, &realtime, change));
    }
    crate::access::spawn_recheck(sessions.clone(), realtime.clone(), redis.clone());
    let accounts = Accounts::new(sessions.clone(), policy);
    let metrics = telemetry::prometheus();
    let pool = database.clone();
    let state = AppState {
        sessions,
        accounts,
        comments,
        realtime: realtime.clone(),
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        browser: Arc::new(config.browser.clone()),
        demo: crate::seed::hints(Arc::new(database.clone())),
        probes: std::iter::once(Arc::new(database) as Arc<dyn HealthProbe>)
            .chain(redis.map(|status| Arc::new(RedisProbe(status)) as Arc<dyn HealthProbe>))
            .collect(),
        render_metrics: Arc::new(move || {
            let s = pool.status();
            metrics::gauge!("db_pool_connections", "state" => "open").set(s.open as f64);
            metrics::gauge!("db_pool_connections", "state" => "idle").set(s.idle as f64);
            metrics::gauge!("db_pool_max_connections").set(s.max_size as f64);
            metrics::gauge!("db_pool_waiting").set(s.waiting as f64);
            metrics.run_upkeep();
            metrics.render()
        }),
    };
    let listener = TcpListener::bind(config.http_addr).map_err(|source| StartError::Bind {
        addr: config.http_addr,
        source,
    })?;
    let options = HttpOptions {
        workers: config.http_workers,
        shutdown_timeout: config.http_shutdown_timeout,
        max_body_bytes: config.http_max_body_bytes,
    };
    let server = http_api::serve(listener, state, options, false).map_err(StartError::Http)?;
    if let Some(mirror) = firebase {
        server.on_stop(crate::mirror::stop_hook(mirror));
    }
    if handle_signals {
        spawn_shutdown_on_signal(server.stop_handle());
    }
    tracing::info!(
        addr = %server.local_addr(),
        database = %config.database_url,
        redis = if config.redis_url.is_some() { "configured" } else { "off (single node)" },
        firebase = if config.firebase.is_some() { "mirror on" } else { "off" },
        node = %config.node_id,
        "listening"
    );
    Ok(server)
}

/// At most one argon2 hash per core at a time: each takes ~20 ms of CPU and 19 MiB.
fn password_hash_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Attempts per minute for each kind of limit, as the shared limiter asks.
fn quota_of(quotas: Quotas) -> realtime::QuotaOf {
    Arc::new(move |key: &RateKey| quotas.of(key.limit()))
}

/// Drops rate-limit state for keys that are back to a full quota, once a minute.
fn spawn_limiter_upkeep(limiter: &Arc<InProcessLimiter>) {
    let limiter = Arc::downgrade(limiter);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            match limiter.upgrade() {
                Some(limiter) => limiter.shrink(),
                None => break,
            }
        }
    });
}

/// On SIGINT or SIGTERM: stop accepting, close every socket (1012, so clients reconnect
/// elsewhere), then let in-flight requests finish.
fn spawn_shutdown_on_signal(stop: http_api::StopHandle) {
    tokio::spawn(async move {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = interrupt => {}
            () = terminate => {}
        }
        stop.stop(true).await;
    });
}

/// How many sockets fit under the open-files limit with a reserve left over, so that at
/// the limit upgrades are refused quickly (503) while health checks, REST requests and
/// the database pool still get file descriptors: a tenth of the limit, at least 256.
fn socket_budget() -> usize {
    let limit = rlimit::getrlimit(rlimit::Resource::NOFILE)
        .map_or(1024, |(soft, _)| soft)
        .min(u64::from(u32::MAX)) as usize;
    let reserve = (limit / 10).max(256);
    let budget = limit.saturating_sub(reserve).max(1);
    tracing::info!(
        open_files = limit,
        max_sockets = budget,
        "WebSocket limit set under the open-files limit (RTS_WS_MAX_SOCKETS overrides)"
    );
    budget
}

/// Redis, as the broker sees it. Its absence degrades the node (no cross-node delivery)
/// but never makes it unready: a load balancer must not pull every node at once.
struct RedisProbe(Arc<BrokerStatus>);

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
