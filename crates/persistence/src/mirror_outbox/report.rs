//! How a batch went, recorded while its lease still holds the queue: sent rows deleted,
//! the others counted and kept with their error (pending to retry, or dead).

use diesel::mysql::Mysql;
use diesel::sql_types::{BigInt, Binary, Datetime, Nullable, Text, Unsigned};
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use uuid::Uuid;

use super::DEAD;
use crate::columns::{now, to_column};
use crate::error::Result;

/// The width of `last_error`.
const ERROR_MAX_CHARS: usize = 255;

/// At most [`ERROR_MAX_CHARS`] characters.
fn clip(error: &str) -> &str {
    match error.char_indices().nth(ERROR_MAX_CHARS) {
        Some((end, _)) => &error[..end],
        None => error,
    }
}

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

pub(super) async fn report(
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
