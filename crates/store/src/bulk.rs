//! Bulk loading for generated data (the benchmark's realistic workspaces): multi-row inserts
//! with explicit ids, many rows per statement, one transaction per batch.

use sqlx::Arguments;
use sqlx::any::AnyArguments;

use crate::{Backend, Conn, DbResult};

/// One value of a generated row.
#[derive(Debug, Clone)]
pub enum Cell {
    Int(i64),
    Text(String),
    Null,
}

const PARAMS_PER_STATEMENT: usize = 999;

/// Inserts rows into `table` with `columns`, in statements of moderate size.
pub async fn insert(
    c: &mut Conn,
    backend: Backend,
    table: &str,
    columns: &[&str],
    rows: &[Vec<Cell>],
) -> DbResult<()> {
    // SQLite looks named parameters such as `$7` up one by one (quadratic in their number);
    // numbered `?7` ones are direct.
    let mark = match backend {
        Backend::Sqlite => '?',
        Backend::Postgres => '$',
    };
    if rows.is_empty() {
        return Ok(());
    }
    // Moderate statements: the parser and the statement cache handle these well.
    let per_statement = (PARAMS_PER_STATEMENT / columns.len()).max(1);
    for chunk in rows.chunks(per_statement) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut args = AnyArguments::default();
        let mut n = 0;
        for (i, row) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for (j, cell) in row.iter().enumerate() {
                if j > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                sql.push(mark);
                sql.push_str(&n.to_string());
                // Adding an integer, a string or a typed null cannot fail.
                let _ = match cell {
                    Cell::Int(v) => args.add(*v),
                    Cell::Text(v) => args.add(v.clone()),
                    Cell::Null => args.add(None::<i64>),
                };
            }
            sql.push(')');
        }
        sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Readies the connection for a large load: on SQLite a page cache big enough for the indexes
/// being filled (the default 2 MB makes every index insert re-read pages from the file).
pub async fn prepare_large_load(c: &mut Conn, backend: Backend) -> DbResult<()> {
    if backend == Backend::Sqlite {
        sqlx::query("PRAGMA cache_size = -1048576")
            .execute(c)
            .await?;
    }
    Ok(())
}

/// The next free id of a table.
pub async fn next_id(c: &mut Conn, table: &str) -> DbResult<i64> {
    let max: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COALESCE(MAX(id), 0) FROM {table}"
    )))
    .fetch_one(c)
    .await?;
    Ok(max + 1)
}

/// Moves PostgreSQL sequences past explicitly inserted ids.
pub async fn reset_sequences(c: &mut Conn, backend: Backend, tables: &[&str]) -> DbResult<()> {
    if backend != Backend::Postgres {
        return Ok(());
    }
    for t in tables {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE((SELECT MAX(id) FROM {t}), 0) + 1, false)"
        )))
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

/// Rows of the search index for generated texts: (doc kind, ref id, conversation id, text).
pub async fn insert_search_docs(
    c: &mut Conn,
    backend: Backend,
    workspace_id: i64,
    docs: &[(crate::search::DocKind, i64, Option<i64>, String)],
) -> DbResult<()> {
    // One insert per table; FTS5 flushes its pending terms whenever a rowid arrives out of
    // order, so sorted input keeps a load to one segment per transaction, not one per document.
    type Keyed = Vec<(i64, Vec<Cell>)>;
    let mut tables: std::collections::BTreeMap<&str, (&[&str], Keyed)> = Default::default();
    for (kind, ref_id, conversation_id, text) in docs {
        let (table, columns, key) = crate::search::placement(backend, *kind, *ref_id);
        let mut row = vec![
            Cell::Int(workspace_id),
            Cell::Int(key),
            Cell::Text(crate::search::index_text(text)),
            conversation_id.map_or(Cell::Null, Cell::Int),
        ];
        row.truncate(columns.len());
        let entry = tables.entry(table).or_insert_with(|| (columns, Vec::new()));
        entry.1.push((key, row));
    }
    for (table, (columns, mut rows)) in tables {
        rows.sort_by_key(|(key, _)| *key);
        let rows: Vec<Vec<Cell>> = rows.into_iter().map(|(_, row)| row).collect();
        insert(c, backend, table, columns, &rows).await?;
    }
    Ok(())
}

/// Rows in a table.
pub async fn count(c: &mut Conn, table: &str) -> DbResult<i64> {
    Ok(
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(c)
            .await?,
    )
}

/// Rows of a workspace in a table.
pub async fn count_where(c: &mut Conn, table: &str, workspace_id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {table} WHERE workspace_id = $1"
    )))
    .bind(workspace_id)
    .fetch_one(c)
    .await?)
}

/// Readies the tables after a large load, on a connection outside any transaction: the
/// planner's statistics and, on PostgreSQL, the visibility map (without it an index-only scan
/// reads every row's page anyway, and counting a thousand entries took 4 ms instead of 0.3).
/// Autovacuum would get there later, if it is on.
pub async fn settle(c: &mut Conn, backend: Backend) -> DbResult<()> {
    match backend {
        Backend::Postgres => {
            sqlx::raw_sql("VACUUM (ANALYZE)").execute(c).await?;
            Ok(())
        }
        Backend::Sqlite => analyze(c, backend).await,
    }
}

/// Refreshes the planner's statistics after a large load.
pub async fn analyze(c: &mut Conn, backend: Backend) -> DbResult<()> {
    sqlx::query("ANALYZE").execute(&mut *c).await?;
    if backend == Backend::Sqlite {
        crate::db::forget_samples(c).await?;
    }
    Ok(())
}

/// Creates (or drops) the scratch table for the raw-insert baseline.
pub async fn raw_table(db: &crate::Db, create: bool) -> DbResult<()> {
    let mut tx = db.begin().await?;
    let sql = match (create, db.backend()) {
        (true, Backend::Sqlite) => {
            "CREATE TABLE IF NOT EXISTS bench_raw (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL, payload TEXT NOT NULL)"
        }
        (true, Backend::Postgres) => {
            "CREATE TABLE IF NOT EXISTS bench_raw (id BIGSERIAL PRIMARY KEY, n BIGINT NOT NULL, payload TEXT NOT NULL)"
        }
        (false, _) => "DROP TABLE IF EXISTS bench_raw",
    };
    sqlx::query(sql).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// One row, one transaction, committed durably.
pub async fn raw_insert(db: &crate::Db, n: i64) -> DbResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO bench_raw (n, payload) VALUES ($1, $2)")
        .bind(n)
        .bind("A new conversation from the benchmark")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Drops PostgreSQL's search index before a large load (SQLite's FTS index is the table itself).
pub async fn drop_search_index(c: &mut Conn, backend: Backend) -> DbResult<()> {
    if backend == Backend::Postgres {
        sqlx::raw_sql("DROP INDEX IF EXISTS search_documents_tsv; DROP INDEX IF EXISTS customer_search_documents_tsv")
            .execute(c)
            .await?;
    }
    Ok(())
}

/// Recreates the index dropped by [`drop_search_index`], as the migration defines it.
pub async fn create_search_index(c: &mut Conn, backend: Backend) -> DbResult<()> {
    if backend == Backend::Postgres {
        sqlx::raw_sql(
            "CREATE INDEX IF NOT EXISTS search_documents_tsv ON search_documents USING GIN (tsv) \
             WITH (gin_pending_list_limit = 256); \
             CREATE INDEX IF NOT EXISTS customer_search_documents_tsv ON customer_search_documents \
             USING GIN (tsv) WITH (gin_pending_list_limit = 256)",
        )
        .execute(c)
        .await?;
    }
    Ok(())
}
