//! Logical backups: every table as JSON lines, the same format from SQLite and PostgreSQL, so a
//! backup restores on either (also the way to move from SQLite to PostgreSQL). Search documents
//! are not copied; they are rebuilt from the data on restore.

use std::io::{BufRead, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::TryStreamExt;
use serde_json::{Map, Value, json};
use sqlx::{Column, Row};

use crate::search::{self, DocKind};
use crate::{Backend, Db, DbError, DbResult};

pub const FORMAT_VERSION: i64 = 1;

/// Tables in an order that satisfies foreign keys on restore. Sessions, idempotency keys and who is
/// viewing a conversation are short-lived and left out: after a restore everyone signs in again.
pub const TABLES: &[&str] = &[
    "workspaces",
    "users",
    "memberships",
    "api_tokens",
    "teams",
    "team_members",
    "skills",
    "user_skills",
    "inboxes",
    "customers",
    "customer_identities",
    "customer_notes",
    "conversations",
    "tags",
    "conversation_tags",
    "messages",
    "blobs",
    "attachments",
    "events",
    "audit_log",
    "jobs",
    "agent_presence",
    "routing_policies",
    "transfers",
    "follow_ups",
    "webhook_endpoints",
    "webhook_messages",
    "webhook_attempts",
    "calendars",
    "sla_policies",
    "sla_clocks",
    "automation_rules",
    "rule_runs",
    "macros",
    "instance_keys",
    "email_messages",
    "inbound_mail",
    "imap_mailboxes",
    "provider_accounts",
    "text_messages",
    "calls",
    "chat_widgets",
    "chat_visitors",
    "identity_claims",
    "merge_dismissals",
    "saved_views",
    "mentions",
];

/// Tables keyed by something other than a generated id.
const WITHOUT_SERIAL_ID: &[&str] = &[
    "merge_dismissals",
    "chat_widgets",
    "provider_accounts",
    "text_messages",
    "imap_mailboxes",
    "instance_keys",
    "email_messages",
    "sla_clocks",
    "memberships",
    "agent_presence",
    "routing_policies",
    "team_members",
    "user_skills",
    "conversation_tags",
    "blobs",
];

fn corrupt(m: impl Into<String>) -> DbError {
    DbError::Corrupt(m.into())
}

/// Reads one column without knowing its type up front.
fn value_of(row: &sqlx::any::AnyRow, i: usize) -> Value {
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(i) {
        return v.map_or(Value::Null, |b| json!({"$b64": STANDARD.encode(b)}));
    }
    if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    Value::Null
}

/// Row count per table, for progress.
pub async fn counts(db: &Db) -> DbResult<Vec<(&'static str, i64)>> {
    let mut c = db.read().await?;
    let mut out = Vec::new();
    for t in TABLES {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}")))
            .fetch_one(&mut *c)
            .await?;
        out.push((*t, n));
    }
    Ok(out)
}

/// Writes every row to `out`; calls `progress` after each row.
pub async fn export(db: &Db, out: &mut impl Write, mut progress: impl FnMut()) -> DbResult<u64> {
    let io = |e: std::io::Error| corrupt(format!("writing the backup: {e}"));
    // One read transaction, so the backup is one point in time while writers carry on.
    let mut conn = db.read().await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
    }
    let header = json!({"citius_backup": FORMAT_VERSION, "migration": db.latest_migration(), "created_at": jiff::Timestamp::now().to_string()});
    writeln!(out, "{header}").map_err(io)?;
    let mut total = 0;
    for t in TABLES {
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {t} ORDER BY 1")))
            .fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            let mut obj = Map::new();
            for (i, col) in row.columns().iter().enumerate() {
                obj.insert(col.name().to_string(), value_of(&row, i));
            }
            writeln!(out, "{}", json!({"t": t, "r": obj})).map_err(io)?;
            total += 1;
            progress();
        }
    }
    drop(tx);
    out.flush().map_err(io)?;
    Ok(total)
}

