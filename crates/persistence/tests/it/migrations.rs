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

/// Migration 000009 hides the comments stored before invisible-only bodies were refused,
/// and only those.
#[tokio::test]
async fn comments_made_only_of_invisible_characters_are_hidden() {
    let t = TestDatabase::new().await;
    let url = t.url();
    // Back to the schema just before 000009 (later migrations are reverted too).
    loop {
        let reverted = migrations::revert(url, false).await.expect("revert");
        assert_eq!(reverted.len(), 1, "000009 was applied");
        if reverted[0] == "20261126000009" {
            break;
        }
    }
    t.execute(
        "INSERT INTO users (id, email, username, password_hash, inserted_at, updated_at) \
         VALUES (x'00000000000000000000000000000001', 'ann@example.com', 'ann', 'x', \
         NOW(6), NOW(6))",
    )
    .await;
    let bodies = [
        ("01", "\u{200b}", true),
        ("02", "\u{feff}\u{200d} \u{2060}", true),
        ("03", "\u{3164}\u{2800}\u{ad}\u{3000}\u{200b}", true),
        ("04", "\u{fe0f}\u{e0020}", true),
        ("05", "a\u{200b}b", false),
        ("06", "\u{2764}\u{fe0f}", false),
        ("07", "plain text", false),
    ];
    for (id, body, _) in bodies {
        t.execute(&format!(
            "INSERT INTO comments (id, video_id, user_id, content, inserted_at, updated_at) \
             VALUES (x'000000000000000000000000000000{id}', 'v1', \
             x'00000000000000000000000000000001', '{body}', NOW(6), NOW(6))"
        ))
        .await;
    }
    migrations::run_pending(url).await.expect("reapply");
    for (id, body, hidden) in bodies {
        let deleted = t
            .count(&format!(
                "SELECT COUNT(*) FROM comments WHERE id = x'000000000000000000000000000000{id}' \
                 AND deleted_at IS NOT NULL"
            ))
            .await;
        assert_eq!(deleted == 1, hidden, "{body:?}");
    }
}
