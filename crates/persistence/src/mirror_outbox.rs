//! `mirror_outbox` rows: the [`MirrorOutbox`] port (a use case's transaction writes one
//! row per change) and the [`MirrorQueue`] port (the mirror's workers take, report on and
//! delete them).
//!
//! One worker sends at a time, in the whole deployment: it holds the single row of
//! `mirror_sender`, a lease with an expiry taken with one conditional UPDATE, while it
//! sends one batch of the oldest pending rows (up to the second change to one subject); a
//! row that arrived is deleted. Order per comment follows from there being one sender
//! going through the rows in id order, and a failed batch keeps its place at the head of
//! the queue while the whole queue waits. So
//! a row costs MariaDB its INSERT, its share of one read and one DELETE by primary key,
//! and nothing per row in between (migration 000013 says what that replaced).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::mysql::Mysql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Datetime, Nullable, Text, Unsigned};
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use domain::mirror::{
    Claim, Claimed, DeadLetter, MirrorChange, MirrorOutbox, MirrorQueue, OutboxStatus,
};
use domain::{Comment, CommentId, UserId, VideoId};
use uuid::Uuid;

use crate::columns::{from_column, now, to_column, uuid_from_column};
use crate::comments;
use crate::database::{Database, with_conn};
use crate::error::{Error, Result};
use crate::schema::mirror_outbox::{self, dsl};

const PENDING: &str = "pending";
const DEAD: &str = "dead";

const COMMENT_SAVED: &str = "comment_saved";
const COMMENT_DELETED: &str = "comment_deleted";
const SIGNED_IN: &str = "signed_in";

/// The width of `last_error`.
const ERROR_MAX_CHARS: usize = 255;

#[derive(Insertable)]
#[diesel(table_name = mirror_outbox, check_for_backend(diesel::mysql::Mysql))]
struct NewRow<'a> {
    subject: Vec<u8>,
    kind: &'static str,
    video_id: Option<&'a str>,
    payload: Option<serde_json::Value>,
    enqueued_at: chrono::NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = mirror_outbox, check_for_backend(diesel::mysql::Mysql))]
struct Row {
    id: u64,
    subject: Vec<u8>,
    kind: String,
    video_id: Option<String>,
    payload: Option<serde_json::Value>,
    attempts: u16,
    enqueued_at: chrono::NaiveDateTime,
    last_error: Option<String>,
}

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = Unsigned<BigInt>)]
    id: u64,
}

fn new_row(change: &MirrorChange) -> NewRow<'_> {
    let at = to_column(now());
    let (kind, video_id, payload) = match change {
        // Sent as the comment is when it is sent (migration 000014).
        MirrorChange::CommentSaved { video_id, .. } => {
            (COMMENT_SAVED, Some(video_id.as_str()), None)
        }
        MirrorChange::CommentDeleted { video_id, .. } => {
            (COMMENT_DELETED, Some(video_id.as_str()), None)
        }
        MirrorChange::SignedIn { at, .. } => (
            SIGNED_IN,
            None,
            Some(serde_json::json!({ "at": domain::wire::timestamp(*at) })),
        ),
    };
    NewRow {
        subject: change.subject().as_bytes().to_vec(),
        kind,
        video_id,
        payload,
        enqueued_at: at,
    }
}

/// What the rows of a batch are about, as it is now: the live comments (each read on its
/// own) and the users' last sign-ins.
#[derive(Default)]
struct Current {
    comments: HashMap<Vec<u8>, std::result::Result<Comment, String>>,
    logins: HashMap<Vec<u8>, chrono::NaiveDateTime>,
}

impl Current {
    async fn of(conn: &mut AsyncMysqlConnection, rows: &[Row]) -> Result<Self> {
        use crate::schema::users;
        let subjects = |kind: &str| -> Vec<Vec<u8>> {
            rows.iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.subject.clone())
                .collect()
        };
        let comments = comments::live_by_ids(conn, &subjects(COMMENT_SAVED)).await?;
        let signed_in = subjects(SIGNED_IN);
        let logins = if signed_in.is_empty() {
            HashMap::new()
        } else {
            users::table
                .filter(users::id.eq_any(&signed_in))
                .filter(users::last_login_at.is_not_null())
                .select((users::id, users::last_login_at.assume_not_null()))
                .load::<(Vec<u8>, chrono::NaiveDateTime)>(conn)
                .await?
                .into_iter()
                .collect()
        };
        Ok(Self { comments, logins })
    }
}

