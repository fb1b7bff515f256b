//! `comments` rows (joined with their author's username) and the [`CommentStore`] port.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use diesel::mysql::Mysql;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Binary, Bool, Datetime, Nullable, Text, Unsigned};
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use domain::ports::{CommentStore, Posted};
use domain::{
    ClientId, Comment, CommentBody, CommentId, NewComment, Page, PageRequest, UserId, Username,
    VideoId,
};

use crate::columns::{from_column, now, to_column, uuid_from_column};
use crate::database::{Database, with_conn};
use crate::error::{Error, Result};
use crate::schema::{comments, room_positions, users};

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

/// Live (not deleted) comments with their authors.
macro_rules! live_comments {
    () => {
        comments::table
            .inner_join(users::table)
            .filter(comments::deleted_at.is_null())
            .select((CommentRow::as_select(), users::username))
    };
}

async fn live_by_id(conn: &mut AsyncMysqlConnection, id: CommentId) -> Result<Option<Comment>> {
    live_comments!()
        .filter(comments::id.eq(id.to_bytes().to_vec()))
        .first::<AuthoredRow>(conn)
        .await
        .optional()?
        .map(into_comment)
        .transpose()
}

/// The live comments among `ids` (raw column values), by id, each read on its own: one
/// that no longer reads as a valid comment is an error of its own, not of the batch.
/// Deleted and unknown ones are absent. One query by primary key, for the mirror's worker,
/// which sends comments as they are when it sends them.
pub(crate) async fn live_by_ids(
    conn: &mut AsyncMysqlConnection,
    ids: &[Vec<u8>],
) -> Result<HashMap<Vec<u8>, std::result::Result<Comment, String>>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<AuthoredRow> = live_comments!()
        .filter(comments::id.eq_any(ids))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let id = row.0.id.clone();
            (id, into_comment(row).map_err(|e| e.to_string()))
        })
        .collect())
}

/// The comment `new` becomes, with the client id it was posted with: its id and times are
/// chosen here; its position, the trigger's, is read back after the INSERT.
fn to_store(new: NewComment) -> (Comment, Option<ClientId>) {
    let at = now();
    let comment = Comment {
        id: CommentId::generate(),
        video_id: new.video_id,
        user_id: new.user_id,
        username: new.username,
        body: new.body,
        inserted_at: at,
        updated_at: at,
        position: 0,
        version: 1,
    };
    (comment, new.client_id)
}

/// Whether the server takes `INSERT ... RETURNING` (MariaDB 10.5 and later); MySQL does
/// not, which the first post finds out.
static RETURNING: AtomicBool = AtomicBool::new(true);

/// One autocommitted statement, answering with the position its trigger gave the comment
/// (migration 000015): `INSERT ... RETURNING position` on MariaDB, one round trip as
/// before positions; on MySQL, which has no `RETURNING`, the position is read back.
/// `mirrored`: the comments table's trigger writes the change's outbox row in the same
/// statement (migration 000014).
async fn insert(
    conn: &mut AsyncMysqlConnection,
    new: NewComment,
    mirrored: bool,
) -> Result<Comment> {
    let (mut comment, client_id) = to_store(new);
    let row = InsertComment {
        id: comment.id.to_bytes(),
        video_id: comment.video_id.as_str(),
        user_id: comment.user_id.to_bytes(),
        content: comment.body.as_str(),
        client_id: client_id.as_ref().map(ClientId::as_str),
        at: to_column(comment.inserted_at),
        mirrored,
    };
    if AtomicBool::load(&RETURNING, Ordering::Relaxed) {
        match Returning(&row).get_result::<u64>(conn).await {
            Ok(position) => {
                comment.position = position;
                return Ok(comment);
            }
            // A syntax error stores nothing: the plain INSERT below is the first try.
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.message().contains("RETURNING") || info.message().contains("syntax") =>
            {
                RETURNING.store(false, Ordering::Relaxed);
                tracing::info!(
                    "this database has no INSERT ... RETURNING (MySQL): a post reads its position back"
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    row.execute(conn).await?;
    comment.position = comments::table
        .filter(comments::id.eq(comment.id.to_bytes().to_vec()))
        .select(comments::position)
        .first(conn)
        .await?;
    Ok(comment)
}

/// [`InsertComment`] `RETURNING position`.
struct Returning<'a, 'b>(&'b InsertComment<'a>);

impl QueryId for Returning<'_, '_> {
    type QueryId = Returning<'static, 'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for Returning<'_, '_> {
    type SqlType = Unsigned<BigInt>;
}

impl QueryFragment<Mysql> for Returning<'_, '_> {
    fn walk_ast<'c>(&'c self, mut out: AstPass<'_, 'c, Mysql>) -> QueryResult<()> {
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(" RETURNING position");
        Ok(())
    }
}

/// `INSERT INTO comments ...`, spelled out rather than built with diesel's `insert_into`:
/// diesel does not prepare an `insert_into` once per connection (it may render `DEFAULT`),
/// so every post cost a prepare and a close on top of the execute. This has a static
/// query id, so each connection prepares it once and then only executes it.
struct InsertComment<'a> {
    id: [u8; 16],
    video_id: &'a str,
    user_id: [u8; 16],
    content: &'a str,
    client_id: Option<&'a str>,
    at: chrono::NaiveDateTime,
    mirrored: bool,
}

impl QueryId for InsertComment<'_> {
    type QueryId = InsertComment<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Mysql> for InsertComment<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        out.push_sql(
            "INSERT INTO comments (id, video_id, user_id, content, client_id, inserted_at, \
             updated_at, mirrored) VALUES (",
        );
        out.push_bind_param::<Binary, _>(&self.id[..])?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.video_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Binary, _>(&self.user_id[..])?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.content)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.client_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Datetime, _>(&self.at)?;
        out.push_sql(", ");
        out.push_bind_param::<Datetime, _>(&self.at)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(&self.mirrored)?;
        out.push_sql(")");
        Ok(())
    }
}

