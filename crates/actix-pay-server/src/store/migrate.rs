//! The two embedded migration sets, chosen by backend.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::connection::{AnyConnection, DatabaseUrl};
use super::{OpenError, postgres, sqlite};

/// Paths are relative to this crate's manifest directory.
const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

type HarnessError = Box<dyn std::error::Error + Send + Sync>;

fn failed(e: impl std::fmt::Display) -> OpenError {
    OpenError::Migrate(e.to_string())
}

/// Applies every pending migration. On PostgreSQL under an advisory lock, so that instances starting
/// together migrate one after the other (the later ones find nothing to do).
pub fn run_pending(conn: &mut AnyConnection) -> Result<(), OpenError> {
    match conn {
        AnyConnection::Sqlite(c) => {
            sqlite::set_pragmas(c).map_err(failed)?;
            c.run_pending_migrations(SQLITE).map(drop).map_err(failed)
        }
        AnyConnection::Postgresql(c) => {
            postgres::lock_migrations(c).map_err(failed)?;
            let result = c.run_pending_migrations(POSTGRES).map(drop);
            // Released even when a migration failed: the connection may live on in a caller.
            postgres::unlock_migrations(c).map_err(failed)?;
            result.map_err(failed)
        }
    }
}

/// Reverts every applied migration (drops every table). For tests and for starting over.
pub fn revert_all(conn: &mut AnyConnection) -> Result<(), OpenError> {
    let result: Result<(), HarnessError> = match conn {
        AnyConnection::Sqlite(c) => c.revert_all_migrations(SQLITE).map(drop),
        AnyConnection::Postgresql(c) => {
            postgres::lock_migrations(c).map_err(failed)?;
            let result = c.revert_all_migrations(POSTGRES).map(drop);
            postgres::unlock_migrations(c).map_err(failed)?;
            result
        }
    };
    result.map_err(failed)
}

/// Connects to `url` and reverts the newest applied migration: rolling back one release, and the upgrade
/// tests, which make a database as the previous release left it.
pub fn revert_last_migration(url: &str) -> Result<(), OpenError> {
    let mut conn = DatabaseUrl::parse(url)?.connect()?;
    let result: Result<(), HarnessError> = match &mut conn {
        AnyConnection::Sqlite(c) => c.revert_last_migration(SQLITE).map(drop),
        AnyConnection::Postgresql(c) => {
            postgres::lock_migrations(c).map_err(failed)?;
            let result = c.revert_last_migration(POSTGRES).map(drop);
            postgres::unlock_migrations(c).map_err(failed)?;
            result
        }
    };
    result.map_err(failed)
}

/// Connects to `url` and applies pending migrations: the `migrate` subcommand.
pub fn run_migrations(url: &str) -> Result<(), OpenError> {
    let mut conn = DatabaseUrl::parse(url)?.connect()?;
    run_pending(&mut conn)
}

/// Connects to `url` and reverts every migration.
pub fn revert_all_migrations(url: &str) -> Result<(), OpenError> {
    let mut conn = DatabaseUrl::parse(url)?.connect()?;
    revert_all(&mut conn)
}
