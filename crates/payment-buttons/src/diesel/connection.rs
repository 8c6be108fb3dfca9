//! One connection type for both databases, the URL that picks one, and the connection pool.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};

use super::OpenError;
use super::writer_queue::{SQLITE_WRITERS, WriterClass};

/// A connection to either database. Queries in the common subset of SQL are written once against it;
/// what only one backend needs is written per variant (`match conn { AnyConnection::Postgresql(c) => ...,
/// AnyConnection::Sqlite(c) => ... }`).
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// PostgreSQL.
    Postgresql(PgConnection),
    /// SQLite.
    Sqlite(SqliteConnection),
}

/// Which database a `database.url` names. A PostgreSQL URL may hold a password: `Debug` and
/// [`DatabaseUrl::redacted`] hide it.
///
/// ```
/// use payment_buttons::diesel::DatabaseUrl;
/// let url = DatabaseUrl::parse("postgres://shop:s3cret@db.example/pay").unwrap();
/// assert_eq!(url.redacted(), "postgres://shop:***@db.example/pay");
/// assert!(!format!("{url:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file (created with its parent directory when missing).
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database (`sqlite::memory:`), for tests: one connection only.
    SqliteMemory,
    /// A PostgreSQL server (`postgres://` or `postgresql://`). Kept out of Debug output: it may hold a
    /// password.
    Postgres(PostgresUrl),
}

/// A PostgreSQL URL. Its Debug output hides everything after the scheme, which may hold a password.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresUrl(postgres://...)")
    }
}

impl DatabaseUrl {
    /// Reads a `database.url` by its scheme.
    ///
    /// ```
    /// use std::path::PathBuf;
    /// use payment_buttons::diesel::DatabaseUrl;
    /// assert_eq!(
    ///     DatabaseUrl::parse("sqlite://data/pay.sqlite3").unwrap(),
    ///     DatabaseUrl::SqliteFile(PathBuf::from("data/pay.sqlite3"))
    /// );
    /// assert_eq!(DatabaseUrl::parse("sqlite::memory:").unwrap(), DatabaseUrl::SqliteMemory);
    /// assert!(DatabaseUrl::parse("postgres://pay@db/pay").unwrap().is_postgres());
    /// let err = DatabaseUrl::parse("mysql://root:secret@db/pay").unwrap_err().to_string();
    /// assert!(err.contains("unsupported scheme \"mysql\"") && !err.contains("secret"));
    /// ```
    pub fn parse(url: &str) -> Result<Self, OpenError> {
        let url = url.trim();
        if url == "sqlite::memory:" {
            return Ok(DatabaseUrl::SqliteMemory);
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(OpenError::Url(
                    "the sqlite URL names no file (sqlite://path/to/file.sqlite3)".into(),
                ));
            }
            if path.contains('?') || path.contains('#') {
                return Err(OpenError::Url("sqlite URL options (?...) are not supported".into()));
            }
            return Ok(DatabaseUrl::SqliteFile(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // The parser's message names what is wrong, never the URL (which may hold a password).
            url::Url::parse(url).map_err(|e| OpenError::Url(format!("is not a valid PostgreSQL URL ({e})")))?;
            return Ok(DatabaseUrl::Postgres(PostgresUrl(url.to_owned())));
        }
        // Only the scheme is repeated: the rest may hold a password.
        let scheme: String = match url.split_once(':') {
            Some((scheme, _)) => scheme.chars().take(20).collect(),
            None => String::new(),
        };
        Err(OpenError::Url(format!(
            "unsupported scheme {scheme:?} (expected sqlite://path, sqlite::memory:, postgres:// or postgresql://)"
        )))
    }

    /// True for PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, DatabaseUrl::Postgres(_))
    }

