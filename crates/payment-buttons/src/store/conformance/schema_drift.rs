//! The schema cannot drift: a migrated database is compared, column by column, with the hand-written
//! Diesel `table!` descriptions (`schema.rs`), as a `diesel print-schema` diff would (lemmy's CI check),
//! without the CLI: the columns, their order, their SQL types and whether they are nullable.

use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Text};

use crate::diesel::AnyConnection;

/// The core's `schema.rs`, as compiled into this crate.
pub const CORE_SCHEMA_RS: &str = include_str!("../../diesel/schema.rs");

/// One column: its name, its Diesel SQL type (`Text`, `BigInt`...) and whether it is nullable.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    name: String,
    sql_type: String,
    nullable: bool,
}

/// The tables `table!` describes in `source`, with their columns in order.
fn described(source: &str) -> Vec<(String, Vec<Column>)> {
    let mut tables = Vec::new();
    // Inside a `table!` block: its name (empty until read), its columns, and the depth of braces.
    let mut current: Option<(String, Vec<Column>, usize)> = None;
    for line in source.lines().map(str::trim) {
        if line.starts_with("//") || line.is_empty() {
            continue;
        }
        let Some((name, columns, depth)) = current.as_mut() else {
            if line.starts_with("diesel::table!") {
                current = Some((String::new(), Vec::new(), line.matches('{').count()));
            }
            continue;
        };
        if name.is_empty() {
            if let Some((table, _)) = line.split_once('(') {
                *name = table.trim().to_owned();
            }
        } else if let Some((column, sql_type)) = line.split_once("->") {
            let sql_type = sql_type.trim().trim_end_matches(',').trim();
            let (nullable, sql_type) = match sql_type.strip_prefix("Nullable<").and_then(|t| t.strip_suffix('>')) {
                Some(inner) => (true, inner),
                None => (false, sql_type),
            };
            columns.push(Column {
                name: column.trim().to_owned(),
                sql_type: sql_type.to_owned(),
                nullable,
            });
        }
        *depth = (*depth + line.matches('{').count()).saturating_sub(line.matches('}').count());
        if *depth == 0
            && let Some((name, columns, _)) = current.take()
        {
            tables.push((name, columns));
        }
    }
    tables
}

#[derive(diesel::QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    r#type: String,
    #[diesel(sql_type = BigInt)]
    notnull: i64,
    #[diesel(sql_type = BigInt)]
    pk: i64,
}

#[derive(diesel::QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

#[derive(diesel::QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    name: String,
}

/// The Diesel SQL type a database's declared type stands for in these migrations.
fn diesel_type(declared: &str, primary_key: bool) -> String {
    match declared.to_ascii_lowercase().as_str() {
        "text" => "Text",
        "bigint" => "BigInt",
        // SQLite's auto-increment key must be declared INTEGER; it holds 64-bit values.
        "integer" if primary_key => "BigInt",
        "integer" => "Integer",
        "timestamp" | "timestamp without time zone" => "Timestamp",
        "blob" | "bytea" => "Binary",
        "boolean" | "bool" => "Bool",
        other => return format!("unknown SQL type {other:?}"),
    }
    .to_owned()
}

/// The columns of `table` in the database, in order.
fn in_database(conn: &mut AnyConnection, table: &str) -> Result<Vec<Column>, diesel::result::Error> {
    Ok(match conn {
        AnyConnection::Sqlite(c) => diesel::sql_query("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)")
            .bind::<Text, _>(table)
            .load::<SqliteColumn>(c)?
            .into_iter()
            .map(|col| Column {
                sql_type: diesel_type(&col.r#type, col.pk == 1 && col.r#type.eq_ignore_ascii_case("integer")),
                nullable: col.notnull == 0,
                name: col.name,
            })
            .collect(),
        AnyConnection::Postgresql(c) => diesel::sql_query(
            "SELECT column_name::text AS column_name, data_type::text AS data_type, is_nullable::text AS is_nullable \
             FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 \
             ORDER BY ordinal_position",
        )
        .bind::<Text, _>(table)
        .load::<PgColumn>(c)?
        .into_iter()
        .map(|col| Column {
            sql_type: diesel_type(&col.data_type, false),
            nullable: col.is_nullable == "YES",
            name: col.column_name,
        })
        .collect(),
    })
}

/// The tables of the database, Diesel's own migration table aside.
fn tables_in_database(conn: &mut AnyConnection) -> Result<Vec<String>, diesel::result::Error> {
    let names: Vec<TableName> = match conn {
        AnyConnection::Sqlite(c) => diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> '__diesel_schema_migrations'",
        )
        .load(c)?,
        AnyConnection::Postgresql(c) => diesel::sql_query(
            "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = current_schema() \
             AND table_type = 'BASE TABLE' AND table_name <> '__diesel_schema_migrations'",
        )
        .load(c)?,
    };
    let mut names: Vec<String> = names.into_iter().map(|t| t.name).collect();
    names.sort();
    Ok(names)
}

/// Every difference between the migrated database behind `conn` and the `table!` descriptions of
/// `schemas` (the `schema.rs` texts that, together, describe every table of the database): a table or a
/// column missing on either side, in another order, of another type or nullability. Empty when they
/// agree.
pub fn schema_drift(conn: &mut AnyConnection, schemas: &[&str]) -> Result<Vec<String>, diesel::result::Error> {
    let described: Vec<(String, Vec<Column>)> = schemas.iter().flat_map(|s| described(s)).collect();
    let mut drift = Vec::new();
    let in_db = tables_in_database(conn)?;
    for table in &in_db {
        if !described.iter().any(|(name, _)| name == table) {
            drift.push(format!(
                "table {table} is in the database but no schema.rs describes it"
            ));
        }
    }
    for (table, columns) in &described {
        if !in_db.contains(table) {
            drift.push(format!("table {table} is described but not in the database"));
            continue;
        }
        let actual = in_database(conn, table)?;
        if actual != *columns {
            drift.push(format!(
                "table {table}:\n  schema.rs: {}\n  database:  {}",
                show(columns),
                show(&actual)
            ));
        }
    }
    Ok(drift)
}

fn show(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| {
            if c.nullable {
                format!("{} Nullable<{}>", c.name, c.sql_type)
            } else {
                format!("{} {}", c.name, c.sql_type)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_core_schema_reads_as_its_tables_and_columns() {
        let tables = described(CORE_SCHEMA_RS);
        let names: Vec<&str> = tables.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "payments",
                "gateway_messages",
                "message_queue",
                "applied_notifications",
                "events",
                "outbox_claims",
                "refunds"
            ]
        );
        let queue = &tables[2].1;
        assert_eq!(
            queue[3],
            Column {
                name: "claimed_until".into(),
                sql_type: "Timestamp".into(),
                nullable: true
            }
        );
    }
}
