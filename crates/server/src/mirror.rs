//! Wiring of the Firebase mirror: its worker and presence mirror started with the server
//! and stopped after the sockets close, the realtime side's presence as the mirror's
//! source, and the `realtime-server firebase` commands.

use std::sync::Arc;
use std::time::Duration;

use domain::mirror::{MirrorChange, MirrorQueue};
use firebase_sync::reconcile::Scope;
use firebase_sync::{
    FirebaseMirror, MirrorSettings, RealtimeDatabase, RestClient, RoomMember, RoomMembers,
    WorkerOptions,
};
use persistence::{Database, PoolOptions};
use realtime::{BrokerStatus, Presence, PresenceObserver};

use crate::config::Config;

/// How long a starting node listens for the others before deciding it is alone: more
/// than two heartbeats.
const HEAR_OTHERS: Duration = Duration::from_secs(5);
/// How long the mirror gets to finish on shutdown.
const STOP_WITHIN: Duration = Duration::from_secs(5);

/// The realtime side's presence, as the mirror reads it.
struct Members(Arc<Presence>);

impl RoomMembers for Members {
    fn member(&self, video: &str, user: &str) -> Option<RoomMember> {
        let video = domain::VideoId::parse(video).ok()?;
        let member = self.0.member(&realtime::topic_of(&video), user)?;
        Some(RoomMember {
            username: member.first.username,
            connections: member.connections,
            online_at: member.first.online_at,
        })
    }
}

/// Presence changes, passed on to the mirror.
struct Changes(Arc<FirebaseMirror>);

impl PresenceObserver for Changes {
    fn changed(&self, topic: &str, key: &str) {
        if let Some(video) = realtime::video_of(topic) {
            self.0.presence_changed(video, key);
        }
    }
}

/// Starts the mirror of this node.
pub(crate) fn start(
    settings: &MirrorSettings,
    timeout: Duration,
    max_retry: Duration,
    database: &Database,
    presence: &Arc<Presence>,
    redis: Option<Arc<BrokerStatus>>,
) -> Result<Arc<FirebaseMirror>, String> {
    let client: Arc<dyn RealtimeDatabase> = Arc::new(RestClient::new(settings, timeout)?);
    let options = WorkerOptions {
        max_attempts: settings.max_attempts,
        max_backoff: max_retry,
        backoff: Duration::from_secs(1).min(max_retry),
        breaker_max_open: Duration::from_secs(120).min(max_retry),
        breaker_open: Duration::from_secs(5).min(max_retry),
        // A send is at most four requests (a token, the PATCH, a new token on 401, the
        // PATCH again), then two quick statements; a batch sent change by change renews
        // the lease before each. A node that dies holding it keeps every node from
        // sending until it runs out.
        lease: timeout * 4 + Duration::from_secs(5),
        ..WorkerOptions::default()
    };
    let alone = async move {
        match redis {
            None => true,
            Some(status) => {
                tokio::time::sleep(HEAR_OTHERS).await;
                status.is_connected() && status.peers() == 0
            }
        }
    };
    let mirror = FirebaseMirror::start(
        client,
        Arc::new(database.clone()),
        Arc::new(Members(presence.clone())),
        options,
        alone,
    );
    presence.observe(Arc::new(Changes(mirror.clone())));
    tracing::info!(database = %settings.database, credentials = ?settings.credentials, "firebase mirror on");
    Ok(mirror)
}

/// The hook that stops the mirror when the server stops.
pub(crate) fn stop_hook(mirror: Arc<FirebaseMirror>) -> http_api::StopHook {
    Box::new(move || {
        let mirror = mirror.clone();
        Box::pin(async move { mirror.stop(STOP_WITHIN).await })
    })
}

/// The mirror's settings and a database pool, for the `firebase` commands.
fn open(config: &Config) -> Result<(&MirrorSettings, Database), String> {
    let settings = config.firebase.as_ref().ok_or(
        "the Firebase mirror is off: set RTS_FIREBASE_DATABASE_URL (and RTS_FIREBASE_CREDENTIALS)",
    )?;
    let database = Database::connect_lazy(
        &config.database_url,
        PoolOptions {
            max_size: 2,
            timeout: config.database_timeout,
        },
    )
    .map_err(|e| e.to_string())?;
    Ok((settings, database))
}

/// `realtime-server firebase status`: how far behind the mirror is, and what it gave up on.
pub async fn status(config: &Config) -> Result<(), String> {
    let (settings, database) = open(config)?;
    let queue: &dyn MirrorQueue = &database;
    let status = queue.status().await.map_err(|e| e.to_string())?;
    println!("database      {}", settings.database);
    println!("pending       {}", status.pending);
    match status.oldest_pending {
        Some(at) => {
            let behind = (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0;
            println!("behind        {behind:.1} s (oldest pending change written {at})");
        }
        None => println!("behind        0 s"),
    }
    println!("dead letters  {}", status.dead);
    let letters = queue.dead_letters(20).await.map_err(|e| e.to_string())?;
    for letter in &letters {
        println!(
            "  #{} {} after {} attempts: {}",
            letter.id,
            describe(&letter.change),
            letter.attempts,
            letter.error
        );
    }
    if status.dead > 0 {
        println!(
            "fix the cause, then `realtime-server firebase retry-dead` (or `firebase reconcile`)"
        );
    }
    Ok(())
}

fn describe(change: &MirrorChange) -> String {
    match change {
        MirrorChange::CommentSaved { id, video_id, .. } => {
            format!("comment {id} on {video_id} saved")
        }
        MirrorChange::CommentDeleted { id, video_id } => {
            format!("comment {id} on {video_id} deleted")
        }
        MirrorChange::SignedIn { user, .. } => format!("user {user} signed in"),
    }
}

/// `realtime-server firebase retry-dead`: dead letters become pending again.
pub async fn retry_dead(config: &Config) -> Result<(), String> {
    let (_, database) = open(config)?;
    let revived = MirrorQueue::revive_dead(&database)
        .await
        .map_err(|e| e.to_string())?;
    println!("{revived} dead letters pending again (superseded ones stay dead)");
    Ok(())
}

/// `realtime-server firebase reconcile`: repairs Firebase from MariaDB.
pub async fn reconcile(config: &Config, video: Option<&str>, dry_run: bool) -> Result<(), String> {
    let (settings, database) = open(config)?;
    let scope = match video {
        Some(v) => Scope::Video(domain::VideoId::parse(v).map_err(|e| e.to_string())?),
        None => Scope::All,
    };
    let client = RestClient::new(settings, config.firebase_timeout)?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} videos ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(if dry_run { "comparing" } else { "reconciling" });
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let outcome = firebase_sync::reconcile::reconcile(
        &database, &database, &client, scope, dry_run, &progress,
    )
    .await;
    bar.finish_and_clear();
    let summary = outcome.map_err(|e| e.to_string())?;
    println!("{summary}");
    Ok(())
}
