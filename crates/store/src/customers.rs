//! Customers, their identities on each channel, and notes about them.

use citius_domain::customer::{Identity, IdentityKind};
use citius_domain::paging::{Cursor, Page, PageRequest};
use citius_domain::records::{Customer, CustomerNote, IdentityView};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::script::{self, Script};
use crate::{Backend, Conn, DbError, DbResult, Found, from_ms, now_ms, parse_enum, parse_json};

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
    Ok(sqlx::query_scalar(
        "INSERT INTO customers (workspace_id, name, attributes, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(workspace_id)
    .bind(name)
    .bind(attributes.to_string())
    .bind(now_ms())
    .fetch_one(c)
    .await?)
}

/// New customers whose ids are reserved (see [`crate::script::reserve`]): id, name, attributes.
pub fn stage_new(s: &mut Script, new: &[(i64, &str, &serde_json::Value)]) {
    s.insert(
        "customers (id, name, attributes, workspace_id, created_at, updated_at)",
        new,
        3,
        |p| format!("({p}, $1, $2, $2)"),
        |r, (id, name, attributes)| {
            r.bind(*id).bind(*name).bind(attributes.to_string());
        },
    );
}

/// Identities to attach, by the customer who gains each.
pub fn stage_identities(s: &mut Script, new: &[(i64, &Identity)]) {
    s.insert(
        "customer_identities (customer_id, kind, value, workspace_id, created_at)",
        new,
        3,
        |p| format!("({p}, $1, $2)"),
        |r, (customer_id, identity)| {
            r.bind(*customer_id)
                .bind(identity.kind.as_str())
                .bind(identity.value.as_str());
        },
    );
}

pub async fn get(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<Customer> {
    fetch(c, workspace_id, id, "").await
}

/// A customer, held until this transaction ends against others about to do the same: on
/// PostgreSQL, what is read after the wait includes what they committed (SQLite's one writer
/// never waits). For work derived from every identity, such as the search document.
pub async fn get_held(
    c: &mut Conn,
    backend: Backend,
    workspace_id: i64,
    id: i64,
) -> DbResult<Customer> {
    let hold = match backend {
        Backend::Postgres => " FOR NO KEY UPDATE",
        Backend::Sqlite => "",
    };
    fetch(c, workspace_id, id, hold).await
}

/// One customer with its identities; `hold` is the locking clause, if any.
async fn fetch(c: &mut Conn, workspace_id: i64, id: i64, hold: &str) -> DbResult<Customer> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM customers WHERE id = $1 AND workspace_id = $2{hold}"
    )))
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
    Ok(holders(c, workspace_id, std::slice::from_ref(identity))
        .await?
        .first()
        .map(|h| h.customer_id))
}

/// Whether `e` says an identity went to another customer first: on PostgreSQL, one that
/// another transaction committed after this one looked with [`holders`].
pub fn identity_taken(e: &DbError) -> bool {
    matches!(e, DbError::Conflict(key) if key == "customer_identities_workspace_id_kind_value_key")
}

/// A customer holding one of the identities asked about.
#[derive(Debug)]
pub struct Holder {
    pub identity: Identity,
    pub customer_id: i64,
    pub name: String,
}

/// Lookups of up to this many identities stay prepared (see [`holders`]).
const PREPARED_LOOKUPS: usize = 16;

/// Which of `identities` a customer of the workspace holds, and who: one statement for all.
pub async fn holders(
    c: &mut Conn,
    workspace_id: i64,
    identities: &[Identity],
) -> DbResult<Vec<Holder>> {
    if identities.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = sqlx::query(sqlx::AssertSqlSafe(lookup(identities.len())))
        .persistent(identities.len() <= PREPARED_LOOKUPS)
        .bind(workspace_id);
    for i in identities {
        q = q.bind(i.kind.as_str()).bind(&i.value);
    }
    q.fetch_all(c).await?.iter().map(holder).collect()
}