/// The change `row` stands for, sent as things are now: a saved comment as it reads now
/// (deleted since: as deleted), a sign-in as the user's last one. So nothing sent later,
/// a revived dead letter included, is older than what was sent before.
fn change_of(row: &Row, now: &Current) -> Result<MirrorChange> {
    let subject = uuid_from_column(&row.subject)?;
    let video = || -> Result<VideoId> {
        let raw = row.video_id.as_deref().unwrap_or_default();
        VideoId::parse(raw).map_err(Error::corrupt)
    };
    match row.kind.as_str() {
        COMMENT_SAVED => Ok(match now.comments.get(&row.subject) {
            Some(Ok(comment)) => MirrorChange::saved(comment),
            Some(Err(e)) => return Err(Error::corrupt(format!("unreadable comment: {e}"))),
            None => MirrorChange::CommentDeleted {
                id: CommentId::from_uuid(subject),
                video_id: video()?,
            },
        }),
        COMMENT_DELETED => Ok(MirrorChange::CommentDeleted {
            id: CommentId::from_uuid(subject),
            video_id: video()?,
        }),
        SIGNED_IN => {
            let at = match now.logins.get(&row.subject) {
                Some(last) => from_column(*last),
                None => row
                    .payload
                    .as_ref()
                    .and_then(|p| p.get("at"))
                    .and_then(serde_json::Value::as_str)
                    .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                    .ok_or_else(|| Error::corrupt("a sign-in without its time"))?
                    .with_timezone(&Utc),
            };
            Ok(MirrorChange::SignedIn {
                user: UserId::from_uuid(subject),
                at,
            })
        }
        other => Err(Error::corrupt(format!("unknown outbox kind {other:?}"))),
    }
}

/// A dead letter's change for an operator to read: as [`change_of`], but a comment that
/// no longer reads (often why it died) is still named, with no content.
fn letter_change(row: &Row, now: &Current) -> Result<MirrorChange> {
    match change_of(row, now) {
        Err(_) if row.kind == COMMENT_SAVED => Ok(MirrorChange::CommentSaved {
            id: CommentId::from_uuid(uuid_from_column(&row.subject)?),
            video_id: VideoId::parse(row.video_id.as_deref().unwrap_or_default())
                .map_err(Error::corrupt)?,
            comment: serde_json::Value::Null,
        }),
        other => other,
    }
}

/// At most [`ERROR_MAX_CHARS`] characters.
fn clip(error: &str) -> &str {
    match error.char_indices().nth(ERROR_MAX_CHARS) {
        Some((end, _)) => &error[..end],
        None => error,
    }
}

// The lease's times are the database's clock (UTC_TIMESTAMP), one for every node, so a
// node whose clock is off cannot take a lease early or keep it late.

/// Takes the sender lease for `?` microseconds if nobody holds it and the queue is not
/// waiting.
const ACQUIRE: &str = "\
UPDATE mirror_sender \
SET lease = ?, leased_until = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND \
WHERE id = 1 AND (leased_until IS NULL OR leased_until <= UTC_TIMESTAMP(6))";

/// Keeps `lease` for `?` microseconds more, if it still holds the queue.
const RENEW: &str = "\
UPDATE mirror_sender SET leased_until = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND \
WHERE id = 1 AND lease = ?";

/// Ends `lease` (if it still holds the queue) and lets the queue go on in `?`
/// microseconds (0: at once).
const RELEASE: &str = "\
UPDATE mirror_sender SET lease = NULL, leased_until = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND \
WHERE id = 1 AND lease = ?";

/// `d` in whole microseconds, for `INTERVAL ? MICROSECOND`.
fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Dead rows that are the latest change to their subject. One scan of the outbox, which
/// holds only what is still to send: an operator's command, not the worker's.
const LIVE_DEAD: &str = "\
SELECT o.id FROM mirror_outbox o \
JOIN (SELECT subject, MAX(id) AS latest FROM mirror_outbox GROUP BY subject) l \
  ON l.subject = o.subject AND l.latest = o.id \
WHERE o.state = 'dead'";

