//! Every SQL statement of the Postgres backend (server.md §10.2).
//!
//! * publish: one READ COMMITTED transaction — lock the flow row, apply the
//!   fold ([`super::fold::Change`]), check caps, bump `last_seq`, insert the
//!   event, trim to `RING_CAPACITY`, `pg_notify`, commit;
//! * reads: snapshots in one `REPEATABLE READ READ ONLY` transaction, event
//!   ranges for catch-up and replay;
//! * delete and log lines.
//!
//! Statements are prepared once per connection (deadpool's statement cache)
//! and independent statements of one transaction are pipelined.

use deadpool_postgres::{Object, Pool};
use futures::try_join;
use openova_flow_contract::FlowLimits;
use openova_flow_contract::MessageType;
use openova_flow_contract::event_id::epoch_from_entropy;
use openova_flow_contract::log_lines::{LogLevel, LogLine, NewLogLine};
use rand::Rng;
use tokio_postgres::IsolationLevel;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::fold::{Change, exceeds};
use super::notify;
use crate::backend::{BackendError, LogQuery};

const SELECT_FLOW_FOR_UPDATE: &str = "SELECT epoch, last_seq, node_count, rel_count \
     FROM flow_server.flows WHERE flow_id = $1 FOR UPDATE";

const INSERT_FLOW: &str = "INSERT INTO flow_server.flows (flow_id, epoch) VALUES ($1, $2) \
     ON CONFLICT (flow_id) DO NOTHING RETURNING epoch, last_seq, node_count, rel_count";

const CLEAR_FLOW: &str = "WITH n AS (DELETE FROM flow_server.nodes WHERE flow_id = $1), \
     r AS (DELETE FROM flow_server.relationships WHERE flow_id = $1) SELECT 1";

const UPSERT_NODES: &str = "WITH up AS ( \
       INSERT INTO flow_server.nodes (flow_id, node_flow_id, node_id, node) \
       SELECT $1, u.f, u.i, u.n FROM unnest($2::text[], $3::text[], $4::text[]) AS u(f, i, n) \
       ON CONFLICT (flow_id, node_flow_id, node_id) DO UPDATE SET node = EXCLUDED.node \
       RETURNING (xmax = 0) AS inserted) \
     SELECT count(*) FILTER (WHERE inserted) FROM up";

const UPSERT_RELS: &str = "WITH up AS ( \
       INSERT INTO flow_server.relationships (flow_id, from_id, to_id, rel_type, rel) \
       SELECT $1, u.f, u.t, u.ty, u.r \
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(f, t, ty, r) \
       ON CONFLICT (flow_id, from_id, to_id, rel_type) DO UPDATE SET rel = EXCLUDED.rel \
       RETURNING (xmax = 0) AS inserted) \
     SELECT count(*) FILTER (WHERE inserted) FROM up";

const DELETE_NODES: &str = "WITH dn AS ( \
       DELETE FROM flow_server.nodes WHERE flow_id = $1 AND node_id = ANY($2::text[]) RETURNING 1), \
     dr AS ( \
       DELETE FROM flow_server.relationships \
       WHERE flow_id = $1 AND (from_id = ANY($2::text[]) OR to_id = ANY($2::text[])) RETURNING 1) \
     SELECT (SELECT count(*) FROM dn), (SELECT count(*) FROM dr)";

const DELETE_RELS: &str = "DELETE FROM flow_server.relationships r \
     USING unnest($2::text[], $3::text[], $4::text[]) AS p(f, t, ty) \
     WHERE r.flow_id = $1 AND r.from_id = p.f AND r.to_id = p.t AND r.rel_type = p.ty";

const UPDATE_FLOW: &str = "UPDATE flow_server.flows SET last_seq = $2, node_count = $3, \
     rel_count = $4, flow = COALESCE($5::text, flow), updated_at = now() WHERE flow_id = $1";

const INSERT_EVENT: &str = "INSERT INTO flow_server.events (flow_id, seq, event_type, payload) \
     VALUES ($1, $2, $3, $4)";

const TRIM_EVENTS: &str = "DELETE FROM flow_server.events WHERE flow_id = $1 AND seq <= $2";

const NOTIFY: &str = "SELECT pg_notify('openova_flow_events', $1::text)";

const SNAPSHOT_FLOW: &str =
    "SELECT epoch, last_seq, flow FROM flow_server.flows WHERE flow_id = $1";
const SNAPSHOT_NODES: &str = "SELECT node FROM flow_server.nodes WHERE flow_id = $1 \
     ORDER BY node_flow_id, node_id";
