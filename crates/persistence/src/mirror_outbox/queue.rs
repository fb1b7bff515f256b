//! The [`MirrorQueue`] port: the mirror's workers take, report on and delete rows; an
//! operator reads the queue's status and its dead letters and revives them.

use std::time::Duration;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Unsigned};
use diesel_async::RunQueryDsl;
use domain::mirror::{Claim, DeadLetter, MirrorQueue, OutboxStatus};
use uuid::Uuid;

use super::change::{Current, letter_change};
use super::lease::{RENEW, claim, micros, release};
use super::report::report;
use super::{DEAD, PENDING, Row};
use crate::columns::from_column;
use crate::database::{Database, with_conn};
use crate::error::Error;
use crate::schema::mirror_outbox::dsl;

/// Dead rows that are the latest change to their subject. One scan of the outbox, which
/// holds only what is still to send: an operator's command, not the worker's.
const LIVE_DEAD: &str = "\
SELECT o.id FROM mirror_outbox o \
JOIN (SELECT subject, MAX(id) AS latest FROM mirror_outbox GROUP BY subject) l \
  ON l.subject = o.subject AND l.latest = o.id \
WHERE o.state = 'dead'";

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = Unsigned<BigInt>)]
    id: u64,
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
