//! Embedded, versioned schema migrations (server.md §10.2).
//!
//! Numbered SQL files compiled into the binary, applied in order, each in one
//! transaction together with its `flow_server.schema_migrations` row, under a
//! session-level `pg_advisory_lock`, so replicas starting together apply each
//! migration exactly once. A database whose version is newer than the binary
//! is refused (exit 1).

use thiserror::Error;
use tokio_postgres::Client;

/// One embedded migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, ascending and contiguous from 1.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "init",
    sql: include_str!("migrations/0001_init.sql"),
}];

/// The `pg_advisory_lock` key ("ovflowmg").
pub const LOCK_KEY: i64 = 0x6f76_666c_6f77_6d67;

/// The schema version this binary writes.
pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Why the schema could not be brought up to date.
#[derive(Debug, Error)]
pub enum MigrateError {
    /// Fatal: an older binary must not write a newer schema.
    #[error("database schema version {db} is newer than this binary ({binary})")]
    TooNew { db: i32, binary: i32 },
    /// Possibly transient (boot retries it).
    #[error("migration {version} ({name}): {detail}")]
    Apply {
        version: i32,
        name: &'static str,
        detail: String,
    },
    #[error("{0}")]
    Db(String),
}

/// The migrations to apply to a database at version `current`.
pub fn plan(current: i32, all: &[Migration]) -> Result<&[Migration], MigrateError> {
    let binary = all.last().map_or(0, |m| m.version);
    if current > binary {
        return Err(MigrateError::TooNew {
            db: current,
            binary,
        });
    }
    Ok(&all[all.partition_point(|m| m.version <= current)..])
}

/// Brings the schema up to date; returns the resulting version.
pub async fn migrate(client: &mut Client) -> Result<i32, MigrateError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(db)?;
    let result = migrate_locked(client).await;
    // On a broken connection the server releases the lock by itself.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    result
}

async fn migrate_locked(client: &mut Client) -> Result<i32, MigrateError> {
    let current = current_version(client).await?;
    let todo = plan(current, MIGRATIONS)?;
    let mut version = current;
    for m in todo {
        apply(client, m).await.map_err(|e| MigrateError::Apply {
            version: m.version,
            name: m.name,
            detail: super::error_detail(&e),
        })?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "postgres migration applied"
        );
        version = m.version;
    }
    Ok(version)
}

/// 0 for a database that has never seen this server.
pub async fn current_version(client: &Client) -> Result<i32, MigrateError> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('flow_server.schema_migrations') IS NOT NULL",
            &[],
        )
        .await
        .map_err(db)?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let v: i32 = client
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM flow_server.schema_migrations",
            &[],
        )
        .await
        .map_err(db)?
        .get(0);
    Ok(v)
}

async fn apply(client: &mut Client, m: &Migration) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    // Schema changes may outlast the 5 s budget of ordinary statements.
    tx.batch_execute("SET LOCAL statement_timeout = '120s'")
        .await?;
    tx.batch_execute(m.sql).await?;
    tx.execute(
        "INSERT INTO flow_server.schema_migrations (version, name) VALUES ($1, $2)",
        &[&m.version, &m.name],
    )
    .await?;
    tx.commit().await
}

fn db(e: tokio_postgres::Error) -> MigrateError {
    MigrateError::Db(super::error_detail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_migrations_are_contiguous_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
            assert!(!m.sql.trim().is_empty());
        }
        assert_eq!(latest(), MIGRATIONS.len() as i32);
        assert!(
            MIGRATIONS[0]
                .sql
                .contains("CREATE SCHEMA IF NOT EXISTS flow_server")
        );
    }

    #[test]
    fn plan_applies_what_is_missing_and_refuses_newer_databases() {
        const ALL: &[Migration] = &[
            Migration {
                version: 1,
                name: "a",
                sql: "x",
            },
            Migration {
                version: 2,
                name: "b",
                sql: "y",
            },
        ];
        assert_eq!(plan(0, ALL).unwrap(), ALL);
        assert_eq!(plan(1, ALL).unwrap(), &ALL[1..]);
        assert!(plan(2, ALL).unwrap().is_empty());
        assert_eq!(
            plan(3, ALL).unwrap_err().to_string(),
            "database schema version 3 is newer than this binary (2)"
        );
    }
}