const SNAPSHOT_RELS: &str = "SELECT rel FROM flow_server.relationships WHERE flow_id = $1 \
     ORDER BY from_id, to_id, rel_type";

const EVENTS_AFTER: &str = "SELECT f.epoch, f.last_seq, e.seq, e.event_type, e.payload \
     FROM flow_server.flows f \
     LEFT JOIN LATERAL ( \
       SELECT ev.seq, ev.event_type, ev.payload FROM flow_server.events ev \
       WHERE ev.flow_id = f.flow_id AND ev.seq > $2 ORDER BY ev.seq LIMIT $3) e ON true \
     WHERE f.flow_id = $1 ORDER BY e.seq";

const REPLAY: &str = "SELECT e.seq, e.event_type, e.payload \
     FROM flow_server.events e JOIN flow_server.flows f ON f.flow_id = e.flow_id \
     WHERE e.flow_id = $1 AND f.epoch = $2 AND e.seq > $3 AND e.seq <= $4 ORDER BY e.seq";

const DELETE_FLOW: &str = "DELETE FROM flow_server.flows WHERE flow_id = $1";
const DELETE_LOG_LINES: &str = "DELETE FROM flow_server.log_lines WHERE flow_id = $1";

const INSERT_LOG_LINES: &str = "INSERT INTO flow_server.log_lines \
       (flow_id, node_id, exec_id, level, message, occurred_at) \
     SELECT $1, u.n, u.e, u.l, u.m, u.o \
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int8[]) \
       WITH ORDINALITY AS u(n, e, l, m, o, i) \
     ORDER BY u.i";

/// `GET …/log-lines` for each combination of filters (so each can use its index).
const LIST_LOG_LINES: [&str; 4] = [
    "SELECT seq, node_id, exec_id, level, message, occurred_at FROM flow_server.log_lines \
     WHERE flow_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    "SELECT seq, node_id, exec_id, level, message, occurred_at FROM flow_server.log_lines \
     WHERE flow_id = $1 AND seq > $2 AND exec_id = $4 ORDER BY seq LIMIT $3",
    "SELECT seq, node_id, exec_id, level, message, occurred_at FROM flow_server.log_lines \
     WHERE flow_id = $1 AND seq > $2 AND node_id = $4 ORDER BY seq LIMIT $3",
    "SELECT seq, node_id, exec_id, level, message, occurred_at FROM flow_server.log_lines \
     WHERE flow_id = $1 AND seq > $2 AND exec_id = $4 AND node_id = $5 ORDER BY seq LIMIT $3",
];

/// The stored state of one flow, read atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbSnapshot {
    pub epoch: String,
    pub last_seq: u64,
    /// Canonical JSON of the posted flow object, if any.
    pub flow: Option<String>,
    /// Canonical JSON, ordered by `(flowId, id)`.
    pub nodes: Vec<String>,
    /// Canonical JSON, ordered by `(fromId, toId, type)`.
    pub rels: Vec<String>,
}

/// One retained event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub seq: u64,
    pub event_type: MessageType,
    pub payload: String,
}

/// A flow's incarnation and the retained events after some seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    pub epoch: String,
    pub last_seq: u64,
    pub events: Vec<EventRow>,
}

/// The pool plus the settings the statements need.
#[derive(Debug)]
pub struct Store {
    pool: Pool,
    ring_capacity: u64,
    limits: FlowLimits,
}

fn be(e: tokio_postgres::Error) -> BackendError {
    super::backend_error(&e)
}

