//! Bench viewers (`realtime-server seed viewers`): many distinct users made straight in the
//! database, a device each, and an access token for each signed with the server's own key,
//! so that `cargo xtask bench ws` can put thousands of distinct users in one room. Signing
//! up over REST costs an argon2 hash per user and is rate-limited; here one hash serves
//! every user, and the rows go in by transactions of a few hundred, several at once.
//! For benchmark and development databases only: the users share one known password.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use auth::{AccessTokens, Password, PasswordHasher};
use domain::ports::{Transaction, UnitOfWork};
use domain::{DeviceId, DeviceRowId, Email, NewUser, Role, UserId, Username};
use persistence::{Database, PoolOptions};
use tokio::sync::mpsc;

use crate::Config;

/// The most viewers one run makes.
pub const MAX_VIEWERS: u32 = 1_000_000;
/// The password every viewer shares (they sign in with their tokens).
pub const VIEWER_PASSWORD: &str = "viewer-password";
/// The device id every viewer's device has.
pub const VIEWER_DEVICE: &str = "bench-viewer";
/// Users per transaction: one commit (and one log flush) per chunk instead of per row.
const CHUNK: usize = 250;
/// Transactions running at once, each on a connection of its own.
const WORKERS: usize = 8;
/// A progress line after this many users.
const PROGRESS_EVERY: usize = 2_500;

/// What to make: `count` viewers named `viewer-<run>-<i>`, the first `moderators` of them
/// moderators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewersPlan {
    count: usize,
    moderators: usize,
    run: String,
}

impl ViewersPlan {
    /// Checks the numbers and the run name; without a run name, one comes from the clock
    /// (8 base-36 digits of the current millisecond), so runs do not collide.
    pub fn new(count: u32, moderators: u32, run: Option<String>) -> Result<Self, String> {
        if !(1..=MAX_VIEWERS).contains(&count) {
            return Err(format!(
                "--count must be 1 to {MAX_VIEWERS} viewers (got {count})"
            ));
        }
        if moderators > count {
            return Err(format!(
                "--moderators ({moderators}) cannot be more than --count ({count})"
            ));
        }
        let run = run.unwrap_or_else(clock_run);
        let valid = !run.is_empty()
            && run.len() <= 10
            && run
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid {
            return Err(format!(
                "--run must be 1 to 10 lowercase letters and digits (got {run:?})"
            ));
        }
        Ok(Self {
            count: count as usize,
            moderators: moderators as usize,
            run,
        })
    }

    /// The username of viewer `i` (also its email's local part).
    pub fn username(&self, i: usize) -> String {
        format!("viewer-{}-{i}", self.run)
    }

    fn role(&self, i: usize) -> Role {
        if i < self.moderators {
            Role::Moderator
        } else {
            Role::User
        }
    }
}

/// The last 8 base-36 digits of the current Unix millisecond.
fn clock_run() -> String {
    let mut ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut digits = Vec::with_capacity(8);
    for _ in 0..8 {
        digits.push(char::from_digit((ms % 36) as u32, 36).unwrap_or('0'));
        ms /= 36;
    }
    digits.iter().rev().collect()
}