/// Restores a backup into an empty, migrated database; rebuilds search. Returns rows restored.
pub async fn import(db: &Db, input: impl BufRead, mut progress: impl FnMut()) -> DbResult<u64> {
    let mut lines = input.lines();
    let header: Value = match lines.next() {
        Some(Ok(l)) => serde_json::from_str(&l)
            .map_err(|_| corrupt("this is not a Citius backup (bad first line)"))?,
        _ => return Err(corrupt("the backup is empty")),
    };
    if header.get("citius_backup").and_then(Value::as_i64) != Some(FORMAT_VERSION) {
        return Err(corrupt(
            "this is not a Citius backup of a version this binary reads",
        ));
    }
    let migration = header.get("migration").and_then(Value::as_i64).unwrap_or(0);
    if migration > db.latest_migration() {
        return Err(corrupt(format!(
            "the backup comes from a newer Citius (migration {migration}); upgrade first"
        )));
    }
    let mut tx = db.begin().await?;
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workspaces")
        .fetch_one(&mut *tx)
        .await?;
    if existing > 0 {
        return Err(DbError::Conflict(
            "the target database already holds data; restore into an empty one".into(),
        ));
    }
    if db.backend() == Backend::Sqlite {
        // Rows arrive in table order, but a customer may point at one merged later; check at commit.
        sqlx::query("PRAGMA defer_foreign_keys = ON")
            .execute(&mut *tx)
            .await?;
    }
    let mut merged_links: Vec<(i64, i64)> = Vec::new();
    let mut total = 0;
    for (n, line) in lines.enumerate() {
        let line = line.map_err(|e| corrupt(format!("reading the backup: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let rec: Value =
            serde_json::from_str(&line).map_err(|e| corrupt(format!("line {}: {e}", n + 2)))?;
        let table = rec.get("t").and_then(Value::as_str).unwrap_or("");
        if !TABLES.contains(&table) {
            return Err(corrupt(format!("line {}: unknown table '{table}'", n + 2)));
        }
        let Some(row) = rec.get("r").and_then(Value::as_object) else {
            return Err(corrupt(format!("line {}: no row", n + 2)));
        };
        let mut row = row.clone();
        if table == "customers" {
            // PostgreSQL checks the self-reference at once: link merged customers afterwards.
            if let (Some(id), Some(target)) = (
                row.get("id").and_then(Value::as_i64),
                row.get("merged_into_id").and_then(Value::as_i64),
            ) {
                merged_links.push((id, target));
                row.insert("merged_into_id".into(), Value::Null);
            }
        }
        insert_row(&mut tx, table, &row)
            .await
            .map_err(|e| corrupt(format!("line {}: {table}: {e}", n + 2)))?;
        total += 1;
        progress();
    }
    for (id, target) in merged_links {
        sqlx::query("UPDATE customers SET merged_into_id = $1 WHERE id = $2")
            .bind(target)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if db.backend() == Backend::Postgres {
        // Explicit ids leave sequences behind; move them past the restored rows.
        for t in TABLES.iter().filter(|t| !WITHOUT_SERIAL_ID.contains(t)) {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE((SELECT MAX(id) FROM {t}), 0) + 1, false)"
            )))
            .execute(&mut *tx)
            .await?;
        }
    }
    // Backups made before tag entries carried their conversation's last activity restore it
    // as 0.
    sqlx::query(
        "UPDATE conversation_tags SET conversation_updated_at = COALESCE((SELECT c.updated_at \
         FROM conversations c WHERE c.id = conversation_tags.conversation_id), 0) \
         WHERE conversation_updated_at = 0",
    )
    .execute(&mut *tx)
    .await?;
    rebuild_search(&mut tx, db.backend()).await?;
    tx.commit().await?;
    Ok(total)
}

async fn insert_row(c: &mut crate::Conn, table: &str, row: &Map<String, Value>) -> DbResult<()> {
    let cols: Vec<&String> = row.keys().collect();
    if cols.iter().any(|c| {
        !c.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch == '_' || ch.is_ascii_digit())
    }) {
        return Err(corrupt("bad column name"));
    }
    let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        cols.iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        placeholders.join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for col in &cols {
        q = match &row[*col] {
            Value::Null => q.bind(None::<i64>),
            Value::Bool(b) => q.bind(i64::from(*b)),
            Value::Number(n) => match n.as_i64() {
                Some(i) => q.bind(i),
                None => q.bind(n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => q.bind(s.clone()),
            Value::Object(o) if o.contains_key("$b64") => {
                let b = o.get("$b64").and_then(Value::as_str).unwrap_or("");
                q.bind(STANDARD.decode(b).map_err(|_| corrupt("bad base64"))?)
            }
            other => q.bind(other.to_string()),
        };
    }
    q.execute(c).await?;
    Ok(())
}

/// Rebuilds every search document from the data.
pub async fn rebuild_search(c: &mut crate::Conn, backend: Backend) -> DbResult<()> {
    let subjects: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT id, workspace_id, subject FROM conversations")
            .fetch_all(&mut *c)
            .await?;
    for (id, ws, subject) in subjects {
        search::put(c, backend, ws, DocKind::Subject, id, Some(id), &subject).await?;
    }
    let messages: Vec<(i64, i64, i64, String)> =
        sqlx::query_as("SELECT id, workspace_id, conversation_id, body_text FROM messages")
            .fetch_all(&mut *c)
            .await?;
    for (id, ws, cid, body) in messages {
        search::put(c, backend, ws, DocKind::Message, id, Some(cid), &body).await?;
    }
    let mut identities: std::collections::HashMap<i64, Vec<String>> =
        std::collections::HashMap::new();
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT customer_id, value FROM customer_identities ORDER BY id")
            .fetch_all(&mut *c)
            .await?;
    for (cid, value) in rows {
        identities.entry(cid).or_default().push(value);
    }
    let customers: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT id, workspace_id, name FROM customers WHERE merged_into_id IS NULL")
            .fetch_all(&mut *c)
            .await?;
    for (id, ws, name) in customers {
        let values = identities.remove(&id).unwrap_or_default().join(" ");
        search::put(
            c,
            backend,
            ws,
            DocKind::Customer,
            id,
            None,
            &format!("{name} {values}"),
        )
        .await?;
    }
    Ok(())
}
