//! A row read back as the change it stands for, as things are now.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use domain::mirror::MirrorChange;
use domain::{Comment, CommentId, UserId, VideoId};

use super::{COMMENT_DELETED, COMMENT_SAVED, Row, SIGNED_IN};
use crate::columns::{from_column, uuid_from_column};
use crate::comments;
use crate::error::{Error, Result};

/// What the rows of a batch are about, as it is now: the live comments (each read on its
/// own) and the users' last sign-ins.
#[derive(Default)]
pub(super) struct Current {
    comments: HashMap<Vec<u8>, std::result::Result<Comment, String>>,
    logins: HashMap<Vec<u8>, chrono::NaiveDateTime>,
}

impl Current {
    pub(super) async fn of(conn: &mut AsyncMysqlConnection, rows: &[Row]) -> Result<Self> {
        use crate::schema::users;
        let subjects = |kind: &str| -> Vec<Vec<u8>> {
            rows.iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.subject.clone())
                .collect()
        };
        let comments = comments::live_by_ids(conn, &subjects(COMMENT_SAVED)).await?;
        let signed_in = subjects(SIGNED_IN);
        let logins = if signed_in.is_empty() {
            HashMap::new()
        } else {
            users::table
                .filter(users::id.eq_any(&signed_in))
                .filter(users::last_login_at.is_not_null())
                .select((users::id, users::last_login_at.assume_not_null()))
                .load::<(Vec<u8>, chrono::NaiveDateTime)>(conn)
                .await?
                .into_iter()
                .collect()
        };
        Ok(Self { comments, logins })
    }
}

/// The change `row` stands for, sent as things are now: a saved comment as it reads now
/// (deleted since: as deleted), a sign-in as the user's last one. So nothing sent later,
/// a revived dead letter included, is older than what was sent before.
pub(super) fn change_of(row: &Row, now: &Current) -> Result<MirrorChange> {
    let subject = uuid_from_column(&row.subject)?;
    let video = || -> Result<VideoId> {
        let raw = row.video_id.as_deref().unwrap_or_default();
        VideoId::parse(raw).map_err(Error::corrupt)
    };
    match row.kind.as_str() {
        COMMENT_SAVED => Ok(match now.comments.get(&row.subject) {
            Some(Ok(comment)) => MirrorChange::saved(comment),
            Some(Err(e)) => return Err(Error::corrupt(format!("unreadable comment: {e}"))),
            None => MirrorChange::CommentDeleted {
                id: CommentId::from_uuid(subject),
                video_id: video()?,
            },
        }),
        COMMENT_DELETED => Ok(MirrorChange::CommentDeleted {
            id: CommentId::from_uuid(subject),
            video_id: video()?,
        }),
        SIGNED_IN => {
            let at = match now.logins.get(&row.subject) {
                Some(last) => from_column(*last),
                None => row
                    .payload
                    .as_ref()
                    .and_then(|p| p.get("at"))
                    .and_then(serde_json::Value::as_str)
                    .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                    .ok_or_else(|| Error::corrupt("a sign-in without its time"))?
                    .with_timezone(&Utc),
            };
            Ok(MirrorChange::SignedIn {
                user: UserId::from_uuid(subject),
                at,
            })
        }
        other => Err(Error::corrupt(format!("unknown outbox kind {other:?}"))),
    }
}

/// A dead letter's change for an operator to read: as [`change_of`], but a comment that
/// no longer reads (often why it died) is still named, with no content.
pub(super) fn letter_change(row: &Row, now: &Current) -> Result<MirrorChange> {
    match change_of(row, now) {
        Err(_) if row.kind == COMMENT_SAVED => Ok(MirrorChange::CommentSaved {
            id: CommentId::from_uuid(uuid_from_column(&row.subject)?),
            video_id: VideoId::parse(row.video_id.as_deref().unwrap_or_default())
                .map_err(Error::corrupt)?,
            comment: serde_json::Value::Null,
        }),
        other => other,
    }
}
