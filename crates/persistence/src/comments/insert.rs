//! Posting a comment: one prepared `INSERT`, and the position its trigger gave it.

use std::sync::atomic::{AtomicBool, Ordering};

use diesel::mysql::Mysql;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Binary, Bool, Datetime, Nullable, Text, Unsigned};
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use domain::{ClientId, Comment, CommentId, NewComment};

use crate::columns::{now, to_column};
use crate::error::Result;
use crate::schema::comments;

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
pub(super) async fn insert(
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