/// Two indexed queries rather than one join: joined, the optimizer may drive from `users`
/// and sort every comment of the video (seen with 4,400 comments: 18 ms instead of < 1 ms).
async fn newest_for_video(
    conn: &mut AsyncMysqlConnection,
    video: &VideoId,
    page: PageRequest<CommentId>,
) -> Result<Page<Comment, CommentId>> {
    let limit = usize::from(page.limit());
    let mut query = comments::table
        .filter(comments::video_id.eq(video.as_str()))
        .filter(comments::deleted_at.is_null())
        .order(comments::id.desc())
        .limit(i64::from(page.limit()) + 1)
        .select(CommentRow::as_select())
        .into_boxed();
    if let Some(before) = page.before() {
        query = query.filter(comments::id.lt(before.to_bytes().to_vec()));
    }
    let mut rows: Vec<CommentRow> = query.load(conn).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let items = with_authors(conn, rows).await?;
    let next = if more {
        items.last().map(|c| c.id)
    } else {
        None
    };
    Ok(Page { items, next })
}

/// By the room's positions (index `comments_video_position`).
async fn after_position(
    conn: &mut AsyncMysqlConnection,
    video: &VideoId,
    after: u64,
    limit: u16,
) -> Result<Vec<Comment>> {
    let rows: Vec<CommentRow> = comments::table
        .filter(comments::video_id.eq(video.as_str()))
        .filter(comments::position.gt(after))
        .filter(comments::deleted_at.is_null())
        .order(comments::position.asc())
        .limit(i64::from(limit))
        .select(CommentRow::as_select())
        .load(conn)
        .await?;
    with_authors(conn, rows).await
}

/// Attaches each row's author name, fetched by primary key in one query.
async fn with_authors(
    conn: &mut AsyncMysqlConnection,
    rows: Vec<CommentRow>,
) -> Result<Vec<Comment>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut authors: Vec<&[u8]> = rows.iter().map(|r| r.user_id.as_slice()).collect();
    authors.sort_unstable();
    authors.dedup();
    let names: HashMap<Vec<u8>, String> = Usernames::of(authors)
        .load::<(Vec<u8>, String)>(conn)
        .await?
        .into_iter()
        .collect();
    rows.into_iter()
        .map(|row| {
            let name = names
                .get(&row.user_id)
                .cloned()
                .ok_or_else(|| Error::corrupt("comment without an author"))?;
            into_comment((row, name))
        })
        .collect()
}

/// `SELECT id, username FROM users WHERE id IN (...)`, kept prepared per connection.
///
/// diesel never keeps an `eq_any` list prepared (its length varies), so every page read
/// cost a prepare and a close besides its two queries. Here the list is padded (with its
/// last id again) to a power of two of at least 8, so a connection keeps one of these
/// statements per power of two up to the largest page (7 up to 512 authors) and reuses
/// them.
struct Usernames<'a> {
    ids: Vec<&'a [u8]>,
}

impl<'a> Usernames<'a> {
    /// `ids` must not be empty.
    fn of(mut ids: Vec<&'a [u8]>) -> Self {
        if let Some(&last) = ids.last() {
            let padded = ids.len().next_power_of_two().max(8);
            ids.resize(padded, last);
        }
        Self { ids }
    }
}

impl QueryId for Usernames<'_> {
    type QueryId = ();
    // Not static: diesel then keys its cache by the SQL, which differs per list length.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for Usernames<'_> {
    type SqlType = (Binary, Text);
}

impl QueryFragment<Mysql> for Usernames<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        out.push_sql("SELECT id, username FROM users WHERE id IN (");
        for (i, id) in self.ids.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<Binary, _>(*id)?;
        }
        out.push_sql(")");
        Ok(())
    }
}

async fn update_body(
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

async fn soft_delete(conn: &mut AsyncMysqlConnection, id: CommentId) -> Result<()> {
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
fn comment_result<T>(r: Result<T>) -> domain::Result<T> {
    r.map_err(|e| match e {
        Error::Query(diesel::result::Error::NotFound) => domain::Error::NotFound("comment"),
        other => other.into(),
    })
}

#[async_trait]
impl CommentStore for Database {
    async fn insert(&self, comment: NewComment) -> domain::Result<Comment> {
        Ok(with_conn!(self, |c| insert(c, comment, false))?)
    }

    async fn insert_mirrored(&self, comment: NewComment) -> domain::Result<Comment> {
        Ok(with_conn!(self, |c| insert(c, comment, true))?)
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
        Ok(with_conn!(self, |c| live_by_id(c, id))?)
    }

    async fn newest_for_video(
        &self,
        video: &VideoId,
        page: PageRequest<CommentId>,
    ) -> domain::Result<Page<Comment, CommentId>> {
        Ok(with_conn!(self, |c| newest_for_video(c, video, page))?)
    }

    async fn after_position(
        &self,
        video: &VideoId,
        after: u64,
        limit: u16,
    ) -> domain::Result<Vec<Comment>> {
        Ok(with_conn!(self, |c| after_position(
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
        comment_result(with_conn!(self, |c| update_body(c, id, body)))
    }

    async fn soft_delete(&self, id: CommentId) -> domain::Result<()> {
        comment_result(with_conn!(self, |c| soft_delete(c, id)))
    }
}