/// [`holders`] of `identities` with the ids `wants` asks for (see [`script::reserve`]). On
/// PostgreSQL that is one statement, so one round trip to the database where the two took two;
/// on SQLite, where a statement costs no trip, they run one after the other.
pub async fn holders_and_ids(
    c: &mut Conn,
    backend: Backend,
    workspace_id: i64,
    identities: &[Identity],
    wants: &[(&'static str, usize)],
) -> DbResult<(Vec<Holder>, Vec<Vec<i64>>)> {
    let draws = match backend {
        Backend::Postgres if !identities.is_empty() => script::pg_draws(wants)?,
        _ => None,
    };
    let Some((draws, recurs)) = draws else {
        let held = holders(c, workspace_id, identities).await?;
        return Ok((held, script::reserve(c, backend, wants).await?));
    };
    // Rows of part 0 are holders; those of part k + 1 are ids for `wants[k]`.
    let sql = format!(
        "SELECT 0::int8 AS part, h.kind, h.value, h.customer_id, h.name FROM ({}) AS h \
         UNION ALL SELECT d.k + 1, NULL, NULL, d.id, NULL FROM ({draws}) AS d(k, id)",
        lookup(identities.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .persistent(recurs && identities.len() <= PREPARED_LOOKUPS)
        .bind(workspace_id);
    for i in identities {
        q = q.bind(i.kind.as_str()).bind(&i.value);
    }
    let (mut held, mut drawn) = (Vec::new(), Vec::new());
    for r in q.fetch_all(c).await? {
        match r.try_get::<i64, _>("part")? {
            0 => held.push(holder(&r)?),
            part => drawn.push((part - 1, r.try_get::<i64, _>("customer_id")?)),
        }
    }
    Ok((held, script::sort_draws(wants, drawn)?))
}

/// The lookup of `n` identities: the workspace is `$1`, each identity's kind and value follow.
/// Lookups of a few identities recur group after group; kept prepared, PostgreSQL plans each
/// shape a few times and then reuses a generic plan (unprepared, it planned every call, which
/// took longer than the lookup).
fn lookup(n: usize) -> String {
    let any = (0..n)
        .map(|i| format!("(ci.kind = ${} AND ci.value = ${})", 2 + i * 2, 3 + i * 2))
        .collect::<Vec<_>>()
        .join(" OR ");
    format!(
        "SELECT ci.kind, ci.value, ci.customer_id, cu.name FROM customer_identities ci \
         JOIN customers cu ON cu.id = ci.customer_id WHERE ci.workspace_id = $1 AND ({any})"
    )
}

fn holder(r: &AnyRow) -> DbResult<Holder> {
    Ok(Holder {
        identity: Identity {
            kind: parse_enum(IdentityKind::parse(&r.try_get::<String, _>("kind")?))?,
            value: r.try_get("value")?,
        },
        customer_id: r.try_get("customer_id")?,
        name: r.try_get("name")?,
    })
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
        "INSERT INTO customer_identities (workspace_id, customer_id, kind, value, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
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
        // Claims move unless the target already makes the same one.
        "UPDATE identity_claims SET customer_id = $1 WHERE customer_id = $2 AND workspace_id = $3 \
         AND NOT EXISTS (SELECT 1 FROM identity_claims x WHERE x.customer_id = $1 \
         AND x.kind = identity_claims.kind AND x.value = identity_claims.value)",
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
    // What did not move duplicated a claim the target makes already.
    sqlx::query("DELETE FROM identity_claims WHERE customer_id = $1 AND workspace_id = $2")
        .bind(source)
        .bind(workspace_id)
        .execute(&mut *c)
        .await?;
    sqlx::query("UPDATE customers SET updated_at = $1 WHERE id IN ($2, $3)")
        .bind(now)
        .bind(source)
        .bind(target)
        .execute(c)
        .await?;
    Ok(moved_conversations)
}

/// Records that a customer said an identity held by someone else is theirs.
pub async fn add_claim(
    c: &mut Conn,
    workspace_id: i64,
    customer_id: i64,
    identity: &Identity,
    source: &str,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO identity_claims (workspace_id, customer_id, kind, value, source, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (customer_id, kind, value) DO NOTHING",
    )
    .bind(workspace_id)
    .bind(customer_id)
    .bind(identity.kind.as_str())
    .bind(&identity.value)
    .bind(source)
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

/// Two customers that may be one person, and why.
#[derive(Debug, Clone)]
pub struct Duplicate {
    pub customer_id: i64,
    pub other_id: i64,
    /// `claimed_identity` or `same_name`.
    pub reason: &'static str,
    /// The identity claimed, or the name shared.
    pub detail: String,
}

const NOT_DISMISSED: &str = "NOT EXISTS (SELECT 1 FROM merge_dismissals d WHERE d.workspace_id = $1 \
     AND d.customer_a = CASE WHEN a.id < b.id THEN a.id ELSE b.id END \
     AND d.customer_b = CASE WHEN a.id < b.id THEN b.id ELSE a.id END)";

/// Claims of identities another customer holds, newest first: the workspace's merge queue.
pub async fn claimed_duplicates(
    c: &mut Conn,
    workspace_id: i64,
    limit: i64,
) -> DbResult<Vec<Duplicate>> {
    let sql = format!(
        "SELECT a.id AS a_id, b.id AS b_id, cl.kind, cl.value FROM identity_claims cl \
         JOIN customer_identities ci ON ci.workspace_id = cl.workspace_id AND ci.kind = cl.kind AND ci.value = cl.value \
         JOIN customers a ON a.id = cl.customer_id JOIN customers b ON b.id = ci.customer_id \
         WHERE cl.workspace_id = $1 AND a.id <> b.id AND a.merged_into_id IS NULL AND b.merged_into_id IS NULL \
         AND {NOT_DISMISSED} ORDER BY cl.id DESC LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(workspace_id)
        .bind(limit)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Duplicate {
                customer_id: r.try_get("a_id")?,
                other_id: r.try_get("b_id")?,
                reason: "claimed_identity",
                detail: format!(
                    "{} {}",
                    r.try_get::<String, _>("kind")?,
                    r.try_get::<String, _>("value")?
                ),
            })
        })
        .collect()
}

/// Customers that may be the same person as `id`: one claims the other's identity, or both
/// carry the same full name. Index lookups only, so it can sit on the customer's page.
pub async fn duplicates_of(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<Vec<Duplicate>> {
    let claims = format!(
        "SELECT a.id AS a_id, b.id AS b_id, cl.kind, cl.value FROM identity_claims cl \
         JOIN customer_identities ci ON ci.workspace_id = cl.workspace_id AND ci.kind = cl.kind AND ci.value = cl.value \
         JOIN customers a ON a.id = cl.customer_id JOIN customers b ON b.id = ci.customer_id \
         WHERE cl.workspace_id = $1 AND (a.id = $2 OR b.id = $3) AND a.id <> b.id \
         AND a.merged_into_id IS NULL AND b.merged_into_id IS NULL AND {NOT_DISMISSED} LIMIT 20"
    );
    let mut out = Vec::new();
    for r in sqlx::query(sqlx::AssertSqlSafe(claims))
        .bind(workspace_id)
        .bind(id)
        .bind(id)
        .fetch_all(&mut *c)
        .await?
    {
        let (a, b): (i64, i64) = (r.try_get("a_id")?, r.try_get("b_id")?);
        out.push(Duplicate {
            customer_id: id,
            other_id: if a == id { b } else { a },
            reason: "claimed_identity",
            detail: format!(
                "{} {}",
                r.try_get::<String, _>("kind")?,
                r.try_get::<String, _>("value")?
            ),
        });
    }
    let names = format!(
        "SELECT b.id AS b_id, b.name FROM customers a JOIN customers b ON b.workspace_id = a.workspace_id \
         AND lower(b.name) = lower(a.name) AND b.id <> a.id \
         WHERE a.workspace_id = $1 AND a.id = $2 AND a.name LIKE '% %' AND a.name NOT LIKE 'Visitor %' \
         AND b.merged_into_id IS NULL AND a.merged_into_id IS NULL AND {NOT_DISMISSED} ORDER BY b.id LIMIT 20"
    );
    for r in sqlx::query(sqlx::AssertSqlSafe(names))
        .bind(workspace_id)
        .bind(id)
        .fetch_all(&mut *c)
        .await?
    {
        let other: i64 = r.try_get("b_id")?;
        if !out.iter().any(|d| d.other_id == other) {
            out.push(Duplicate {
                customer_id: id,
                other_id: other,
                reason: "same_name",
                detail: r.try_get("name")?,
            });
        }
    }
    Ok(out)
}

/// Remembers that two customers are different people.
pub async fn dismiss_duplicate(
    c: &mut Conn,
    workspace_id: i64,
    a: i64,
    b: i64,
    user_id: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO merge_dismissals (workspace_id, customer_a, customer_b, user_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(workspace_id)
    .bind(a.min(b))
    .bind(a.max(b))
    .bind(user_id)
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
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
    for table in [
        "customer_identities",
        "customer_notes",
        "chat_visitors",
        "identity_claims",
    ] {
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
        "DELETE FROM merge_dismissals WHERE workspace_id = $1 AND (customer_a IN ({all}) OR customer_b IN ({all}))"
    )))
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
