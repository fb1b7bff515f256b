//! The sender lease (one worker sends at a time, in the whole deployment) and the batch
//! its holder takes.

use std::collections::HashSet;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary};
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use domain::mirror::{Claim, Claimed};
use uuid::Uuid;

use super::change::{Current, change_of};
use super::report::report;
use super::{DEAD, PENDING, Row};
use crate::columns::from_column;
use crate::error::Result;
use crate::schema::mirror_outbox::dsl;

// The lease's times are the database's clock (UTC_TIMESTAMP), one for every node, so a
// node whose clock is off cannot take a lease early or keep it late.

/// Takes the sender lease for `?` microseconds if nobody holds it and the queue is not
/// waiting.
const ACQUIRE: &str = "\
UPDATE mirror_sender \
SET lease = ?, leased_until = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND \
WHERE id = 1 AND (leased_until IS NULL OR leased_until <= UTC_TIMESTAMP(6))";

/// Keeps `lease` for `?` microseconds more, if it still holds the queue.
pub(super) const RENEW: &str = "\
UPDATE mirror_sender SET leased_until = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND \
WHERE id = 1 AND lease = ?";

/// Ends `lease` (if it still holds the queue) and lets the queue go on in `?`
/// microseconds (0: at once).
const RELEASE: &str = "\
UPDATE mirror_sender SET lease = NULL, leased_until = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND \
WHERE id = 1 AND lease = ?";

/// `d` in whole microseconds, for `INTERVAL ? MICROSECOND`.
pub(super) fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

pub(super) async fn release(
    conn: &mut AsyncMysqlConnection,
    lease: Uuid,
    wait: Duration,
) -> Result<()> {
    diesel::sql_query(RELEASE)
        .bind::<BigInt, _>(micros(wait))
        .bind::<Binary, _>(lease.as_bytes().to_vec())
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn claim(
    conn: &mut AsyncMysqlConnection,
    limit: u32,
    lease_for: Duration,
) -> Result<Claim> {
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
