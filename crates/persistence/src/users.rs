//! `users` rows and the [`UserStore`] port.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use domain::ports::UserStore;
use domain::{Email, NewUser, Page, PageRequest, Role, User, UserId, Username};

use crate::columns::{from_column, now, to_column, uuid_from_column};
use crate::database::{Database, with_conn};
use crate::error::{Error, Result};
use crate::schema::users;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::mysql::Mysql))]
pub(crate) struct UserRow {
    id: Vec<u8>,
    email: String,
    username: String,
    password_hash: String,
    role: String,
    is_active: bool,
    last_login_at: Option<chrono::NaiveDateTime>,
    inserted_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

impl TryFrom<UserRow> for User {
    type Error = Error;
    fn try_from(row: UserRow) -> Result<Self> {
        Ok(User {
            id: UserId::from_uuid(uuid_from_column(&row.id)?),
            email: Email::parse(&row.email).map_err(Error::corrupt)?,
            username: Username::parse(&row.username).map_err(Error::corrupt)?,
            password_hash: row.password_hash,
            role: row.role.parse::<Role>().map_err(Error::corrupt)?,
            is_active: row.is_active,
            last_login_at: row.last_login_at.map(from_column),
            inserted_at: from_column(row.inserted_at),
            updated_at: from_column(row.updated_at),
        })
    }
}

pub(crate) async fn insert(conn: &mut AsyncMysqlConnection, new: NewUser) -> Result<User> {
    let at = to_column(now());
    let row = UserRow {
        id: UserId::generate().to_bytes().to_vec(),
        email: new.email.into_inner(),
        username: new.username.into_inner(),
        password_hash: new.password_hash,
        role: new.role.as_str().to_owned(),
        is_active: true,
        last_login_at: None,
        inserted_at: at,
        updated_at: at,
    };
    diesel::insert_into(users::table)
        .values(&row)
        .execute(conn)
        .await?;
    row.try_into()
}

pub(crate) async fn by_id(conn: &mut AsyncMysqlConnection, id: UserId) -> Result<Option<User>> {
    find(id)
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(User::try_from)
        .transpose()
}

pub(crate) async fn by_email(
    conn: &mut AsyncMysqlConnection,
    email: &Email,
) -> Result<Option<User>> {
    users::table
        .filter(users::email.eq(email.as_str()))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(User::try_from)
        .transpose()
}

/// `NotFound` unless exactly one row was touched.
fn one_row(updated: usize) -> Result<()> {
    if updated == 0 {
        return Err(Error::Query(diesel::result::Error::NotFound));
    }
    Ok(())
}

/// The character that escapes `%`, `_` and itself in LIKE patterns. Not a backslash: a
/// backslash in `ESCAPE '\'` would end the SQL string early unless `NO_BACKSLASH_ESCAPES`.
const LIKE_ESCAPE: char = '!';

/// A LIKE pattern matching values that start with `prefix` taken literally.
fn starts_with_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 2);
    for c in prefix.chars() {
        if matches!(c, '%' | '_') || c == LIKE_ESCAPE {
            pattern.push(LIKE_ESCAPE);
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Users newest first (ids are UUIDv7), optionally only those whose username or email
/// starts with `prefix`; reads one row more than asked to know whether a next page exists.
async fn search(
    conn: &mut AsyncMysqlConnection,
    prefix: Option<&str>,
    page: PageRequest<UserId>,
) -> Result<Page<User, UserId>> {
    let limit = usize::from(page.limit());
    let mut query = users::table
        .select(UserRow::as_select())
        .order(users::id.desc())
        .limit(i64::from(page.limit()) + 1)
        .into_boxed();
    if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
        // Usernames compare ignoring case (their collation); emails exactly, as stored:
        // lower-cased.
        let email_pattern = starts_with_pattern(&prefix.to_lowercase());
        query = query.filter(
            users::username
                .like(starts_with_pattern(prefix))
                .escape(LIKE_ESCAPE)
                .or(users::email.like(email_pattern).escape(LIKE_ESCAPE)),
        );
    }
    if let Some(before) = page.before() {
        query = query.filter(users::id.lt(before.to_bytes().to_vec()));
    }
    let rows: Vec<UserRow> = query.load(conn).await?;
    let more = rows.len() > limit;
    let items: Vec<User> = rows
        .into_iter()
        .take(limit)
        .map(User::try_from)
        .collect::<Result<_>>()?;
    let next = if more {
        items.last().map(|u| u.id)
    } else {
        None
    };
    Ok(Page { items, next })
}

fn find(id: UserId) -> diesel::dsl::Find<users::table, Vec<u8>> {
    users::table.find(id.to_bytes().to_vec())
}

/// Sets one column (and `updated_at`) of one user; `NotFound` if there is no such user.
/// A macro, not a function: diesel's changeset types do not name well as bounds.
macro_rules! update_user {
    ($db:expr, $id:expr, $change:expr) => {{
        let update =
            diesel::update(find($id)).set(($change, users::updated_at.eq(to_column(now()))));
        let n = with_conn!($db, |c| update.execute(c)).map_err(Error::from)?;
        Ok(one_row(n)?)
    }};
}

#[async_trait]
impl UserStore for Database {
    async fn insert(&self, user: NewUser) -> domain::Result<User> {
        Ok(with_conn!(self, |c| insert(c, user))?)
    }

    async fn by_id(&self, id: UserId) -> domain::Result<Option<User>> {
        Ok(with_conn!(self, |c| by_id(c, id))?)
    }

    async fn by_email(&self, email: &Email) -> domain::Result<Option<User>> {
        Ok(with_conn!(self, |c| by_email(c, email))?)
    }

    async fn record_login(&self, id: UserId, at: DateTime<Utc>) -> domain::Result<()> {
        update_user!(self, id, users::last_login_at.eq(Some(to_column(at))))
    }

    async fn set_role(&self, id: UserId, role: Role) -> domain::Result<()> {
        update_user!(self, id, users::role.eq(role.as_str()))
    }

    async fn set_active(&self, id: UserId, active: bool) -> domain::Result<()> {
        update_user!(self, id, users::is_active.eq(active))
    }

    async fn set_username(&self, id: UserId, username: &Username) -> domain::Result<()> {
        update_user!(self, id, users::username.eq(username.as_str()))
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> domain::Result<()> {
        update_user!(self, id, users::password_hash.eq(hash))
    }

    async fn search(
        &self,
        prefix: Option<&str>,
        page: PageRequest<UserId>,
    ) -> domain::Result<Page<User, UserId>> {
        Ok(with_conn!(self, |c| search(c, prefix, page))?)
    }
}

#[cfg(test)]
mod tests {
    use super::starts_with_pattern;

    #[test]
    fn like_wildcards_in_a_prefix_are_taken_literally() {
        assert_eq!(starts_with_pattern("ann"), "ann%");
        assert_eq!(starts_with_pattern("a%b_c!"), "a!%b!_c!!%");
        assert_eq!(starts_with_pattern(""), "%");
    }
}
