use diesel_async::{AsyncConnection, AsyncMysqlConnection};
use persistence::migrations;
use persistence::test_db::TestDatabase;

#[tokio::test]
async fn every_migration_reverts_and_reapplies() {
    let t = TestDatabase::new().await;
    let url = t.url();
    let status = migrations::status(url).await.expect("status");
    assert!(!status.is_empty());
    assert!(status.iter().all(|m| m.applied));

    let one = migrations::revert(url, false).await.expect("revert last");
    assert_eq!(one.len(), 1);
    let all = migrations::revert(url, true).await.expect("revert all");
    assert_eq!(all.len(), status.len() - 1);
    assert!(
        migrations::status(url)
            .await
            .expect("status")
            .iter()
            .all(|m| !m.applied)
    );
    assert!(
        migrations::revert(url, false)
            .await
            .expect("nothing left")
            .is_empty()
    );

    let again = migrations::run_pending(url).await.expect("reapply");
    assert_eq!(again.len(), status.len());
    assert!(
        migrations::run_pending(url)
            .await
            .expect("idempotent")
            .is_empty()
    );
}

/// The index named in the migration serves the keyset query.
#[tokio::test]
async fn newest_comments_query_uses_the_keyset_index() {
    use diesel::QueryableByName;
    use diesel::sql_types::{Nullable, Text};
    use diesel_async::RunQueryDsl;

    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = Nullable<Text>)]
        key: Option<String>,
    }

    let t = TestDatabase::new().await;
    let mut conn = AsyncMysqlConnection::establish(t.url().expose())
        .await
        .expect("connect");
    let plan: Vec<Plan> = diesel::sql_query(
        "EXPLAIN SELECT id FROM comments WHERE video_id = 'v1' AND deleted_at IS NULL \
         AND id < x'00000000000000000000000000000000' ORDER BY id DESC LIMIT 51",
    )
    .load(&mut conn)
    .await
    .expect("explain");
    assert_eq!(
        <[Plan]>::first(&plan).and_then(|p| p.key.as_deref()),
        Some("comments_video_newest")
    );
}
