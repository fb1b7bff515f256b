//! Attaching authors' usernames to comment rows, with one statement kept prepared per
//! connection.

use std::collections::HashMap;

use diesel::mysql::Mysql;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Binary, Text};
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use domain::Comment;

use super::{CommentRow, into_comment};
use crate::error::{Error, Result};

/// Attaches each row's author name, fetched by primary key in one query.
pub(super) async fn with_authors(
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
