//! The [`MirrorOutbox`] port: a use case's transaction writes one row per change.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::mirror::{MirrorChange, MirrorOutbox};

use super::{COMMENT_DELETED, COMMENT_SAVED, SIGNED_IN};
use crate::columns::{now, to_column};
use crate::database::{Database, with_conn};
use crate::error::Error;
use crate::schema::mirror_outbox::{self, dsl};

#[derive(Insertable)]
#[diesel(table_name = mirror_outbox, check_for_backend(diesel::mysql::Mysql))]
struct NewRow<'a> {
    subject: Vec<u8>,
    kind: &'static str,
    video_id: Option<&'a str>,
    payload: Option<serde_json::Value>,
    enqueued_at: chrono::NaiveDateTime,
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