fn seq_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    pub fn new(pool: Pool, ring_capacity: usize, limits: FlowLimits) -> Self {
        Store {
            pool,
            ring_capacity: ring_capacity as u64,
            limits,
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn client(&self) -> Result<Object, BackendError> {
        self.pool.get().await.map_err(|e| {
            tracing::debug!(error = %e, "no postgres connection");
            BackendError::Unavailable
        })
    }

    /// `SELECT 1` on a pooled connection.
    pub async fn ping(&self) -> bool {
        match self.pool.get().await {
            Ok(c) => c.simple_query("SELECT 1").await.is_ok(),
            Err(_) => false,
        }
    }

    /// Applies, sequences, stores and announces one event; returns its
    /// `(epoch, seq)` once committed.
    pub async fn publish(
        &self,
        flow_id: &str,
        change: &Change,
        event_type: MessageType,
        payload: &str,
    ) -> Result<(String, u64), BackendError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(be)?;
        let select = tx
            .prepare_cached(SELECT_FLOW_FOR_UPDATE)
            .await
            .map_err(be)?;
        let row = match tx.query_opt(&select, &[&flow_id]).await.map_err(be)? {
            Some(row) => row,
            None => {
                let insert = tx.prepare_cached(INSERT_FLOW).await.map_err(be)?;
                match tx
                    .query_opt(&insert, &[&flow_id, &new_epoch()])
                    .await
                    .map_err(be)?
                {
                    Some(row) => row,
                    // Created concurrently: wait for its lock.
                    None => tx.query_one(&select, &[&flow_id]).await.map_err(be)?,
                }
            }
        };
        let epoch: String = row.get(0);
        let last_seq = seq_of(row.get(1));
        let nodes_before = u64::try_from(row.get::<_, i32>(2)).unwrap_or(0);
        let rels_before = u64::try_from(row.get::<_, i32>(3)).unwrap_or(0);
        let too_large = |n: u64, r: u64| {
            exceeds(n, nodes_before, self.limits.max_nodes)
                || exceeds(r, rels_before, self.limits.max_relationships)
        };

        let (nodes_after, rels_after) = match change {
            Change::Snapshot { nodes, rels, .. } => {
                let (n, r) = (nodes.len() as u64, rels.len() as u64);
                if too_large(n, r) {
                    let _ = tx.rollback().await;
                    return Err(BackendError::FlowTooLarge);
                }
                let clear = tx.prepare_cached(CLEAR_FLOW).await.map_err(be)?;
                tx.execute(&clear, &[&flow_id]).await.map_err(be)?;
                try_join!(
                    upsert_nodes(&tx, flow_id, nodes),
                    upsert_rels(&tx, flow_id, rels)
                )?;
                (n, r)
            }
            Change::UpsertFlow { .. } => (nodes_before, rels_before),
            Change::UpsertNodes(rows) => {
                let added = upsert_nodes(&tx, flow_id, rows).await?;
                (nodes_before + added, rels_before)
            }
            Change::UpsertRels(rows) => {
                let added = upsert_rels(&tx, flow_id, rows).await?;
                (nodes_before, rels_before + added)
            }
            Change::DeleteNodes(ids) if ids.is_empty() => (nodes_before, rels_before),
            Change::DeleteNodes(ids) => {
                let stmt = tx.prepare_cached(DELETE_NODES).await.map_err(be)?;
                let row = tx.query_one(&stmt, &[&flow_id, ids]).await.map_err(be)?;
                let (dn, dr) = (seq_of(row.get(0)), seq_of(row.get(1)));
                (
                    nodes_before.saturating_sub(dn),
                    rels_before.saturating_sub(dr),
                )
            }
            Change::DeleteRels(keys) if keys.is_empty() => (nodes_before, rels_before),
            Change::DeleteRels(keys) => {
                let stmt = tx.prepare_cached(DELETE_RELS).await.map_err(be)?;
                let from: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
                let to: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
                let ty: Vec<&str> = keys.iter().map(|k| k.2).collect();
                let deleted = tx
                    .execute(&stmt, &[&flow_id, &from, &to, &ty])
                    .await
                    .map_err(be)?;
                (nodes_before, rels_before.saturating_sub(deleted))
            }
        };
        if too_large(nodes_after, rels_after) {
            let _ = tx.rollback().await;
            return Err(BackendError::FlowTooLarge);
        }

        let seq = last_seq + 1;
        let (update, insert, trim, notify_stmt) = try_join!(
            tx.prepare_cached(UPDATE_FLOW),
            tx.prepare_cached(INSERT_EVENT),
            tx.prepare_cached(TRIM_EVENTS),
            tx.prepare_cached(NOTIFY),
        )
        .map_err(be)?;
        let seq_sql = sql_int(seq);
        let counts = (
            i32::try_from(nodes_after).unwrap_or(i32::MAX),
            i32::try_from(rels_after).unwrap_or(i32::MAX),
        );
        let flow = change.flow();
        let type_name = event_type.as_str();
        let trim_through = sql_int(seq.saturating_sub(self.ring_capacity));
        let note = notify::event_payload(flow_id, &epoch, seq);
        let update_params: [&(dyn ToSql + Sync); 5] =
            [&flow_id, &seq_sql, &counts.0, &counts.1, &flow];
        let insert_params: [&(dyn ToSql + Sync); 4] = [&flow_id, &seq_sql, &type_name, &payload];
        let trim_params: [&(dyn ToSql + Sync); 2] = [&flow_id, &trim_through];
        let notify_params: [&(dyn ToSql + Sync); 1] = [&note];
        try_join!(
            tx.execute(&update, &update_params),
            tx.execute(&insert, &insert_params),
            async {
                if trim_through > 0 {
                    tx.execute(&trim, &trim_params).await
                } else {
                    Ok(0)
                }
            },
            tx.execute(&notify_stmt, &notify_params),
        )
        .map_err(be)?;
        tx.commit().await.map_err(be)?;
        Ok((epoch, seq))
    }

    /// The flow's stored state in one `REPEATABLE READ READ ONLY`
    /// transaction; `None` without an incarnation.
    pub async fn snapshot(&self, flow_id: &str) -> Result<Option<DbSnapshot>, BackendError> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(be)?;
        let (s_flow, s_nodes, s_rels) = try_join!(
            tx.prepare_cached(SNAPSHOT_FLOW),
            tx.prepare_cached(SNAPSHOT_NODES),
            tx.prepare_cached(SNAPSHOT_RELS),
        )
        .map_err(be)?;
        let params: [&(dyn ToSql + Sync); 1] = [&flow_id];
        let (flow, nodes, rels) = try_join!(
            tx.query_opt(&s_flow, &params),
            tx.query(&s_nodes, &params),
            tx.query(&s_rels, &params),
        )
        .map_err(be)?;
        tx.commit().await.map_err(be)?;
        Ok(flow.map(|f| DbSnapshot {
            epoch: f.get(0),
            last_seq: seq_of(f.get(1)),
            flow: f.get(2),
            nodes: nodes.iter().map(|r| r.get(0)).collect(),
            rels: rels.iter().map(|r| r.get(0)).collect(),
        }))
    }

    /// The incarnation and up to `limit` retained events with `seq > after`;
    /// `None` when the flow has no incarnation.
    pub async fn events_after(
        &self,
        flow_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Option<Tail>, BackendError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(EVENTS_AFTER).await.map_err(be)?;
        let rows = client
            .query(&stmt, &[&flow_id, &sql_int(after), &i64::from(limit)])
            .await
            .map_err(be)?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.get::<_, Option<i64>>(2).is_some() {
                events.push(event_row(row, 2)?);
            }
        }
        Ok(Some(Tail {
            epoch: first.get(0),
            last_seq: seq_of(first.get(1)),
            events,
        }))
    }

    /// Retained events `after < seq <= upto` of incarnation `epoch`.
    pub async fn replay(
        &self,
        flow_id: &str,
        epoch: &str,
        after: u64,
        upto: u64,
    ) -> Result<Vec<EventRow>, BackendError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(REPLAY).await.map_err(be)?;
        let rows = client
            .query(&stmt, &[&flow_id, &epoch, &sql_int(after), &sql_int(upto)])
            .await
            .map_err(be)?;
        rows.iter().map(|r| event_row(r, 0)).collect()
    }

    /// Removes the incarnation (cascade) and the log lines; announces it.
    pub async fn delete(&self, flow_id: &str) -> Result<(), BackendError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(be)?;
        let (del_flow, del_lines, notify_stmt) = try_join!(
            tx.prepare_cached(DELETE_FLOW),
            tx.prepare_cached(DELETE_LOG_LINES),
            tx.prepare_cached(NOTIFY),
        )
        .map_err(be)?;
        let note = notify::delete_payload(flow_id);
        let params: [&(dyn ToSql + Sync); 1] = [&flow_id];
        let notify_params: [&(dyn ToSql + Sync); 1] = [&note];
        try_join!(
            tx.execute(&del_flow, &params),
            tx.execute(&del_lines, &params),
            tx.execute(&notify_stmt, &notify_params),
        )
        .map_err(be)?;
        tx.commit().await.map_err(be)
    }

    /// Appends lines in one statement (all or nothing).
    pub async fn append_log_lines(
        &self,
        flow_id: &str,
        lines: &[NewLogLine],
    ) -> Result<usize, BackendError> {
        if lines.is_empty() {
            return Ok(0);
        }
        let client = self.client().await?;
        let stmt = client.prepare_cached(INSERT_LOG_LINES).await.map_err(be)?;
        let node: Vec<&str> = lines.iter().map(|l| l.node_id.as_str()).collect();
        let exec: Vec<&str> = lines.iter().map(|l| l.exec_id.as_str()).collect();
        let level: Vec<&str> = lines.iter().map(|l| l.level.as_str()).collect();
        let message: Vec<&str> = lines.iter().map(|l| l.message.as_str()).collect();
        let at: Vec<i64> = lines.iter().map(|l| l.occurred_at).collect();
        let n = client
            .execute(&stmt, &[&flow_id, &node, &exec, &level, &message, &at])
            .await
            .map_err(be)?;
        Ok(usize::try_from(n).unwrap_or(lines.len()))
    }

    /// Lines with `seq > after_seq` matching the filters, ascending.
    pub async fn list_log_lines(
        &self,
        flow_id: &str,
        q: &LogQuery,
    ) -> Result<Vec<LogLine>, BackendError> {
        let client = self.client().await?;
        let after = sql_int(q.after_seq);
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let rows = match (q.exec_id.as_deref(), q.node_id.as_deref()) {
            (None, None) => {
                let s = client.prepare_cached(LIST_LOG_LINES[0]).await.map_err(be)?;
                client.query(&s, &[&flow_id, &after, &limit]).await
            }
            (Some(e), None) => {
                let s = client.prepare_cached(LIST_LOG_LINES[1]).await.map_err(be)?;
                client.query(&s, &[&flow_id, &after, &limit, &e]).await
            }
            (None, Some(n)) => {
                let s = client.prepare_cached(LIST_LOG_LINES[2]).await.map_err(be)?;
                client.query(&s, &[&flow_id, &after, &limit, &n]).await
            }
            (Some(e), Some(n)) => {
                let s = client.prepare_cached(LIST_LOG_LINES[3]).await.map_err(be)?;
                client.query(&s, &[&flow_id, &after, &limit, &e, &n]).await
            }
        }
        .map_err(be)?;
        rows.iter().map(log_line).collect()
    }
}

