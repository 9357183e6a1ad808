//! Saved inbox views.

use citius_domain::records::SavedView;
use citius_domain::views::ViewFilters;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, DbResult, from_ms, now_ms};

fn row(r: &AnyRow) -> DbResult<SavedView> {
    Ok(SavedView {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        filters: serde_json::from_str::<ViewFilters>(&r.try_get::<String, _>("filters")?)
            .unwrap_or_default(),
        shared: r.try_get::<i64, _>("shared")? != 0,
        owner_id: r.try_get("user_id")?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

/// The views a person sees: their own and the shared ones, by name.
pub async fn visible(c: &mut Conn, workspace_id: i64, user_id: i64) -> DbResult<Vec<SavedView>> {
    let rows = sqlx::query(
        "SELECT * FROM saved_views WHERE workspace_id = $1 AND (user_id = $2 OR shared = 1) ORDER BY lower(name), id",
    )
    .bind(workspace_id)
    .bind(user_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(row).collect()
}

pub async fn count_of(c: &mut Conn, workspace_id: i64, user_id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM saved_views WHERE workspace_id = $1 AND user_id = $2",
    )
    .bind(workspace_id)
    .bind(user_id)
    .fetch_one(c)
    .await?)
}

pub async fn insert(
    c: &mut Conn,
    workspace_id: i64,
    user_id: i64,
    name: &str,
    filters: &ViewFilters,
    shared: bool,
) -> DbResult<SavedView> {
    let r = sqlx::query(
        "INSERT INTO saved_views (workspace_id, user_id, name, filters, shared, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(name)
    .bind(serde_json::to_string(filters).unwrap_or_else(|_| "{}".into()))
    .bind(i64::from(shared))
    .bind(now_ms())
    .fetch_one(c)
    .await?;
    row(&r)
}

pub async fn get(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<Option<SavedView>> {
    let r = sqlx::query("SELECT * FROM saved_views WHERE workspace_id = $1 AND id = $2")
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(c)
        .await?;
    r.as_ref().map(row).transpose()
}

pub async fn delete(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM saved_views WHERE workspace_id = $1 AND id = $2")
        .bind(workspace_id)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}
