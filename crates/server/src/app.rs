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
use realtime::{BrokerStatus, Hub, LocalBroker, Realtime, RedisBroker, Rooms};
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

/// Starts the server. MariaDB need not be up: `/readyz` reports it until it is.
/// `handle_signals`: stop gracefully on SIGINT/SIGTERM (the binary), or only through the
/// returned server's stop handle (tests).
pub async fn start(config: &Config, handle_signals: bool) -> Result<RunningServer, StartError> {
    let database = open_database(config).await?;
    let secret = config
        .jwt_secret
        .as_ref()
        .ok_or(StartError::MissingJwtSecret)?;
    let access = AccessTokens::new(secret, config.access_token_ttl)?;
    let db = Arc::new(database.clone());
    let hub = Arc::new(Hub::new());
    let cluster = Cluster::join(config, &hub)?;
    let limiter = rate_limiter(config, cluster.redis.as_deref());
    let mirrored = if config.firebase.is_some() {
        Mirror::On
    } else {
        Mirror::Off
    };
    let policy = Arc::new(RolePolicy);
    let realtime_config = realtime_config(config);
    let rooms = Rooms::new(hub, cluster.broker, cluster.peers, &realtime_config);
    let comments = Comments::new(
        db.clone(),
        policy.clone(),
        limiter.clone(),
        rooms.feed(),
        db.clone(),
    )
    .mirrored(mirrored);
    let status = cluster.redis.as_ref().map(|c| c.status());
    let realtime = Realtime::new(rooms, comments.clone(), realtime_config);
    let firebase = start_mirror(config, &database, &realtime, status.clone())?;
    let links = Links {
        realtime: &realtime,
        cluster: cluster.redis,
    };
    let sessions = sessions(config, access, &db, limiter, links, mirrored)?;
    crate::access::spawn_recheck(sessions.clone(), realtime.clone(), status.clone());
    let state =
        AppState {
            accounts: Accounts::new(sessions.clone(), policy),
            sessions,
            comments,
            realtime,
            trusted_proxies: Arc::new(config.trusted_proxies.clone()),
            browser: Arc::new(config.browser.clone()),
            demo: crate::seed::hints(Arc::new(database.clone())),
            probes: std::iter::once(Arc::new(database.clone()) as Arc<dyn HealthProbe>)
                .chain(status.map(|status| {
                    Arc::new(crate::health::RedisProbe(status)) as Arc<dyn HealthProbe>
                }))
                .collect(),
            render_metrics: render_metrics(database),
        };
    let server = listen(config, state)?;
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

/// The realtime settings, the socket limit sized from the open-files limit unless set.
fn realtime_config(config: &Config) -> realtime::RealtimeConfig {
    let mut realtime = config.realtime;
    if realtime.max_sockets == 0 {
        realtime.max_sockets = socket_budget();
    }
    realtime
}

/// The pool (migrations applied first when asked); the database need not answer yet.
async fn open_database(config: &Config) -> Result<Database, StartError> {
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
    crate::health::spawn_database_check(database.clone(), config);
    Ok(database)
}

/// The Firebase mirror of this node, when one is configured.
fn start_mirror(
    config: &Config,
    database: &Database,
    realtime: &Realtime,
    redis: Option<Arc<BrokerStatus>>,
) -> Result<Option<Arc<firebase_sync::FirebaseMirror>>, StartError> {
    let Some(settings) = &config.firebase else {
        return Ok(None);
    };
    crate::mirror::start(
        settings,
        config.firebase_timeout,
        config.firebase_max_retry,
        database,
        realtime.presence(),
        redis,
    )
    .map(Some)
    .map_err(StartError::Firebase)
}

/// How this node reaches the others: through Redis when configured, else alone.
struct Cluster {
    broker: Arc<dyn realtime::Broker>,
    redis: Option<Arc<RedisBroker>>,
    peers: Option<realtime::Peers>,
}

impl Cluster {
    fn join(config: &Config, hub: &Arc<Hub>) -> Result<Self, StartError> {
        let Some(url) = &config.redis_url else {
            return Ok(Self {
                broker: Arc::new(LocalBroker::new(hub.clone())),
                redis: None,
                peers: None,
            });
        };
        let (redis, peers) = RedisBroker::start(url.expose_secret(), &config.node_id, hub.clone())?;
        Ok(Self {
            broker: redis.clone(),
            redis: Some(redis),
            peers: Some(peers),
        })
    }
}

/// With several nodes the limits are counted in Redis, so spreading requests over nodes
/// does not multiply an allowance; each node's own limiter counts while Redis does not
/// answer.
fn rate_limiter(config: &Config, redis: Option<&RedisBroker>) -> Arc<dyn RateLimiter> {
    let local = Arc::new(InProcessLimiter::new(config.rate_limits));
    spawn_limiter_upkeep(&local);
    match redis {
        Some(redis) => Arc::new(redis.shared_limiter(quota_of(config.rate_limits), local)),
        None => local,
    }
}

/// Where a change to who may do what goes: this node's sockets, and the other nodes.
struct Links<'a> {
    realtime: &'a Arc<Realtime>,
    cluster: Option<Arc<RedisBroker>>,
}

/// Sign-up, login and tokens, with what they change told to this node's sockets and,
/// through Redis, to the other nodes.
fn sessions(
    config: &Config,
    access: AccessTokens,
    db: &Arc<Database>,
    limiter: Arc<dyn RateLimiter>,
    Links { realtime, cluster }: Links<'_>,
    mirrored: Mirror,
) -> Result<Sessions, StartError> {
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
    let times = SessionTimes {
        access_ttl: config.access_token_ttl,
        refresh_ttl: config.refresh_token_ttl,
        ..SessionTimes::default()
    };
    let sessions = Sessions::new(stores, hasher, access, times).mirrored(mirrored);
    if let Some(cluster) = &cluster {
        let (sessions, realtime) = (sessions.clone(), realtime.clone());
        cluster.on_access_change(move |change| apply_remote(&sessions, &realtime, change));
    }
    Ok(sessions)
}

/// Renders `/metrics`, the pool's gauges read at that moment.
fn render_metrics(pool: Database) -> Arc<dyn Fn() -> String + Send + Sync> {
    let metrics = telemetry::prometheus();
    Arc::new(move || {
        let s = pool.status();
        metrics::gauge!("db_pool_connections", "state" => "open").set(s.open as f64);
        metrics::gauge!("db_pool_connections", "state" => "idle").set(s.idle as f64);
        metrics::gauge!("db_pool_max_connections").set(s.max_size as f64);
        metrics::gauge!("db_pool_waiting").set(s.waiting as f64);
        metrics.run_upkeep();
        metrics.render()
    })
}

/// Binds the listener and starts serving `state`.
fn listen(config: &Config, state: AppState) -> Result<RunningServer, StartError> {
    let listener = TcpListener::bind(config.http_addr).map_err(|source| StartError::Bind {
        addr: config.http_addr,
        source,
    })?;
    let options = HttpOptions {
        workers: config.http_workers,
        shutdown_timeout: config.http_shutdown_timeout,
        max_body_bytes: config.http_max_body_bytes,
    };
    http_api::serve(listener, state, options, false).map_err(StartError::Http)
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
