//! Reconciliation: compares the comments in MariaDB (the source of truth) with those in
//! Firebase, video by video, and repairs the difference: comments missing from Firebase
//! or different there are written, comments Firebase has and MariaDB does not (deleted, or
//! never there) are removed.
//!
//! Firebase is read before MariaDB, so a comment posted meanwhile is at worst written
//! twice, never removed. An edit that lands between the MariaDB read and the repair can be
//! overwritten with its previous text; the outbox rewrites it only on its next change, so
//! run reconciliation when the mirror is quiet, or twice.

use std::collections::{BTreeMap, BTreeSet};

use domain::VideoId;
use domain::mirror::MirrorSource;
use domain::ports::CommentStore;
use serde_json::{Map, Value};

use crate::client::{RealtimeDatabase, RtdbError};
use crate::layout;

/// Comments read from MariaDB per query, and paths per repairing PATCH.
const PAGE: u16 = 1000;

/// What reconciliation found (and, unless it was a dry run, repaired).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciliation {
    pub videos: u64,
    /// Comments compared (live in MariaDB).
    pub comments: u64,
    pub missing: u64,
    pub stale: u64,
    pub extra: u64,
    pub dry_run: bool,
}

impl Reconciliation {
    pub fn repairs(&self) -> u64 {
        self.missing + self.stale + self.extra
    }
}

impl std::fmt::Display for Reconciliation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = if self.dry_run {
            "would repair"
        } else {
            "repaired"
        };
        write!(
            f,
            "{} videos, {} comments compared; {verb} {} missing, {} stale, {} extra",
            self.videos, self.comments, self.missing, self.stale, self.extra
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("MariaDB: {0}")]
    Database(#[from] domain::Error),
    #[error("Firebase: {0}")]
    Firebase(#[from] RtdbError),
}

/// Which videos to reconcile.
#[derive(Clone, Debug)]
pub enum Scope {
    All,
    Video(VideoId),
}

/// Reconciles the comments of `scope`; `progress(done, total)` is called after each video.
pub async fn reconcile(
    comments: &dyn CommentStore,
    source: &dyn MirrorSource,
    firebase: &dyn RealtimeDatabase,
    scope: Scope,
    dry_run: bool,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Reconciliation, ReconcileError> {
    let videos = match scope {
        Scope::Video(video) => vec![video],
        Scope::All => every_video(source, firebase).await?,
    };
    let mut summary = Reconciliation {
        dry_run,
        ..Reconciliation::default()
    };
    let total = videos.len() as u64;
    for (done, video) in videos.iter().enumerate() {
        reconcile_video(comments, firebase, video, dry_run, &mut summary).await?;
        summary.videos += 1;
        progress(done as u64 + 1, total);
    }
    Ok(summary)
}

/// The videos with comments in either place.
async fn every_video(
    source: &dyn MirrorSource,
    firebase: &dyn RealtimeDatabase,
) -> Result<Vec<VideoId>, ReconcileError> {
    let mut all: BTreeSet<String> = firebase
        .children("videos")
        .await?
        .into_iter()
        .filter(|v| VideoId::parse(v).is_ok())
        .collect();
    let mut after: Option<VideoId> = None;
    loop {
        let page = source.videos(after.as_ref(), u32::from(PAGE)).await?;
        let Some(last) = page.last().cloned() else {
            break;
        };
        all.extend(page.iter().map(|v| v.as_str().to_owned()));
        after = Some(last);
    }
    Ok(all
        .into_iter()
        .filter_map(|v| VideoId::parse(&v).ok())
        .collect())
}

async fn reconcile_video(
    comments: &dyn CommentStore,
    firebase: &dyn RealtimeDatabase,
    video: &VideoId,
    dry_run: bool,
    summary: &mut Reconciliation,
) -> Result<(), ReconcileError> {
    // Firebase first (see the module's note).
    let mirrored: Map<String, Value> = match firebase.read(&layout::comments(video)).await? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let mut stored: BTreeMap<String, Value> = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = comments.after_position(video, after, PAGE).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.position;
        for comment in &page {
            stored.insert(
                comment.id.to_string(),
                serde_json::to_value(comment).unwrap_or_default(),
            );
        }
        if page.len() < usize::from(PAGE) {
            break;
        }
    }
    summary.comments += stored.len() as u64;
    let mut repairs = Map::new();
    for (id, value) in &stored {
        match mirrored.get(id) {
            None => summary.missing += 1,
            Some(there) if there != value => summary.stale += 1,
            Some(_) => continue,
        }
        repairs.insert(format!("{}/{id}", layout::comments(video)), value.clone());
    }
    for id in mirrored.keys().filter(|id| !stored.contains_key(*id)) {
        summary.extra += 1;
        repairs.insert(format!("{}/{id}", layout::comments(video)), Value::Null);
    }
    if dry_run || repairs.is_empty() {
        return Ok(());
    }
    let paths: Vec<(String, Value)> = repairs.into_iter().collect();
    for chunk in paths.chunks(usize::from(PAGE)) {
        let updates: Map<String, Value> = chunk.iter().cloned().collect();
        firebase.update(&updates).await?;
    }
    Ok(())
}
