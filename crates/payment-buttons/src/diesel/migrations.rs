//! Migrations: the core's set ([`CORE`], embedded from this package's `migrations/`), and the
//! application's own set beside it in the same database.
//!
//! Diesel keeps one `__diesel_schema_migrations` table of applied versions for both sets, so:
//! - a version is unique across the sets: [`run_pending`] refuses an application set that repeats one of
//!   the core's versions;
//! - the core's set runs first, then the application's (an application's tables may reference the core's:
//!   `payments`, `events`); reverting goes the other way, the application's set first;
//! - a set is reverted by its own applied versions, newest first. (Diesel's own `revert_last_migration`
//!   reverts the newest version of the shared table whichever set it belongs to, and fails when it is the
//!   other set's.)
//!
//! The core's versions are the dates at which its tables were first created (`2026-01-01-000001` made the
//! log, the queue, payments, idempotency keys and the outbox) and, for later core migrations, dates in
//! ranges the project reserves per change (see `docs/schema.md`). [`versions`] lists a set's versions.
//!
//! On PostgreSQL both sets run under one advisory lock, so several instances can start at once.

use diesel::migration::{Migration, MigrationSource};
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::connection::AnyConnection;
use super::{OpenError, postgres, sqlite};

/// One set of migrations, written once per backend (same tables, each backend's SQL).
///
/// An application embeds its own with `diesel_migrations::embed_migrations!`:
///
/// ```ignore
/// use diesel_migrations::embed_migrations;
/// use payment_buttons::diesel::migrations::MigrationSet;
/// static SHOP: MigrationSet =
///     MigrationSet::new("shop", embed_migrations!("migrations/sqlite"), embed_migrations!("migrations/postgres"));
/// ```
pub struct MigrationSet {
    name: &'static str,
    sqlite: EmbeddedMigrations,
    postgres: EmbeddedMigrations,
}

impl std::fmt::Debug for MigrationSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationSet")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl MigrationSet {
    /// A set called `name` (for error messages) from its SQLite and PostgreSQL migrations.
    pub const fn new(name: &'static str, sqlite: EmbeddedMigrations, postgres: EmbeddedMigrations) -> Self {
        MigrationSet { name, sqlite, postgres }
    }

    /// The set's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The core's tables: the gateway log and its queue, payments, applied idempotency keys, the event
/// outbox and its claims.
pub static CORE: MigrationSet = MigrationSet::new(
    "payment-buttons",
    embed_migrations!("migrations/sqlite"),
    embed_migrations!("migrations/postgres"),
);

type HarnessError = Box<dyn std::error::Error + Send + Sync>;

/// A borrowed embedded set as Diesel's migration source (Diesel implements it for owned sets only).
struct Source<'a>(&'a EmbeddedMigrations);

impl<DB: diesel::backend::Backend> MigrationSource<DB> for Source<'_> {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<DB>>>> {
        MigrationSource::<DB>::migrations(self.0)
    }
}

fn failed(set: &MigrationSet, e: impl std::fmt::Display) -> OpenError {
    OpenError::Migrate(format!("{} migrations: {e}", set.name))
}

/// The versions of `set` (for SQLite; both backends have the same), oldest first, as Diesel records them
/// in `__diesel_schema_migrations`: the folder's date without its dashes.
///
/// ```
/// let core = payment_buttons::diesel::migrations::versions(&payment_buttons::diesel::migrations::CORE);
/// assert_eq!(core.first().map(String::as_str), Some("20260101000001")); // 2026-01-01-000001_initial
/// ```
pub fn versions(set: &MigrationSet) -> Vec<String> {
    let migrations: Vec<Box<dyn Migration<Sqlite>>> =
        MigrationSource::<Sqlite>::migrations(&set.sqlite).unwrap_or_default();
    let mut versions: Vec<String> = migrations.iter().map(|m| m.name().version().to_string()).collect();
    versions.sort();
    versions
}