    /// The SQLite file, when the database is a SQLite file.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            DatabaseUrl::SqliteFile(path) => Some(path),
            DatabaseUrl::SqliteMemory | DatabaseUrl::Postgres(_) => None,
        }
    }

    /// The URL with any password replaced by `***`, for logs and start-up messages.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::SqliteFile(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::SqliteMemory => "sqlite::memory:".to_owned(),
            DatabaseUrl::Postgres(PostgresUrl(url)) => redact_postgres(url),
        }
    }

    /// Opens one connection, creating a SQLite file's directory first. A SQLite connection gets its
    /// pragmas here, pooled or not: without the busy timeout, a second connection (a `migrate` beside a
    /// running server, a test beside a store it just dropped) fails with "database is locked" instead of waiting.
    pub fn connect(&self) -> Result<AnyConnection, OpenError> {
        match self {
            DatabaseUrl::SqliteFile(path) => {
                create_parent_dir(path)?;
                let name = path
                    .to_str()
                    .ok_or_else(|| OpenError::Url("the sqlite path is not valid UTF-8".into()))?;
                let mut conn = SqliteConnection::establish(name)
                    .map_err(|e| OpenError::Connect(format!("sqlite file {}: {e}", path.display())))?;
                super::sqlite::set_pragmas(&mut conn)
                    .map_err(|e| OpenError::Connect(format!("sqlite file {}: {e}", path.display())))?;
                Ok(AnyConnection::Sqlite(conn))
            }
            DatabaseUrl::SqliteMemory => {
                let mut conn = SqliteConnection::establish(":memory:")
                    .map_err(|e| OpenError::Connect(format!("sqlite in memory: {e}")))?;
                super::sqlite::set_pragmas(&mut conn)
                    .map_err(|e| OpenError::Connect(format!("sqlite in memory: {e}")))?;
                Ok(AnyConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(PostgresUrl(url)) => PgConnection::establish(url)
                .map(AnyConnection::Postgresql)
                .map_err(|e| OpenError::Connect(format!("postgresql: {e}"))),
        }
    }
}

impl Default for DatabaseUrl {
    /// `sqlite://data/librement.sqlite3`: the zero-configuration database.
    fn default() -> Self {
        DatabaseUrl::SqliteFile(PathBuf::from("data/librement.sqlite3"))
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn redact_postgres(text: &str) -> String {
    let Ok(mut url) = url::Url::parse(text) else {
        return "postgres://***".to_owned();
    };
    if url.password().is_some() && url.set_password(Some("***")).is_err() {
        return "postgres://***".to_owned();
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("password") {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

fn create_parent_dir(path: &Path) -> Result<(), OpenError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir)
            .map_err(|e| OpenError::Connect(format!("cannot create directory {}: {e}", dir.display()))),
        _ => Ok(()),
    }
}

/// Opens pooled connections for one [`DatabaseUrl`].
#[derive(Debug)]
pub(crate) struct Manager {
    url: DatabaseUrl,
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        // r2d2 wants diesel's error type; the OpenError text is the useful part.
        self.url
            .connect()
            .map_err(|e| r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(e.to_string())))
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// The pool of the store.
pub(crate) type Pool = r2d2::Pool<Manager>;

/// Builds the pool. Call after one direct connection succeeded, so that errors are already reported.
pub(crate) fn pool(url: &DatabaseUrl) -> Result<Pool, OpenError> {
    let size = match url {
        // Each in-memory connection would be a database of its own.
        DatabaseUrl::SqliteMemory => 1,
        DatabaseUrl::SqliteFile(_) | DatabaseUrl::Postgres(_) => 8,
    };
    r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(10))
        // No `SELECT 1` before every use: a broken connection fails its query, r2d2 drops it, and the caller
        // (a gateway that resends, a worker that retries) tries again.
        .test_on_check_out(false)
        .build(Manager { url: url.clone() })
        .map_err(|e| OpenError::Connect(format!("connection pool: {e}")))
}

/// Runs `f` in a transaction that may write, as a background writer (see [`write_transaction_as`]).
pub(crate) fn write_transaction<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    write_transaction_as(WriterClass::Background, conn, f)
}

/// Runs `f` in a transaction that may write. On SQLite it starts with `BEGIN IMMEDIATE`, taking the
/// write lock first: a deferred transaction that reads and then writes can fail with
/// `SQLITE_BUSY_SNAPSHOT` when another connection wrote in between, whatever the busy timeout. On
/// PostgreSQL it is an ordinary transaction; rows are locked with `FOR UPDATE` where it matters.
///
/// SQLite has one writer at a time: writers of this process first wait for their turn in
/// [`SQLITE_WRITERS`], where `class` decides who goes first (the gateway log). (A work closure holds one
/// pooled connection and never nests write transactions, so the queue cannot deadlock.)
pub(crate) fn write_transaction_as<T, E, F>(class: WriterClass, conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        AnyConnection::Postgresql(_) => conn.transaction(f),
        AnyConnection::Sqlite(inner) => {
            let _turn = SQLITE_WRITERS.turn(class);
            // The transaction state lives in the inner connection, so the enum's transaction manager
            // (which delegates to it) commits or rolls back what was begun here.
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            match f(conn) {
                Ok(value) => {
                    AnyConnection::commit_transaction(conn)?;
                    Ok(value)
                }
                Err(e) => {
                    AnyConnection::rollback_transaction(conn)?;
                    Err(e)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_password_in_the_query_is_redacted() {
        let url = DatabaseUrl::parse("postgres://db.example/pay?user=shop&password=s3cret").expect("valid");
        assert!(!url.redacted().contains("s3cret"));
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn a_malformed_postgres_url_is_refused_without_being_quoted() {
        let err = DatabaseUrl::parse("postgres://shop:s3cret@[db/pay").expect_err("refused");
        let err = err.to_string();
        assert!(err.starts_with("database.url: is not a valid PostgreSQL URL"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn an_unsupported_database_is_named_without_quoting_the_url() {
        let err = DatabaseUrl::parse("mysql://root:s3cret@db/pay").expect_err("refused");
        assert_eq!(
            err.to_string(),
            "database.url: unsupported scheme \"mysql\" (expected sqlite://path, sqlite::memory:, postgres:// or postgresql://)"
        );
    }
}