fn id_list(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// `ids`, if `lease` still holds the queue: deleted (sent), or with this try counted and
/// `error` kept, and with `state` set (a retry keeps them pending).
fn report_sql(n: usize, sent: bool) -> String {
    let held = "JOIN mirror_sender s ON s.id = 1 AND s.lease = ?";
    let ids = id_list(n);
    if sent {
        format!("DELETE o FROM mirror_outbox o {held} WHERE o.id IN ({ids})")
    } else {
        format!(
            "UPDATE mirror_outbox o {held} \
             SET o.attempts = o.attempts + 1, o.last_error = ?, o.state = ?, o.finished_at = ? \
             WHERE o.id IN ({ids})"
        )
    }
}

async fn report(
    conn: &mut AsyncMysqlConnection,
    lease: Uuid,
    ids: &[u64],
    outcome: Option<(&'static str, &str)>,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut query = diesel::sql_query(report_sql(ids.len(), outcome.is_none()))
        .into_boxed::<Mysql>()
        .bind::<Binary, _>(lease.as_bytes().to_vec());
    if let Some((state, error)) = outcome {
        let finished = (state == DEAD).then(|| to_column(now()));
        query = query
            .bind::<Text, _>(clip(error).to_owned())
            .bind::<Text, _>(state)
            .bind::<Nullable<Datetime>, _>(finished);
    }
    for id in ids {
        query = query.bind::<Unsigned<BigInt>, _>(*id);
    }
    query.execute(conn).await?;
    Ok(())
}

async fn release(conn: &mut AsyncMysqlConnection, lease: Uuid, wait: Duration) -> Result<()> {
    diesel::sql_query(RELEASE)
        .bind::<BigInt, _>(micros(wait))
        .bind::<Binary, _>(lease.as_bytes().to_vec())
        .execute(conn)
        .await?;
    Ok(())
}

async fn claim(conn: &mut AsyncMysqlConnection, limit: u32, lease_for: Duration) -> Result<Claim> {
    let lease = Uuid::now_v7();
    let nothing = || Claim {
        lease,
        entries: Vec::new(),
        more: false,
    };
    // The idle poll: one read in primary-key order, no write (it passes over dead letters,
    // which are few unless something is wrong).
    let anything: Option<u64> = dsl::mirror_outbox
        .filter(dsl::state.eq(PENDING))
        .select(dsl::id)
        .first(conn)
        .await
        .optional()?;
    if anything.is_none() {
        return Ok(nothing());
    }
    let acquired = diesel::sql_query(ACQUIRE)
        .bind::<Binary, _>(lease.as_bytes().to_vec())
        .bind::<BigInt, _>(micros(lease_for))
        .execute(conn)
        .await?;
    if acquired == 0 {
        return Ok(nothing());
    }
    match take(conn, lease, limit).await {
        Ok(claim) if claim.entries.is_empty() => {
            release(conn, lease, Duration::ZERO).await?;
            Ok(claim)
        }
        Ok(claim) => Ok(claim),
        Err(e) => {
            // Give the lease back rather than keep every node waiting for it to run out;
            // if the connection is what failed, it runs out instead.
            let _ = release(conn, lease, Duration::ZERO).await;
            Err(e)
        }
    }
}

/// Reads the batch `lease` may send: only once the lease is ours, since a row read before
/// could be sent by the previous holder meanwhile and then again, older than what followed.
async fn take(conn: &mut AsyncMysqlConnection, lease: Uuid, limit: u32) -> Result<Claim> {
    let rows: Vec<Row> = dsl::mirror_outbox
        .filter(dsl::state.eq(PENDING))
        .order(dsl::id.asc())
        .limit(i64::from(limit))
        .select(Row::as_select())
        .load(conn)
        .await?;
    let read = rows.len();
    // A second change to a subject waits for the next batch.
    let mut subjects = HashSet::with_capacity(rows.len());
    let rows: Vec<Row> = rows
        .into_iter()
        .take_while(|row| subjects.insert(row.subject.clone()))
        .collect();
    let cut = rows.len() < read;
    let now = Current::of(conn, &rows).await?;
    let mut entries = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for row in rows {
        match change_of(&row, &now) {
            Ok(change) => entries.push(Claimed {
                id: row.id,
                attempts: u32::from(row.attempts) + 1,
                enqueued_at: from_column(row.enqueued_at),
                change,
            }),
            Err(e) => {
                tracing::error!(id = row.id, error = %e, "unreadable mirror outbox row: dead");
                unreadable.push(row.id);
            }
        }
    }
    report(conn, lease, &unreadable, Some((DEAD, "unreadable row"))).await?;
    Ok(Claim {
        lease,
        more: cut || read >= limit as usize || !unreadable.is_empty(),
        entries,
    })
}

#[async_trait]
impl MirrorOutbox for Database {
    async fn enqueue(&self, change: &MirrorChange) -> domain::Result<()> {
        let row = new_row(change);
        Ok(with_conn!(self, |c| diesel::insert_into(dsl::mirror_outbox)
            .values(&row)
            .execute(c))
        .map(drop)
        .map_err(Error::from)?)
    }
}

#[async_trait]
impl MirrorQueue for Database {
    async fn claim(&self, limit: u32, lease_for: Duration) -> domain::Result<Claim> {
        Ok(with_conn!(self, |c| claim(c, limit, lease_for))?)
    }

    async fn sent(&self, lease: Uuid, ids: &[u64]) -> domain::Result<()> {
        Ok(with_conn!(self, |c| report(c, lease, ids, None))?)
    }

    async fn retry(
        &self,
        lease: Uuid,
        ids: &[u64],
        wait: Duration,
        error: &str,
    ) -> domain::Result<()> {
        Ok(with_conn!(self, |c| async move {
            report(c, lease, ids, Some((PENDING, error))).await?;
            release(c, lease, wait).await
        })?)
    }

    async fn bury(&self, lease: Uuid, ids: &[u64], error: &str) -> domain::Result<()> {
        Ok(with_conn!(self, |c| report(
            c,
            lease,
            ids,
            Some((DEAD, error))
        ))?)
    }

    async fn renew(&self, lease: Uuid, lease_for: Duration) -> domain::Result<bool> {
        let renewed = with_conn!(self, |c| diesel::sql_query(RENEW)
            .bind::<BigInt, _>(micros(lease_for))
            .bind::<Binary, _>(lease.as_bytes().to_vec())
            .execute(c))
        .map_err(Error::from)?;
        Ok(renewed == 1)
    }

    async fn release(&self, lease: Uuid) -> domain::Result<()> {
        Ok(with_conn!(self, |c| release(c, lease, Duration::ZERO))?)
    }

    /// One scan of the outbox, which holds only what is still to send (and dead letters):
    /// small while Firebase keeps up, as long as the backlog while it does not.
    async fn status(&self) -> domain::Result<OutboxStatus> {
        let counts: Vec<(String, i64, Option<chrono::NaiveDateTime>)> =
            with_conn!(self, |c| dsl::mirror_outbox
                .group_by(dsl::state)
                .select((
                    dsl::state,
                    diesel::dsl::count_star(),
                    diesel::dsl::min(dsl::enqueued_at),
                ))
                .load(c))
            .map_err(Error::from)?;
        let mut status = OutboxStatus::default();
        for (state, count, oldest) in counts {
            let count = u64::try_from(count).unwrap_or_default();
            match state.as_str() {
                PENDING => {
                    status.pending = count;
                    status.oldest_pending = oldest.map(from_column);
                }
                DEAD => status.dead = count,
                _ => {}
            }
        }
        Ok(status)
    }

    async fn dead_letters(&self, limit: u32) -> domain::Result<Vec<DeadLetter>> {
        let (rows, live) = with_conn!(self, |c| async move {
            let rows: Vec<Row> = dsl::mirror_outbox
                .filter(dsl::state.eq(DEAD))
                .order(dsl::id.desc())
                .limit(i64::from(limit))
                .select(Row::as_select())
                .load(c)
                .await?;
            let now = Current::of(c, &rows).await?;
            Ok::<_, Error>((rows, now))
        })?;
        let mut letters = Vec::with_capacity(rows.len());
        for row in rows {
            letters.push(DeadLetter {
                id: row.id,
                attempts: u32::from(row.attempts),
                enqueued_at: from_column(row.enqueued_at),
                change: letter_change(&row, &live)?,
                error: row.last_error.clone().unwrap_or_default(),
            });
        }
        Ok(letters)
    }

    async fn revive_dead(&self) -> domain::Result<u64> {
        // A dead change with a later change to its subject is superseded: sending it now
        // would overwrite the newer one.
        let ids: Vec<u64> = with_conn!(self, |c| diesel::sql_query(LIVE_DEAD).load::<Candidate>(c))
            .map_err(Error::from)?
            .into_iter()
            .map(|c| c.id)
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let revived = with_conn!(self, |c| diesel::update(
            dsl::mirror_outbox
                .filter(dsl::id.eq_any(&ids))
                .filter(dsl::state.eq(DEAD))
        )
        .set((
            dsl::state.eq(PENDING),
            dsl::attempts.eq(0),
            dsl::finished_at.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(c))
        .map_err(Error::from)?;
        Ok(revived as u64)
    }
}

#[async_trait]
impl domain::mirror::MirrorSource for Database {
    async fn videos(&self, after: Option<&VideoId>, limit: u32) -> domain::Result<Vec<VideoId>> {
        use crate::schema::comments;
        let mut query = comments::table
            .filter(comments::deleted_at.is_null())
            .select(comments::video_id)
            .distinct()
            .order(comments::video_id.asc())
            .limit(i64::from(limit))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(comments::video_id.gt(after.as_str().to_owned()));
        }
        let ids: Vec<String> = with_conn!(self, |c| query.load(c)).map_err(Error::from)?;
        Ok(ids
            .iter()
            .map(|id| VideoId::parse(id).map_err(Error::corrupt))
            .collect::<Result<_>>()?)
    }
}
