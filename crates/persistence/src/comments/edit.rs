//! Changing a live comment: its body edited, or the comment soft-deleted.

use diesel::prelude::*;
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use domain::{Comment, CommentBody, CommentId};

use super::read::live_by_id;
use crate::columns::{now, to_column};
use crate::error::{Error, Result};
use crate::schema::comments;

pub(super) async fn update_body(
    conn: &mut AsyncMysqlConnection,
    id: CommentId,
    body: CommentBody,
) -> Result<Comment> {
    let n = diesel::update(
        comments::table
            .filter(comments::id.eq(id.to_bytes().to_vec()))
            .filter(comments::deleted_at.is_null()),
    )
    .set((
        comments::content.eq(body.as_str()),
        comments::updated_at.eq(to_column(now())),
        comments::version.eq(comments::version + 1),
    ))
    .execute(conn)
    .await?;
    if n == 0 {
        return Err(Error::Query(diesel::result::Error::NotFound));
    }
    live_by_id(conn, id)
        .await?
        .ok_or(Error::Query(diesel::result::Error::NotFound))
}

pub(super) async fn soft_delete(conn: &mut AsyncMysqlConnection, id: CommentId) -> Result<()> {
    let at = to_column(now());
    let n = diesel::update(
        comments::table
            .filter(comments::id.eq(id.to_bytes().to_vec()))
            .filter(comments::deleted_at.is_null()),
    )
    .set((
        comments::deleted_at.eq(Some(at)),
        comments::updated_at.eq(at),
        comments::version.eq(comments::version + 1),
    ))
    .execute(conn)
    .await?;
    if n == 0 {
        return Err(Error::Query(diesel::result::Error::NotFound));
    }
    Ok(())
}

/// Maps "no such row" to a `NotFound` naming comments.
pub(super) fn comment_result<T>(r: Result<T>) -> domain::Result<T> {
    r.map_err(|e| match e {
        Error::Query(diesel::result::Error::NotFound) => domain::Error::NotFound("comment"),
        other => other.into(),
    })
}