/// Refuses an application set sharing a version with the core's: Diesel would take one for the other.
fn check_disjoint(app: &MigrationSet) -> Result<(), OpenError> {
    let core = versions(&CORE);
    match versions(app).into_iter().find(|v| core.contains(v)) {
        Some(v) => Err(failed(
            app,
            format!("version {v} is also a payment-buttons core migration; give it another version"),
        )),
        None => Ok(()),
    }
}

/// Applies every pending migration: the core's set, then `app`'s. On PostgreSQL under an advisory lock,
/// so that instances starting together migrate one after the other (the later ones find nothing to do).
pub fn run_pending(conn: &mut AnyConnection, app: Option<&MigrationSet>) -> Result<(), OpenError> {
    if let Some(app) = app {
        check_disjoint(app)?;
    }
    let sets: Vec<&MigrationSet> = std::iter::once(&CORE).chain(app).collect();
    match conn {
        AnyConnection::Sqlite(c) => {
            sqlite::set_pragmas(c).map_err(|e| failed(&CORE, e))?;
            for set in sets {
                c.run_pending_migrations(Source(&set.sqlite))
                    .map_err(|e| failed(set, e))?;
            }
            Ok(())
        }
        AnyConnection::Postgresql(c) => {
            postgres::lock_migrations(c).map_err(|e| failed(&CORE, e))?;
            let result = sets.into_iter().try_for_each(|set| {
                c.run_pending_migrations(Source(&set.postgres))
                    .map(drop)
                    .map_err(|e| failed(set, e))
            });
            // Released even when a migration failed: the connection may live on in a caller.
            postgres::unlock_migrations(c).map_err(|e| failed(&CORE, e))?;
            result
        }
    }
}

/// Reverts, newest first, the applied migrations of `set` whose version is newer than `newer_than`
/// (every one of them when `None`), whatever the other set applied in between. Returns the versions
/// reverted.
pub fn revert(
    conn: &mut AnyConnection,
    set: &MigrationSet,
    newer_than: Option<&str>,
) -> Result<Vec<String>, OpenError> {
    fn in_set<DB, H>(
        harness: &mut H,
        source: &EmbeddedMigrations,
        newer_than: Option<&str>,
    ) -> Result<Vec<String>, HarnessError>
    where
        DB: diesel::backend::Backend,
        H: MigrationHarness<DB>,
        EmbeddedMigrations: MigrationSource<DB>,
    {
        let migrations = source.migrations()?;
        let mut reverted = Vec::new();
        // Applied versions come newest first.
        for applied in harness.applied_migrations()? {
            let version = applied.to_string();
            if newer_than.is_some_and(|floor| comparable(&version) <= comparable(floor)) {
                continue;
            }
            if let Some(migration) = migrations.iter().find(|m| m.name().version() == applied) {
                harness.revert_migration(migration.as_ref())?;
                reverted.push(version);
            }
        }
        Ok(reverted)
    }
    match conn {
        AnyConnection::Sqlite(c) => in_set::<Sqlite, _>(c, &set.sqlite, newer_than).map_err(|e| failed(set, e)),
        AnyConnection::Postgresql(c) => {
            postgres::lock_migrations(c).map_err(|e| failed(set, e))?;
            let result = in_set::<Pg, _>(c, &set.postgres, newer_than).map_err(|e| failed(set, e));
            postgres::unlock_migrations(c).map_err(|e| failed(set, e))?;
            result
        }
    }
}

/// Reverts every migration of `app`, then every migration of the core (drops every table of both): for
/// tests and for starting over.
pub fn revert_all(conn: &mut AnyConnection, app: Option<&MigrationSet>) -> Result<(), OpenError> {
    if let Some(app) = app {
        revert(conn, app, None)?;
    }
    revert(conn, &CORE, None).map(drop)
}

/// A version without its dashes: `2026-01-04-000001` and `20260104000001` compare alike.
fn comparable(version: &str) -> String {
    version.replace('-', "")
}
