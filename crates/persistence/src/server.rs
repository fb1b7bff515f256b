//! The database server itself: URL validation and creating, listing and dropping databases
//! (used by `migrate` on a fresh server and by the per-test databases).

use std::fmt;

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, RunQueryDsl, SimpleAsyncConnection};
use url::Url;

use crate::error::{Error, Result};

/// A validated `mysql://user[:password]@host[:port]/database` URL. Its `Display` hides the
/// password, so it is safe to log.
#[derive(Clone)]
pub struct DatabaseUrl {
    url: Url,
}

impl DatabaseUrl {
    /// Checks the scheme, host and database name.
    pub fn parse(raw: &str) -> Result<Self> {
        let url = Url::parse(raw).map_err(|e| Error::BadUrl(e.to_string()))?;
        if url.scheme() != "mysql" {
            return Err(Error::BadUrl(format!(
                "scheme must be mysql://, not {}://",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(Error::BadUrl("a host is required".into()));
        }
        let this = Self { url };
        let name = this.database_name();
        if !valid_database_name(name) {
            return Err(Error::BadUrl(format!(
                "database name {name:?} must be 1 to 64 letters, digits or '_'"
            )));
        }
        Ok(this)
    }

    /// The database the URL points at.
    pub fn database_name(&self) -> &str {
        self.url.path().trim_start_matches('/')
    }

    /// The same server and credentials, pointing at database `name`.
    pub fn with_database(&self, name: &str) -> Result<Self> {
        if !valid_database_name(name) {
            return Err(Error::BadUrl(format!("bad database name {name:?}")));
        }
        let mut url = self.url.clone();
        url.set_path(&format!("/{name}"));
        Ok(Self { url })
    }

    /// The full URL, password included: for connecting only, never for logs.
    pub fn expose(&self) -> &str {
        self.url.as_str()
    }

    fn server_only(&self) -> String {
        let mut url = self.url.clone();
        url.set_path("/");
        url.to_string()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.url.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("****"));
        }
        f.write_str(shown.as_str())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

fn valid_database_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub(crate) async fn connect_server(url: &DatabaseUrl) -> Result<AsyncMysqlConnection> {
    AsyncMysqlConnection::establish(&url.server_only())
        .await
        .map_err(|e| Error::Unavailable(e.to_string()))
}

/// Creates the URL's database if it does not exist yet (utf8mb4, case-insensitive).
pub async fn ensure_database_exists(url: &DatabaseUrl) -> Result<()> {
    let mut conn = connect_server(url).await?;
    // The name was validated to [A-Za-z0-9_], so quoting it with backticks is safe.
    conn.batch_execute(&format!(
        "CREATE DATABASE IF NOT EXISTS `{}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        url.database_name()
    ))
    .await?;
    Ok(())
}

/// Drops the database and every row in it (development and test resets only).
pub async fn drop_database(url: &DatabaseUrl) -> Result<()> {
    let mut conn = connect_server(url).await?;
    conn.batch_execute(&format!(
        "DROP DATABASE IF EXISTS `{}`",
        url.database_name()
    ))
    .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct SchemaName {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Names of databases on the server starting with `prefix`.
#[cfg_attr(not(feature = "test-support"), allow(dead_code))]
pub(crate) async fn databases_with_prefix(url: &DatabaseUrl, prefix: &str) -> Result<Vec<String>> {
    let mut conn = connect_server(url).await?;
    let rows: Vec<SchemaName> = diesel::sql_query(
        "SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE CONCAT(?, '%')",
    )
    .bind::<Text, _>(prefix)
    .load(&mut conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(DatabaseUrl::parse("mysql://root@127.0.0.1:3306/app_1").is_ok());
        for bad in [
            "postgres://root@localhost/app",
            "mysql://root@127.0.0.1:3306/",
            "mysql://root@127.0.0.1:3306/bad-name",
            "not a url",
            "mysql:///app",
        ] {
            assert!(
                DatabaseUrl::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn display_hides_the_password() {
        let url = DatabaseUrl::parse("mysql://app:s3cret@db:3306/app").ok();
        let shown = url.map(|u| u.to_string()).unwrap_or_default();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("app:****@db"), "{shown}");
    }
}
