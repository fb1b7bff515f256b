use diesel::QueryableByName;
use diesel::sql_types::{Binary, Nullable, Text, Varchar};
use diesel_async::{AsyncConnection, AsyncMysqlConnection, RunQueryDsl};
use domain::UserId;
use domain::audit::{AuditAction, AuditEntry};
use domain::ports::AuditLog;
use persistence::test_db::TestDatabase;
use serde_json::json;
use uuid::Uuid;

#[derive(QueryableByName, Debug)]
struct Row {
    #[diesel(sql_type = Binary)]
    id: Vec<u8>,
    #[diesel(sql_type = Varchar)]
    action: String,
    #[diesel(sql_type = Nullable<Binary>)]
    actor_id: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<Binary>)]
    subject_id: Option<Vec<u8>>,
    #[diesel(sql_type = Text)]
    detail: String,
    #[diesel(sql_type = Nullable<Varchar>)]
    ip: Option<String>,
}

async fn rows(t: &TestDatabase) -> Vec<Row> {
    let mut conn = AsyncMysqlConnection::establish(t.url().expose())
        .await
        .expect("connect");
    diesel::sql_query(
        "SELECT id, action, actor_id, subject_id, CAST(detail AS CHAR) AS detail, ip \
         FROM audit_log ORDER BY id",
    )
    .load(&mut conn)
    .await
    .expect("read back")
}

#[tokio::test]
async fn audit_entries_are_stored_as_given_in_order() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let actor = UserId::generate();
    let subject = Uuid::now_v7();
    db.record(AuditEntry {
        action: AuditAction::RoleChanged,
        actor: Some(actor),
        subject: Some(subject),
        detail: json!({"from": "user", "to": "moderator", "note": "ünïcode ✓"}),
        ip: Some("2001:db8::1".into()),
    })
    .await
    .expect("recorded");
    db.record(AuditEntry {
        action: AuditAction::LoginFailed,
        actor: None,
        subject: None,
        detail: json!({}),
        ip: None,
    })
    .await
    .expect("recorded");

    let rows = rows(&t).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let first = &rows[0];
    assert_eq!(first.action, "user.role_changed");
    assert_eq!(first.actor_id.as_deref(), Some(&actor.to_bytes()[..]));
    assert_eq!(first.subject_id.as_deref(), Some(&subject.as_bytes()[..]));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&first.detail).expect("json"),
        json!({"to": "moderator", "from": "user", "note": "ünïcode ✓"})
    );
    assert_eq!(first.ip.as_deref(), Some("2001:db8::1"));
    let id = Uuid::from_slice(&first.id).expect("16 bytes");
    assert_eq!(id.get_version_num(), 7, "ids are UUIDv7");

    let second = &rows[1];
    assert_eq!(second.action, "login.failed");
    assert_eq!(
        (second.actor_id.as_ref(), second.subject_id.as_ref()),
        (None, None)
    );
    assert_eq!(second.ip, None);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&second.detail).expect("json"),
        json!({})
    );
}
