//! `comments` rows (joined with their author's username) and the [`CommentStore`] port: the
//! row and its conversion here, each action in a module of its own.

mod authors;
mod edit;
mod insert;
mod read;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::ports::{CommentStore, Posted};
use domain::{
    ClientId, Comment, CommentBody, CommentId, NewComment, Page, PageRequest, UserId, Username,
    VideoId,
};

use crate::columns::{from_column, uuid_from_column};
use crate::database::{Database, with_conn};
use crate::error::{Error, Result};
use crate::schema::{comments, room_positions, users};

pub(crate) use read::live_by_ids;

#[derive(Queryable, Selectable)]
#[diesel(table_name = comments, check_for_backend(diesel::mysql::Mysql))]
struct CommentRow {
    id: Vec<u8>,
    video_id: String,
    user_id: Vec<u8>,
    content: String,
    inserted_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
    position: u64,
    version: u32,
}

type AuthoredRow = (CommentRow, String);

fn into_comment((row, username): AuthoredRow) -> Result<Comment> {
    Ok(Comment {
        id: CommentId::from_uuid(uuid_from_column(&row.id)?),
        video_id: VideoId::parse(&row.video_id).map_err(Error::corrupt)?,
        user_id: UserId::from_uuid(uuid_from_column(&row.user_id)?),
        username: Username::parse(&username).map_err(Error::corrupt)?,
        body: CommentBody::parse(&row.content).map_err(Error::corrupt)?,
        inserted_at: from_column(row.inserted_at),
        updated_at: from_column(row.updated_at),
        position: row.position,
        version: row.version,
    })
}

#[async_trait]
impl CommentStore for Database {
    async fn insert(&self, comment: NewComment) -> domain::Result<Comment> {
        Ok(with_conn!(self, |c| insert::insert(c, comment, false))?)
    }

    async fn insert_mirrored(&self, comment: NewComment) -> domain::Result<Comment> {
        Ok(with_conn!(self, |c| insert::insert(c, comment, true))?)
    }

    async fn by_client_id(
        &self,
        author: UserId,
        video: &VideoId,
        client_id: &ClientId,
    ) -> domain::Result<Option<Posted>> {
        let query = comments::table
            .inner_join(users::table)
            .filter(comments::user_id.eq(author.to_bytes().to_vec()))
            .filter(comments::video_id.eq(video.as_str()))
            .filter(comments::client_id.eq(client_id.as_str()))
            .select((
                CommentRow::as_select(),
                users::username,
                comments::deleted_at.is_not_null(),
            ));
        let row: Option<(CommentRow, String, bool)> = with_conn!(self, |c| query.first(c))
            .optional()
            .map_err(Error::from)?;
        Ok(match row {
            None => None,
            Some((_, _, true)) => Some(Posted::Deleted),
            Some((row, username, false)) => Some(Posted::Live(into_comment((row, username))?)),
        })
    }

    async fn by_id(&self, id: CommentId) -> domain::Result<Option<Comment>> {
        Ok(with_conn!(self, |c| read::live_by_id(c, id))?)
    }

    async fn newest_for_video(
        &self,
        video: &VideoId,
        page: PageRequest<CommentId>,
    ) -> domain::Result<Page<Comment, CommentId>> {
        Ok(with_conn!(self, |c| read::newest_for_video(
            c, video, page
        ))?)
    }

    async fn after_position(
        &self,
        video: &VideoId,
        after: u64,
        limit: u16,
    ) -> domain::Result<Vec<Comment>> {
        Ok(with_conn!(self, |c| read::after_position(
            c, video, after, limit
        ))?)
    }

    async fn last_position(&self, video: &VideoId) -> domain::Result<u64> {
        let query = room_positions::table
            .filter(room_positions::video_id.eq(video.as_str()))
            .select(room_positions::last_position);
        let last: Option<u64> = with_conn!(self, |c| query.first(c))
            .optional()
            .map_err(Error::from)?;
        Ok(last.unwrap_or(0))
    }

    async fn position_of(&self, video: &VideoId, id: CommentId) -> domain::Result<Option<u64>> {
        let query = comments::table
            .filter(comments::id.eq(id.to_bytes().to_vec()))
            .filter(comments::video_id.eq(video.as_str()))
            .select(comments::position);
        Ok(with_conn!(self, |c| query.first(c))
            .optional()
            .map_err(Error::from)?)
    }

    async fn update_body(&self, id: CommentId, body: CommentBody) -> domain::Result<Comment> {
        edit::comment_result(with_conn!(self, |c| edit::update_body(c, id, body)))
    }

    async fn soft_delete(&self, id: CommentId) -> domain::Result<()> {
        edit::comment_result(with_conn!(self, |c| edit::soft_delete(c, id)))
    }
}