async fn upsert_nodes(
    tx: &deadpool_postgres::Transaction<'_>,
    flow_id: &str,
    rows: &[super::fold::NodeRow],
) -> Result<u64, BackendError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let stmt = tx.prepare_cached(UPSERT_NODES).await.map_err(be)?;
    let f: Vec<&str> = rows.iter().map(|r| r.flow_id.as_str()).collect();
    let i: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let n: Vec<&str> = rows.iter().map(|r| r.json.as_str()).collect();
    let row = tx
        .query_one(&stmt, &[&flow_id, &f, &i, &n])
        .await
        .map_err(be)?;
    Ok(seq_of(row.get(0)))
}

async fn upsert_rels(
    tx: &deadpool_postgres::Transaction<'_>,
    flow_id: &str,
    rows: &[super::fold::RelRow],
) -> Result<u64, BackendError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let stmt = tx.prepare_cached(UPSERT_RELS).await.map_err(be)?;
    let f: Vec<&str> = rows.iter().map(|r| r.from_id.as_str()).collect();
    let t: Vec<&str> = rows.iter().map(|r| r.to_id.as_str()).collect();
    let ty: Vec<&str> = rows.iter().map(|r| r.rel_type).collect();
    let r: Vec<&str> = rows.iter().map(|r| r.json.as_str()).collect();
    let row = tx
        .query_one(&stmt, &[&flow_id, &f, &t, &ty, &r])
        .await
        .map_err(be)?;
    Ok(seq_of(row.get(0)))
}

fn event_row(row: &Row, at: usize) -> Result<EventRow, BackendError> {
    let type_name: String = row.get(at + 1);
    let event_type = MessageType::parse(&type_name).ok_or_else(|| {
        BackendError::Failed(format!("stored event has unknown type {type_name:?}"))
    })?;
    Ok(EventRow {
        seq: seq_of(row.get(at)),
        event_type,
        payload: row.get(at + 2),
    })
}

fn log_line(row: &Row) -> Result<LogLine, BackendError> {
    let level: String = row.get(3);
    Ok(LogLine {
        seq: seq_of(row.get(0)),
        node_id: row.get(1),
        exec_id: row.get(2),
        level: LogLevel::parse(&level).ok_or_else(|| {
            BackendError::Failed(format!("stored log line has unknown level {level:?}"))
        })?,
        message: row.get(4),
        occurred_at: row.get(5),
    })
}

/// A fresh random epoch (contract.md §8).
pub fn new_epoch() -> String {
    let mut rng = rand::rng();
    loop {
        let bytes = std::iter::repeat_with(|| rng.random::<u8>()).take(64);
        if let Some(e) = epoch_from_entropy(bytes, None) {
            return e;
        }
    }
}
