use domain::ports::{CommentStore, Posted};
use domain::{CommentBody, CommentId, Error, NewComment, PageRequest, VideoId};
use persistence::test_db::TestDatabase;

fn video(id: &str) -> VideoId {
    VideoId::parse(id).expect("valid video id")
}

fn body(text: &str) -> CommentBody {
    CommentBody::parse(text).expect("valid body")
}

#[tokio::test]
async fn insert_read_update_and_soft_delete() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let posted = db
        .insert(NewComment {
            video_id: video("v1"),
            user_id: ann.id,
            username: ann.username.clone(),
            body: body("first! 🎉"),
            client_id: None,
        })
        .await
        .expect("inserted");
    assert_eq!(posted.username.as_str(), "ann");
    assert_eq!(
        db.by_id(posted.id).await.expect("query"),
        Some(posted.clone())
    );

    let edited = db
        .update_body(posted.id, body("edited"))
        .await
        .expect("updated");
    assert_eq!(edited.body.as_str(), "edited");
    assert!(edited.updated_at >= posted.updated_at);
    assert_eq!(edited.inserted_at, posted.inserted_at);

    db.soft_delete(posted.id).await.expect("deleted");
    assert_eq!(db.by_id(posted.id).await.expect("query"), None);
    let again = db.soft_delete(posted.id).await;
    assert!(
        matches!(again, Err(Error::NotFound("comment"))),
        "{again:?}"
    );
    let edit_deleted = db.update_body(posted.id, body("zombie")).await;
    assert!(
        matches!(edit_deleted, Err(Error::NotFound("comment"))),
        "{edit_deleted:?}"
    );
    let missing = db.soft_delete(CommentId::generate()).await;
    assert!(
        matches!(missing, Err(Error::NotFound("comment"))),
        "{missing:?}"
    );
}

#[tokio::test]
async fn newest_first_keyset_pages_skip_deleted_and_other_videos() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let c = db
            .insert(NewComment {
                video_id: video("v1"),
                user_id: ann.id,
                username: ann.username.clone(),
                body: body(&format!("comment {i}")),
                client_id: None,
            })
            .await
            .expect("inserted");
        ids.push(c.id);
    }
    db.insert(NewComment {
        video_id: video("v2"),
        user_id: ann.id,
        username: ann.username.clone(),
        body: body("elsewhere"),
        client_id: None,
    })
    .await
    .expect("inserted");
    db.soft_delete(ids[3]).await.expect("deleted");

    let mut seen = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        let page = db
            .newest_for_video(&video("v1"), PageRequest::new(2, before).expect("valid"))
            .await
            .expect("page");
        pages += 1;
        seen.extend(page.items.iter().map(|c| c.id));
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let expected: Vec<CommentId> = ids
        .iter()
        .rev()
        .copied()
        .filter(|id| *id != ids[3])
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(
        pages, 3,
        "6 live comments in pages of 2, the last one says there is no more"
    );
}

#[tokio::test]
async fn a_client_id_is_unique_per_author_and_video() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let bob = crate::user(db, "bob").await;
    let id = domain::ClientId::parse("tab-1:42").expect("valid");
    let new = |author: &domain::User, on: &str, text: &str| NewComment {
        video_id: video(on),
        user_id: author.id,
        username: author.username.clone(),
        body: body(text),
        client_id: Some(id.clone()),
    };
    let first = db.insert(new(&ann, "v1", "first")).await.expect("inserted");
    let again = db.insert(new(&ann, "v1", "retry")).await;
    assert!(
        matches!(&again, Err(Error::Conflict(m)) if m.contains("client_id")),
        "{again:?}"
    );
    db.insert(new(&bob, "v1", "another author may use the same id"))
        .await
        .expect("inserted");
    let elsewhere = db
        .insert(new(&ann, "v2", "so may the author on another video"))
        .await
        .expect("inserted");

    let found = |on: &'static str| {
        let id = id.clone();
        async move {
            db.by_client_id(ann.id, &video(on), &id)
                .await
                .expect("query")
        }
    };
    assert_eq!(found("v1").await, Some(Posted::Live(first.clone())));
    assert_eq!(found("v2").await, Some(Posted::Live(elsewhere)));
    assert_eq!(found("v3").await, None);
    db.soft_delete(first.id).await.expect("deleted");
    assert_eq!(found("v1").await, Some(Posted::Deleted));
}

#[tokio::test]
async fn a_page_names_each_of_many_authors() {
    let t = TestDatabase::new().await;
    let db = t.database();
    // 1, 8 and 9 authors: the lookup of their names is padded to 8, 8 and 16 ids.
    let mut authors = Vec::new();
    for n in 0..9 {
        authors.push(crate::user(db, &format!("author{n}")).await);
    }
    for (count, on) in [(1, "v1"), (8, "v8"), (9, "v9")] {
        for author in &authors[..count] {
            db.insert(NewComment {
                video_id: video(on),
                user_id: author.id,
                username: author.username.clone(),
                body: body(&format!("from {}", author.username.as_str())),
                client_id: None,
            })
            .await
            .expect("inserted");
        }
        let page = db
            .newest_for_video(&video(on), PageRequest::new(50, None).expect("valid limit"))
            .await
            .expect("page");
        assert_eq!(page.items.len(), count);
        for comment in &page.items {
            assert_eq!(
                comment.body.as_str(),
                format!("from {}", comment.username.as_str()),
                "on {on}"
            );
        }
    }
}
