//! Customers, their identities on each channel, and notes about them.

use citius_domain::customer::{Identity, IdentityKind};
use citius_domain::paging::{Cursor, Page, PageRequest};
use citius_domain::records::{Customer, CustomerNote, IdentityView};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, DbError, DbResult, Found, from_ms, now_ms, parse_enum, parse_json};

fn customer(r: &AnyRow) -> DbResult<Customer> {
    Ok(Customer {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        attributes: parse_json(&r.try_get::<String, _>("attributes")?)?,
        identities: Vec::new(),
        merged_into_id: r.try_get("merged_into_id")?,
        created_at: from_ms(r.try_get("created_at")?),
        updated_at: from_ms(r.try_get("updated_at")?),
    })
}

/// Fills in identities for many customers with one query.
async fn with_identities(c: &mut Conn, mut customers: Vec<Customer>) -> DbResult<Vec<Customer>> {
    if customers.is_empty() {
        return Ok(customers);
    }
    let ids = crate::id_list(&customers.iter().map(|c| c.id).collect::<Vec<_>>());
    // Ids are integers we produced, so inlining them is safe and keeps one statement for any count.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT customer_id, kind, value FROM customer_identities WHERE customer_id IN ({}) ORDER BY id",
        ids
    )))
    .fetch_all(c)
    .await?;
    for r in &rows {
        let cid: i64 = r.try_get("customer_id")?;
        let view = IdentityView {
            kind: parse_enum(IdentityKind::parse(&r.try_get::<String, _>("kind")?))?,
            value: r.try_get("value")?,
        };
        if let Some(cust) = customers.iter_mut().find(|c| c.id == cid) {
            cust.identities.push(view);
        }
    }
    Ok(customers)
}

pub async fn create(
    c: &mut Conn,
    workspace_id: i64,
    name: &str,
    attributes: &serde_json::Value,
) -> DbResult<i64> {
    let now = now_ms();
    Ok(sqlx::query_scalar(
        "INSERT INTO customers (workspace_id, name, attributes, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(workspace_id)
    .bind(name)
    .bind(attributes.to_string())
    .bind(now)
    .fetch_one(c)
    .await?)
}

pub async fn get(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<Customer> {
    let r = sqlx::query("SELECT * FROM customers WHERE id = $1 AND workspace_id = $2")
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(&mut *c)
        .await?
        .found()?;
    with_identities(c, vec![customer(&r)?]).await?.pop().found()
}

pub async fn get_many(c: &mut Conn, workspace_id: i64, ids: &[i64]) -> DbResult<Vec<Customer>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = crate::id_list(ids);
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM customers WHERE workspace_id = $1 AND id IN ({})",
        list
    )))
    .bind(workspace_id)
    .fetch_all(&mut *c)
    .await?;
    let found = rows.iter().map(customer).collect::<DbResult<Vec<_>>>()?;
    with_identities(c, found).await
}

/// Customers by most recent change, merged-away customers hidden.
pub async fn list(c: &mut Conn, workspace_id: i64, page: PageRequest) -> DbResult<Page<Customer>> {
    let (key, id) = page.after.map_or((i64::MAX, i64::MAX), |c| (c.key, c.id));
    let rows = sqlx::query(
        "SELECT * FROM customers WHERE workspace_id = $1 AND merged_into_id IS NULL \
         AND updated_at <= $2 AND (updated_at < $3 OR id < $4) ORDER BY updated_at DESC, id DESC LIMIT $5",
    )
    .bind(workspace_id)
    .bind(key)
    .bind(key)
    .bind(id)
    .bind(i64::from(page.limit) + 1)
    .fetch_all(&mut *c)
    .await?;
    let found = rows.iter().map(customer).collect::<DbResult<Vec<_>>>()?;
    let found = with_identities(c, found).await?;
    Ok(Page::from_overfetch(found, page.limit, |c| Cursor {
        key: c.updated_at.as_millisecond(),
        id: c.id,
    }))
}

pub async fn update(
    c: &mut Conn,
    workspace_id: i64,
    id: i64,
    name: Option<&str>,
    attributes: Option<&serde_json::Value>,
) -> DbResult<()> {
    let n = sqlx::query(
        "UPDATE customers SET name = COALESCE($1, name), attributes = COALESCE($2, attributes), updated_at = $3 \
         WHERE id = $4 AND workspace_id = $5",
    )
    .bind(name)
    .bind(attributes.map(|a| a.to_string()))
    .bind(now_ms())
    .bind(id)
    .bind(workspace_id)
    .execute(c)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// The live customer holding this identity, following merges.
pub async fn find_by_identity(
    c: &mut Conn,
    workspace_id: i64,
    identity: &Identity,
) -> DbResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT customer_id FROM customer_identities WHERE workspace_id = $1 AND kind = $2 AND value = $3",
    )
    .bind(workspace_id)
    .bind(identity.kind.as_str())
    .bind(&identity.value)
    .fetch_optional(c)
    .await?)
}

/// Attaches an identity; `Conflict` if another customer already holds it.
pub async fn add_identity(
    c: &mut Conn,
    workspace_id: i64,
    customer_id: i64,
    identity: &Identity,
) -> DbResult<()> {
    if let Some(holder) = find_by_identity(c, workspace_id, identity).await? {
        if holder == customer_id {
            return Ok(());
        }
        return Err(DbError::Conflict(format!(
            "{} {} belongs to customer {holder}",
            identity.kind.as_str(),
            identity.value
        )));
    }
    insert_identity(c, workspace_id, customer_id, identity).await
}

