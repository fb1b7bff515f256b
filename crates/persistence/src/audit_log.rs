//! `audit_log` rows and the [`AuditLog`] port: append-only, one row per entry.

use async_trait::async_trait;
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use domain::audit::AuditEntry;
use domain::ports::AuditLog;
use uuid::Uuid;

use crate::columns::{now, to_column};
use crate::database::{Database, with_conn};
use crate::error::Result;
use crate::schema::audit_log;

/// The width of the `ip` column: the longest textual IPv6 address (with embedded IPv4).
const IP_MAX_CHARS: usize = 45;

#[derive(diesel::Insertable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::mysql::Mysql))]
struct NewAuditRow<'a> {
    id: Vec<u8>,
    action: &'static str,
    actor_id: Option<Vec<u8>>,
    subject_id: Option<Vec<u8>>,
    detail: &'a serde_json::Value,
    ip: Option<&'a str>,
    inserted_at: chrono::NaiveDateTime,
}

/// At most the first [`IP_MAX_CHARS`] characters: an odd address (an IPv6 zone, a proxy's
/// idea of a client) must not cost the audit entry itself.
fn clip_ip(ip: &str) -> &str {
    match ip.char_indices().nth(IP_MAX_CHARS) {
        Some((end, _)) => &ip[..end],
        None => ip,
    }
}

async fn record(conn: &mut AsyncMysqlConnection, entry: &AuditEntry) -> Result<()> {
    diesel::insert_into(audit_log::table)
        .values(NewAuditRow {
            id: Uuid::now_v7().as_bytes().to_vec(),
            action: entry.action.as_str(),
            actor_id: entry.actor.map(|id| id.to_bytes().to_vec()),
            subject_id: entry.subject.map(|id| id.as_bytes().to_vec()),
            detail: &entry.detail,
            ip: entry.ip.as_deref().map(clip_ip),
            inserted_at: to_column(now()),
        })
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl AuditLog for Database {
    async fn record(&self, entry: AuditEntry) -> domain::Result<()> {
        Ok(with_conn!(self, |c| record(c, &entry))?)
    }
}

#[cfg(test)]
mod tests {
    use super::clip_ip;

    #[test]
    fn overlong_addresses_are_clipped_to_the_column() {
        assert_eq!(clip_ip("203.0.113.7"), "203.0.113.7");
        let long = "f".repeat(60);
        assert_eq!(clip_ip(&long).len(), 45);
    }
}
