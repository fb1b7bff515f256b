//! `mirror_outbox` rows: the [`MirrorOutbox`] port (a use case's transaction writes one
//! row per change) and the [`MirrorQueue`] port (the mirror's workers lease, report on and
//! prune them).
//!
//! Leasing takes no table lock and holds no transaction: a worker reads candidate ids, then
//! leases those still free with one conditional UPDATE, so two workers racing for a row
//! cannot both win it. Of the pending rows about one subject only the oldest is a
//! candidate, so a later change to a comment waits until the earlier one is sent (or given
//! up on), and an edit never overtakes an older one.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::mysql::Mysql;
use diesel::prelude::*;
use diesel::sql_types::{Binary, Datetime, Unsigned};
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use domain::mirror::{
    Claim, Claimed, DeadLetter, MirrorChange, MirrorOutbox, MirrorQueue, OutboxStatus,
};
use domain::{Comment, CommentId, UserId, VideoId};
use uuid::Uuid;

use crate::columns::{from_column, now, to_column, uuid_from_column};
use crate::database::{Database, with_conn};
use crate::error::{Error, Result};
use crate::schema::mirror_outbox::{self, dsl};

const PENDING: &str = "pending";
const SENT: &str = "sent";
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
    due_at: chrono::NaiveDateTime,
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
    #[diesel(sql_type = Unsigned<diesel::sql_types::BigInt>)]
    id: u64,
}

fn new_row(change: &MirrorChange) -> NewRow<'_> {
    let at = to_column(now());
    let (kind, video_id, payload) = match change {
        MirrorChange::CommentSaved {
            video_id, comment, ..
        } => (
            COMMENT_SAVED,
            Some(video_id.as_str()),
            Some(comment.clone()),
        ),
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
        due_at: at,
        enqueued_at: at,
    }
}

/// The payload of a saved comment's row, as the text the column holds.
pub(crate) fn saved_payload(comment: &Comment) -> String {
    new_row(&MirrorChange::saved(comment))
        .payload
        .unwrap_or_default()
        .to_string()
}

fn change_of(row: &Row) -> Result<MirrorChange> {
    let subject = uuid_from_column(&row.subject)?;
    let video = || -> Result<VideoId> {
        let raw = row.video_id.as_deref().unwrap_or_default();
        VideoId::parse(raw).map_err(Error::corrupt)
    };
    match row.kind.as_str() {
        COMMENT_SAVED => Ok(MirrorChange::CommentSaved {
            id: CommentId::from_uuid(subject),
            video_id: video()?,
            comment: row
                .payload
                .clone()
                .filter(serde_json::Value::is_object)
                .ok_or_else(|| Error::corrupt("a saved comment without its comment"))?,
        }),
        COMMENT_DELETED => Ok(MirrorChange::CommentDeleted {
            id: CommentId::from_uuid(subject),
            video_id: video()?,
        }),
        SIGNED_IN => {
            let at = row
                .payload
                .as_ref()
                .and_then(|p| p.get("at"))
                .and_then(serde_json::Value::as_str)
                .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                .ok_or_else(|| Error::corrupt("a sign-in without its time"))?;
            Ok(MirrorChange::SignedIn {
                user: UserId::from_uuid(subject),
                at: at.with_timezone(&Utc),
            })
        }
        other => Err(Error::corrupt(format!("unknown outbox kind {other:?}"))),
    }
}

/// At most [`ERROR_MAX_CHARS`] characters.
fn clip(error: &str) -> &str {
    match error.char_indices().nth(ERROR_MAX_CHARS) {
        Some((end, _)) => &error[..end],
        None => error,
    }
}

