//! Demo data for development: users with known passwords (one per role) and a few videos
//! with comments. Idempotent: running it again changes nothing. [`viewers`] makes bench
//! users in bulk instead (`realtime-server seed viewers`).

pub mod viewers;

use domain::ports::{CommentStore, DemoData, UserStore};
use domain::{CommentBody, Email, NewComment, NewUser, PageRequest, Role, Username, VideoId};
use persistence::Database;

use auth::{Password, PasswordHasher};

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = "demo-password";

/// Demo users: `<name>@example.com` / [`DEMO_PASSWORD`].
pub const DEMO_USERS: [(&str, Role); 4] = [
    ("alice", Role::Admin),
    ("bob", Role::Moderator),
    ("carol", Role::User),
    ("dave", Role::User),
];

/// Demo videos, each seeded with [`COMMENTS_PER_VIDEO`] comments.
pub const DEMO_VIDEOS: [&str; 3] = ["demo-video-1", "demo-video-2", "demo-video-3"];
pub const COMMENTS_PER_VIDEO: usize = 12;

const LINES: [&str; 6] = [
    "First!",
    "This part always gets me.",
    "Who else is watching in 2026?",
    "The sound design here is great.",
    "Can someone explain what just happened?",
    "Came back to watch this again.",
];

/// What the web client may show once this seed has run (`GET /api/demo`).
pub fn hints(seeded: std::sync::Arc<dyn DemoData>) -> http_api::DemoHints {
    http_api::DemoHints {
        seeded,
        password: DEMO_PASSWORD,
        users: DEMO_USERS
            .iter()
            .map(|(name, role)| (format!("{name}@example.com"), *role))
            .collect(),
        videos: DEMO_VIDEOS.iter().map(|v| (*v).to_owned()).collect(),
    }
}

/// What a seed run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub users_created: usize,
    pub users_updated: usize,
    pub comments_created: usize,
}

/// Seeds `db`, calling `progress` with one line per step.
pub async fn run(db: &Database, progress: impl Fn(&str)) -> domain::Result<SeedReport> {
    let mut report = SeedReport::default();
    let hasher = PasswordHasher::new(2)?;
    let password = Password::parse(DEMO_PASSWORD)?;
    let mut authors = Vec::new();
    for (i, (name, role)) in DEMO_USERS.iter().enumerate() {
        let email = Email::parse(&format!("{name}@example.com"))?;
        let user = match db.by_email(&email).await? {
            Some(user) => {
                if user.role != *role || !user.is_active {
                    db.set_role(user.id, *role).await?;
                    db.set_active(user.id, true).await?;
                    report.users_updated += 1;
                }
                user
            }
            None => {
                let user = UserStore::insert(
                    db,
                    NewUser {
                        email,
                        username: Username::parse(name)?,
                        password_hash: hasher.hash(&password).await?,
                        role: *role,
                    },
                )
                .await?;
                report.users_created += 1;
                user
            }
        };
        progress(&format!(
            "users   [{}/{}] {name}@example.com ({role})",
            i + 1,
            DEMO_USERS.len()
        ));
        authors.push((user.id, user.username));
    }
    for (i, video) in DEMO_VIDEOS.iter().enumerate() {
        let video = VideoId::parse(video)?;
        let existing = db
            .newest_for_video(&video, PageRequest::new(1, None)?)
            .await?;
        let verdict = if existing.items.is_empty() {
            for n in 0..COMMENTS_PER_VIDEO {
                let (user_id, username) = &authors[n % authors.len()];
                CommentStore::insert(
                    db,
                    NewComment {
                        video_id: video.clone(),
                        user_id: *user_id,
                        username: username.clone(),
                        body: CommentBody::parse(LINES[n % LINES.len()])?,
                        client_id: None,
                    },
                )
                .await?;
            }
            report.comments_created += COMMENTS_PER_VIDEO;
            format!("{COMMENTS_PER_VIDEO} comments created")
        } else {
            "already has comments, left alone".to_owned()
        };
        progress(&format!(
            "videos  [{}/{}] {video}: {verdict}",
            i + 1,
            DEMO_VIDEOS.len()
        ));
    }
    DemoData::mark_seeded(db).await?;
    Ok(report)
}