/// `realtime-server seed viewers`: makes the plan's viewers in the configured database and
/// writes their access tokens, one per line in viewer order, to `out`.
pub async fn seed(config: &Config, plan: &ViewersPlan, out: &Path) -> Result<(), String> {
    let secret = config.jwt_secret.as_ref().ok_or(
        "RTS_JWT_SECRET is not set: the tokens are signed with the key the server will check them with",
    )?;
    let access = AccessTokens::new(secret, config.access_token_ttl)
        .map_err(|e| format!("invalid setting RTS_JWT_SECRET: {e}"))?;
    // Fail on an unwritable path before any row is made.
    std::fs::write(out, "").map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let options = PoolOptions {
        max_size: WORKERS,
        ..PoolOptions::default()
    };
    let db = Database::connect_lazy(&config.database_url, options).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let tokens = make(&db, &access, plan, |line| println!("seed: {line}")).await?;
    let mut text = tokens.join("\n");
    text.push('\n');
    std::fs::write(out, text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!(
        "seed: done: {} viewers (viewer-{}-0 to viewer-{}-{}, {} moderators), tokens in {} (valid {} s); {:.1} s",
        plan.count,
        plan.run,
        plan.run,
        plan.count - 1,
        plan.moderators,
        out.display(),
        access.ttl().as_secs(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What every worker shares: the plan, the one password hash, and where the work stands.
struct Job {
    plan: ViewersPlan,
    password_hash: String,
    device: DeviceId,
    /// The first viewer of the next chunk to take.
    next: AtomicUsize,
    /// A worker failed: the others stop after their chunk.
    failed: AtomicBool,
}

/// One viewer made: its user, its device and its role.
struct Made {
    index: usize,
    user: UserId,
    device: DeviceRowId,
    role: Role,
}

/// Makes the plan's viewers in `db` (one argon2 hash for all, [`WORKERS`] transactions at
/// once), calling `progress` every few thousand; returns their access tokens in order.
pub async fn make(
    db: &Database,
    access: &AccessTokens,
    plan: &ViewersPlan,
    progress: impl Fn(&str),
) -> Result<Vec<String>, String> {
    let fail = |e: auth::Error| format!("cannot hash the viewers' password: {e}");
    let hasher = PasswordHasher::new(1).map_err(fail)?;
    let password = Password::parse(VIEWER_PASSWORD).map_err(|e| e.to_string())?;
    let job = Arc::new(Job {
        plan: plan.clone(),
        password_hash: hasher.hash(&password).await.map_err(fail)?,
        device: DeviceId::parse(VIEWER_DEVICE).map_err(|e| e.to_string())?,
        next: AtomicUsize::new(0),
        failed: AtomicBool::new(false),
    });
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WORKERS.min(plan.count.div_ceil(CHUNK)) {
        workers.spawn(worker(db.clone(), job.clone(), done_tx.clone()));
    }
    drop(done_tx);
    let (started, mut done, mut shown) = (Instant::now(), 0, 0);
    while let Some(n) = done_rx.recv().await {
        done += n;
        if done - shown >= PROGRESS_EVERY || done == plan.count {
            shown = done;
            progress(&format!(
                "viewers [{done}/{}] {:.1} s",
                plan.count,
                started.elapsed().as_secs_f64()
            ));
        }
    }
    let mut made = Vec::with_capacity(plan.count);
    while let Some(joined) = workers.join_next().await {
        made.extend(joined.map_err(|e| format!("a seeding task failed: {e}"))??);
    }
    made.sort_unstable_by_key(|m| m.index);
    made.iter()
        .map(|m| access.issue(m.user, m.device, m.role))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot sign a token: {e}"))
}

/// Takes chunks of viewers until none is left (or another worker failed), each made in a
/// transaction of its own; says how many it made after each.
async fn worker(
    db: Database,
    job: Arc<Job>,
    done: mpsc::UnboundedSender<usize>,
) -> Result<Vec<Made>, String> {
    let mut made = Vec::new();
    while !job.failed.load(Ordering::Relaxed) {
        let start = job.next.fetch_add(CHUNK, Ordering::Relaxed);
        if start >= job.plan.count {
            break;
        }
        let range = start..(start + CHUNK).min(job.plan.count);
        match chunk(&db, &job, range.clone()).await {
            Ok(chunk) => {
                made.extend(chunk);
                let _ = done.send(range.len());
            }
            Err(e) => {
                job.failed.store(true, Ordering::Relaxed);
                let first = job.plan.username(range.start);
                return Err(format!(
                    "seeding viewers failed at {first}: {e} (did you run `migrate`? was this --run used before?)"
                ));
            }
        }
    }
    Ok(made)
}

/// Viewers `range`, committed together.
async fn chunk(db: &Database, job: &Job, range: Range<usize>) -> domain::Result<Vec<Made>> {
    let tx = db.begin().await?;
    let made = async {
        let mut made = Vec::with_capacity(range.len());
        for i in range {
            made.push(viewer(&*tx, job, i).await?);
        }
        Ok(made)
    }
    .await;
    tx.finish(made).await
}

/// Viewer `i`: its user and its device.
async fn viewer(tx: &dyn Transaction, job: &Job, i: usize) -> domain::Result<Made> {
    let name = job.plan.username(i);
    let role = job.plan.role(i);
    let user = tx
        .users()
        .insert(NewUser {
            email: Email::parse(&format!("{name}@bench.example.com"))?,
            username: Username::parse(&name)?,
            password_hash: job.password_hash.clone(),
            role,
        })
        .await?;
    let info = serde_json::json!({ "seeded": "bench viewer" });
    let device = tx.devices().upsert(user.id, &job.device, info).await?;
    Ok(Made {
        index: i,
        user: user.id,
        device: device.id,
        role,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use auth::{AccessTokens, InProcessLimiter, PasswordHasher, SessionTimes, Sessions, Stores};
    use domain::Role;
    use domain::ports::NoLiveConnections;
    use persistence::test_db::TestDatabase;
    use secrecy::SecretString;

    use super::{ViewersPlan, make};

    fn keys() -> AccessTokens {
        let secret = SecretString::from("seed-viewers-test-secret-0123456789abcdef");
        AccessTokens::new(&secret, Duration::from_secs(600)).expect("long enough")
    }

    /// The sessions service the socket handshake asks, over `db`.
    fn sessions(db: &TestDatabase) -> Sessions {
        let db = Arc::new(db.database().clone());
        let stores = Stores {
            transactions: db.clone(),
            users: db.clone(),
            devices: db.clone(),
            tokens: db.clone(),
            audit: db,
            limiter: Arc::new(InProcessLimiter::new(Default::default())),
            live: Arc::new(NoLiveConnections),
        };
        let hasher = PasswordHasher::new(1).expect("hasher");
        Sessions::new(stores, hasher, keys(), SessionTimes::default())
    }

    #[tokio::test]
    async fn every_viewer_is_a_distinct_user_whose_token_opens_a_socket() {
        let db = TestDatabase::new().await;
        let plan = ViewersPlan::new(600, 2, Some("t1".into())).expect("valid plan");
        let lines = std::sync::Mutex::new(Vec::new());
        let tokens = make(db.database(), &keys(), &plan, |l| {
            lines.lock().expect("lock").push(l.to_owned())
        })
        .await
        .expect("seeded");
        assert_eq!(tokens.len(), 600);
        let lines = lines.into_inner().expect("lock");
        assert_eq!(
            lines
                .last()
                .map(String::as_str)
                .unwrap_or("")
                .split(' ')
                .nth(1),
            Some("[600/600]")
        );
        let sessions = sessions(&db);
        let mut users = std::collections::BTreeSet::new();
        for (i, token) in tokens.iter().enumerate().filter(|(i, _)| i % 50 < 3) {
            let (actor, admitted, _) = sessions
                .authenticate_socket(token)
                .await
                .expect("the handshake admits the token");
            assert_eq!(&*admitted.device_id, super::VIEWER_DEVICE);
            let expected = if i < 2 { Role::Moderator } else { Role::User };
            assert_eq!(
                (actor.username.as_str(), actor.role),
                (plan.username(i).as_str(), expected)
            );
            users.insert(actor.user_id);
        }
        assert_eq!(users.len(), 36, "one user per viewer");
        assert_eq!(db.count("SELECT COUNT(*) FROM user_devices").await, 600);
        let again = make(db.database(), &keys(), &plan, |_| {}).await;
        assert!(
            again.is_err_and(|e| e.contains("viewer-t1-")),
            "a run name is used once"
        );
    }

    #[test]
    fn plans_are_checked() {
        assert!(ViewersPlan::new(0, 0, None).is_err());
        assert!(ViewersPlan::new(1_000_001, 0, None).is_err());
        assert!(ViewersPlan::new(5, 6, None).is_err());
        assert!(ViewersPlan::new(5, 0, Some("Bad-Run".into())).is_err());
        assert!(ViewersPlan::new(5, 0, Some(String::new())).is_err());
        let plan = ViewersPlan::new(1_000_000, 5, None).expect("valid");
        assert!(plan.username(999_999).len() <= 32);
        assert!(domain::Username::parse(&plan.username(999_999)).is_ok());
    }
}