fn after(d: Duration) -> chrono::NaiveDateTime {
    let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    to_column(
        now()
            .checked_add_signed(d)
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

/// Due, free, and the oldest pending row of its subject.
const CANDIDATES: &str = "\
SELECT o.id FROM mirror_outbox o \
WHERE o.state = 'pending' AND o.due_at <= ? \
  AND (o.leased_until IS NULL OR o.leased_until <= ?) \
  AND NOT EXISTS (SELECT 1 FROM mirror_outbox e \
                  WHERE e.subject = o.subject AND e.state = 'pending' AND e.id < o.id) \
ORDER BY o.id LIMIT ?";

/// Dead rows that are the latest change to their subject.
const LIVE_DEAD: &str = "\
SELECT o.id FROM mirror_outbox o \
WHERE o.state = 'dead' \
  AND NOT EXISTS (SELECT 1 FROM mirror_outbox l WHERE l.subject = o.subject AND l.id > o.id)";

/// Leases the rows of `n` ids that are still free. Through the primary key, as every other
/// write to these rows goes: left to itself MariaDB may find them through the `(state, id)`
/// index, locking that index before the rows, while a worker marking rows sent locks the
/// rows before that index, and the two deadlock (seen with four workers racing).
fn lease_sql(n: usize) -> String {
    let ids = vec!["?"; n].join(", ");
    format!(
        "UPDATE mirror_outbox FORCE INDEX (PRIMARY) \
         SET lease = ?, leased_until = ?, attempts = attempts + 1 \
         WHERE id IN ({ids}) AND state = 'pending' \
           AND (leased_until IS NULL OR leased_until <= ?)"
    )
}

async fn claim(conn: &mut AsyncMysqlConnection, limit: u32, lease_for: Duration) -> Result<Claim> {
    let at = to_column(now());
    let lease = Uuid::now_v7();
    let ids: Vec<u64> = diesel::sql_query(CANDIDATES)
        .bind::<Datetime, _>(at)
        .bind::<Datetime, _>(at)
        .bind::<Unsigned<diesel::sql_types::BigInt>, _>(u64::from(limit))
        .load::<Candidate>(conn)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    if ids.is_empty() {
        return Ok(Claim {
            lease,
            entries: Vec::new(),
        });
    }
    let mut lease_them = diesel::sql_query(lease_sql(ids.len()))
        .into_boxed::<Mysql>()
        .bind::<Binary, _>(lease.as_bytes().to_vec())
        .bind::<Datetime, _>(after(lease_for));
    for id in &ids {
        lease_them = lease_them.bind::<Unsigned<diesel::sql_types::BigInt>, _>(*id);
    }
    lease_them.bind::<Datetime, _>(at).execute(conn).await?;
    // By id: the primary key finds them; the lease says which are ours.
    let rows: Vec<Row> = dsl::mirror_outbox
        .filter(dsl::id.eq_any(&ids))
        .filter(dsl::lease.eq(lease.as_bytes().to_vec()))
        .order(dsl::id.asc())
        .select(Row::as_select())
        .load(conn)
        .await?;
    let mut entries = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for row in rows {
        match change_of(&row) {
            Ok(change) => entries.push(Claimed {
                id: row.id,
                attempts: u32::from(row.attempts),
                enqueued_at: from_column(row.enqueued_at),
                change,
            }),
            Err(e) => {
                tracing::error!(id = row.id, error = %e, "unreadable mirror outbox row: dead");
                unreadable.push(row.id);
            }
        }
    }
    if !unreadable.is_empty() {
        finish(conn, lease, &unreadable, DEAD, Some("unreadable row")).await?;
    }
    Ok(Claim { lease, entries })
}

/// Ends the lease of `ids` in `state` (sent or dead).
async fn finish(
    conn: &mut AsyncMysqlConnection,
    lease: Uuid,
    ids: &[u64],
    state: &'static str,
    error: Option<&str>,
) -> Result<()> {
    let target = dsl::mirror_outbox
        .filter(dsl::id.eq_any(ids))
        .filter(dsl::lease.eq(lease.as_bytes().to_vec()));
    let ended = (
        dsl::state.eq(state),
        dsl::lease.eq(None::<Vec<u8>>),
        dsl::leased_until.eq(None::<chrono::NaiveDateTime>),
        dsl::finished_at.eq(Some(to_column(now()))),
    );
    match error {
        Some(error) => {
            diesel::update(target)
                .set((ended, dsl::last_error.eq(Some(clip(error)))))
                .execute(conn)
                .await?
        }
        None => diesel::update(target).set(ended).execute(conn).await?,
    };
    Ok(())
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
        Ok(with_conn!(self, |c| finish(c, lease, ids, SENT, None))?)
    }

    async fn retry(
        &self,
        lease: Uuid,
        ids: &[u64],
        wait: Duration,
        error: &str,
    ) -> domain::Result<()> {
        let target = dsl::mirror_outbox
            .filter(dsl::id.eq_any(ids))
            .filter(dsl::lease.eq(lease.as_bytes().to_vec()));
        let change = (
            dsl::due_at.eq(after(wait)),
            dsl::lease.eq(None::<Vec<u8>>),
            dsl::leased_until.eq(None::<chrono::NaiveDateTime>),
            dsl::last_error.eq(Some(clip(error))),
        );
        with_conn!(self, |c| diesel::update(target).set(change).execute(c)).map_err(Error::from)?;
        Ok(())
    }

    async fn bury(&self, lease: Uuid, ids: &[u64], error: &str) -> domain::Result<()> {
        Ok(with_conn!(self, |c| finish(
            c,
            lease,
            ids,
            DEAD,
            Some(error)
        ))?)
    }

    async fn prune(&self, before: DateTime<Utc>, limit: u32) -> domain::Result<u64> {
        let ids: Vec<u64> = with_conn!(self, |c| dsl::mirror_outbox
            .filter(dsl::state.eq(SENT))
            .filter(dsl::finished_at.lt(to_column(before)))
            .select(dsl::id)
            .limit(i64::from(limit))
            .load(c))
        .map_err(Error::from)?;
        if ids.is_empty() {
            return Ok(0);
        }
        let deleted = with_conn!(self, |c| diesel::delete(
            dsl::mirror_outbox
                .filter(dsl::id.eq_any(&ids))
                .filter(dsl::state.eq(SENT))
        )
        .execute(c))
        .map_err(Error::from)?;
        Ok(deleted as u64)
    }

    /// Pending and dead rows only: sent rows are kept an hour, millions at a high rate,
    /// and counting them every few seconds would cost more than the rest of the mirror.
    async fn status(&self) -> domain::Result<OutboxStatus> {
        let (pending, oldest): (i64, Option<chrono::NaiveDateTime>) =
            with_conn!(self, |c| dsl::mirror_outbox
                .filter(dsl::state.eq(PENDING))
                .select((
                    diesel::dsl::count_star(),
                    diesel::dsl::min(dsl::enqueued_at),
                ))
                .first(c))
            .map_err(Error::from)?;
        let dead: i64 = with_conn!(self, |c| dsl::mirror_outbox
            .filter(dsl::state.eq(DEAD))
            .count()
            .get_result(c))
        .map_err(Error::from)?;
        Ok(OutboxStatus {
            pending: u64::try_from(pending).unwrap_or_default(),
            oldest_pending: oldest.map(from_column),
            dead: u64::try_from(dead).unwrap_or_default(),
        })
    }

    async fn dead_letters(&self, limit: u32) -> domain::Result<Vec<DeadLetter>> {
        let rows: Vec<Row> = with_conn!(self, |c| dsl::mirror_outbox
            .filter(dsl::state.eq(DEAD))
            .order(dsl::id.desc())
            .limit(i64::from(limit))
            .select(Row::as_select())
            .load(c))
        .map_err(Error::from)?;
        let mut letters = Vec::with_capacity(rows.len());
        for row in rows {
            letters.push(DeadLetter {
                id: row.id,
                attempts: u32::from(row.attempts),
                enqueued_at: from_column(row.enqueued_at),
                change: change_of(&row)?,
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
            dsl::due_at.eq(to_column(now())),
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