/// Attaches an identity known to be free (the unique index still guards races).
pub async fn insert_identity(
    c: &mut Conn,
    workspace_id: i64,
    customer_id: i64,
    identity: &Identity,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO customer_identities (workspace_id, customer_id, kind, value, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(workspace_id)
    .bind(customer_id)
    .bind(identity.kind.as_str())
    .bind(&identity.value)
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

pub async fn remove_identity(
    c: &mut Conn,
    workspace_id: i64,
    customer_id: i64,
    identity: &Identity,
) -> DbResult<()> {
    let n = sqlx::query(
        "DELETE FROM customer_identities WHERE workspace_id = $1 AND customer_id = $2 AND kind = $3 AND value = $4",
    )
    .bind(workspace_id)
    .bind(customer_id)
    .bind(identity.kind.as_str())
    .bind(&identity.value)
    .execute(c)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Moves everything of `source` to `target` and marks `source` as merged. Both histories stay:
/// conversations, identities and notes now hang off `target`.
pub async fn merge(
    c: &mut Conn,
    workspace_id: i64,
    source: i64,
    target: i64,
) -> DbResult<Vec<i64>> {
    let moved_conversations: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM conversations WHERE customer_id = $1 AND workspace_id = $2 ORDER BY id",
    )
    .bind(source)
    .bind(workspace_id)
    .fetch_all(&mut *c)
    .await?;
    let now = now_ms();
    for sql in [
        "UPDATE conversations SET customer_id = $1 WHERE customer_id = $2 AND workspace_id = $3",
        "UPDATE customer_identities SET customer_id = $1 WHERE customer_id = $2 AND workspace_id = $3",
        "UPDATE customer_notes SET customer_id = $1 WHERE customer_id = $2 AND workspace_id = $3",
        "UPDATE chat_visitors SET customer_id = $1 WHERE customer_id = $2 AND workspace_id = $3",
        "UPDATE messages SET author_customer_id = $1 WHERE author_customer_id = $2 AND workspace_id = $3",
        "UPDATE customers SET merged_into_id = $1 WHERE merged_into_id = $2 AND workspace_id = $3",
        "UPDATE customers SET merged_into_id = $1 WHERE id = $2 AND workspace_id = $3",
    ] {
        sqlx::query(sql)
            .bind(target)
            .bind(source)
            .bind(workspace_id)
            .execute(&mut *c)
            .await?;
    }
    sqlx::query("UPDATE customers SET updated_at = $1 WHERE id IN ($2, $3)")
        .bind(now)
        .bind(source)
        .bind(target)
        .execute(c)
        .await?;
    Ok(moved_conversations)
}

fn note(r: &AnyRow) -> DbResult<CustomerNote> {
    Ok(CustomerNote {
        id: r.try_get("id")?,
        customer_id: r.try_get("customer_id")?,
        author_user_id: r.try_get("author_user_id")?,
        body: r.try_get("body")?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

pub async fn add_note(
    c: &mut Conn,
    workspace_id: i64,
    customer_id: i64,
    author: i64,
    body: &str,
) -> DbResult<CustomerNote> {
    let r = sqlx::query(
        "INSERT INTO customer_notes (workspace_id, customer_id, author_user_id, body, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING *",
    )
    .bind(workspace_id)
    .bind(customer_id)
    .bind(author)
    .bind(body)
    .bind(now_ms())
    .fetch_one(c)
    .await?;
    note(&r)
}

pub async fn notes(
    c: &mut Conn,
    workspace_id: i64,
    customer_id: i64,
) -> DbResult<Vec<CustomerNote>> {
    let rows = sqlx::query("SELECT * FROM customer_notes WHERE workspace_id = $1 AND customer_id = $2 ORDER BY id DESC LIMIT 200")
        .bind(workspace_id)
        .bind(customer_id)
        .fetch_all(c)
        .await?;
    rows.iter().map(note).collect()
}

pub async fn delete_note(
    c: &mut Conn,
    workspace_id: i64,
    customer_id: i64,
    note_id: i64,
) -> DbResult<()> {
    let n = sqlx::query(
        "DELETE FROM customer_notes WHERE id = $1 AND customer_id = $2 AND workspace_id = $3",
    )
    .bind(note_id)
    .bind(customer_id)
    .bind(workspace_id)
    .execute(c)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Erases a customer: identities, notes, search document, and customers merged into it. Their
/// conversations must be deleted first.
pub async fn delete(
    c: &mut Conn,
    backend: crate::Backend,
    workspace_id: i64,
    id: i64,
) -> DbResult<()> {
    get(c, workspace_id, id).await?;
    let merged: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM customers WHERE workspace_id = $1 AND merged_into_id = $2",
    )
    .bind(workspace_id)
    .bind(id)
    .fetch_all(&mut *c)
    .await?;
    for cid in merged.iter().copied().chain(std::iter::once(id)) {
        crate::search::delete(c, backend, crate::search::DocKind::Customer, cid).await?;
    }
    let all = merged
        .iter()
        .copied()
        .chain(std::iter::once(id))
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    for table in ["customer_identities", "customer_notes", "chat_visitors"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE workspace_id = $1 AND customer_id IN ({all})"
        )))
        .bind(workspace_id)
        .execute(&mut *c)
        .await?;
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE messages SET author_customer_id = NULL WHERE workspace_id = $1 AND author_customer_id IN ({all})")))
        .bind(workspace_id)
        .execute(&mut *c)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM customers WHERE workspace_id = $1 AND merged_into_id IN ({all})"
    )))
    .bind(workspace_id)
    .execute(&mut *c)
    .await?;
    sqlx::query("DELETE FROM customers WHERE workspace_id = $1 AND id = $2")
        .bind(workspace_id)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}
