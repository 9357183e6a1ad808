//! Workspace settings kept as validated documents: business calendars, SLA policies,
//! automation rules and macros. Each row holds its document as JSON plus the few columns
//! queries select or order by; the domain parses the document.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, DbError, DbResult, from_ms, now_ms, parse_json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Calendar,
    SlaPolicy,
    Rule,
    Macro,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Kind::Calendar => "calendars",
            Kind::SlaPolicy => "sla_policies",
            Kind::Rule => "automation_rules",
            Kind::Macro => "macros",
        }
    }

    /// Ordered settings run first to last; the others list by name.
    fn ordered(self) -> bool {
        matches!(self, Kind::SlaPolicy | Kind::Rule)
    }

    /// The id column linking to another record: a policy's calendar, a macro's owner.
    fn link(self) -> Option<&'static str> {
        match self {
            Kind::SlaPolicy => Some("calendar_id"),
            Kind::Macro => Some("owner_user_id"),
            Kind::Calendar | Kind::Rule => None,
        }
    }
}

/// A stored setting.
#[derive(Debug, Clone)]
pub struct Setting {
    pub id: i64,
    pub name: String,
    /// Position among its kind (policies and rules), lowest first.
    pub position: i64,
    pub enabled: bool,
    /// The linked record: a policy's calendar, a personal macro's owner.
    pub link: Option<i64>,
    /// A rule's trigger.
    pub trigger_kind: Option<String>,
    pub definition: serde_json::Value,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

/// What a create or update writes.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    pub name: &'a str,
    pub enabled: bool,
    pub link: Option<i64>,
    pub trigger_kind: Option<&'a str>,
    pub definition: &'a serde_json::Value,
}

fn setting(kind: Kind, r: &AnyRow) -> DbResult<Setting> {
    Ok(Setting {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        position: if kind.ordered() {
            r.try_get("position")?
        } else {
            0
        },
        enabled: !kind.ordered() || r.try_get::<i64, _>("enabled")? != 0,
        link: match kind.link() {
            Some(col) => r.try_get(col)?,
            None => None,
        },
        trigger_kind: if kind == Kind::Rule {
            Some(r.try_get("trigger_kind")?)
        } else {
            None
        },
        definition: parse_json(&r.try_get::<String, _>("definition")?)?,
        created_at: from_ms(r.try_get("created_at")?),
        updated_at: from_ms(r.try_get("updated_at")?),
    })
}

fn order(kind: Kind) -> &'static str {
    if kind.ordered() {
        "position, id"
    } else {
        "name, id"
    }
}

/// All settings of a kind in a workspace, in run order (or by name).
pub async fn list(c: &mut Conn, kind: Kind, workspace_id: i64) -> DbResult<Vec<Setting>> {
    let sql = format!(
        "SELECT * FROM {} WHERE workspace_id = $1 ORDER BY {}",
        kind.table(),
        order(kind)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(workspace_id)
        .fetch_all(c)
        .await?;
    rows.iter().map(|r| setting(kind, r)).collect()
}

/// The enabled rules of a workspace for one trigger, in run order.
pub async fn rules_for(c: &mut Conn, workspace_id: i64, trigger: &str) -> DbResult<Vec<Setting>> {
    let rows = sqlx::query(
        "SELECT * FROM automation_rules WHERE workspace_id = $1 AND trigger_kind = $2 AND enabled = 1 \
         ORDER BY position, id",
    )
    .bind(workspace_id)
    .bind(trigger)
    .fetch_all(c)
    .await?;
    rows.iter().map(|r| setting(Kind::Rule, r)).collect()
}

/// Enabled rules of one trigger in every workspace, as (workspace, rule): for work that
/// runs on the clock rather than on an event.
pub async fn rules_everywhere(c: &mut Conn, trigger: &str) -> DbResult<Vec<(i64, Setting)>> {
    let rows = sqlx::query(
        "SELECT * FROM automation_rules WHERE trigger_kind = $1 AND enabled = 1 ORDER BY workspace_id, position, id",
    )
    .bind(trigger)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("workspace_id")?, setting(Kind::Rule, r)?)))
        .collect()
}

pub async fn get(c: &mut Conn, kind: Kind, workspace_id: i64, id: i64) -> DbResult<Setting> {
    let sql = format!(
        "SELECT * FROM {} WHERE id = $1 AND workspace_id = $2",
        kind.table()
    );
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(workspace_id)
        .fetch_one(c)
        .await?;
    setting(kind, &r)
}

/// Stores a new setting; ordered kinds go last.
pub async fn create(c: &mut Conn, kind: Kind, workspace_id: i64, f: &Fields<'_>) -> DbResult<i64> {
    let now = now_ms();
    let mut cols = vec![
        "workspace_id",
        "name",
        "definition",
        "created_at",
        "updated_at",
    ];
    if kind.ordered() {
        cols.extend(["position", "enabled"]);
    }
    if let Some(link) = kind.link() {
        cols.push(link);
    }
    if kind == Kind::Rule {
        cols.push("trigger_kind");
    }
    let params: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({}) RETURNING id",
        kind.table(),
        cols.join(", "),
        params.join(", ")
    );
    let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(workspace_id)
        .bind(f.name)
        .bind(f.definition.to_string())
        .bind(now)
        .bind(now);
    if kind.ordered() {
        let next = next_position(c, kind, workspace_id).await?;
        q = q.bind(next).bind(i64::from(f.enabled));
    }
    if kind.link().is_some() {
        q = q.bind(f.link);
    }
    if kind == Kind::Rule {
        q = q.bind(f.trigger_kind.unwrap_or_default());
    }
    Ok(q.fetch_one(c).await?)
}

async fn next_position(c: &mut Conn, kind: Kind, workspace_id: i64) -> DbResult<i64> {
    let sql = format!(
        "SELECT COALESCE(MAX(position), 0) + 1 FROM {} WHERE workspace_id = $1",
        kind.table()
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(workspace_id)
        .fetch_one(c)
        .await?)
}

/// Rewrites a setting (its position stays).
pub async fn update(
    c: &mut Conn,
    kind: Kind,
    workspace_id: i64,
    id: i64,
    f: &Fields<'_>,
) -> DbResult<()> {
    let mut cols = vec!["name", "definition", "updated_at"];
    if kind.ordered() {
        cols.push("enabled");
    }
    if let Some(link) = kind.link() {
        cols.push(link);
    }
    if kind == Kind::Rule {
        cols.push("trigger_kind");
    }
    let sets: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, col)| format!("{col} = ${}", i + 3))
        .collect();
    let sql = format!(
        "UPDATE {} SET {} WHERE id = $1 AND workspace_id = $2",
        kind.table(),
        sets.join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(workspace_id)
        .bind(f.name)
        .bind(f.definition.to_string())
        .bind(now_ms());
    if kind.ordered() {
        q = q.bind(i64::from(f.enabled));
    }
    if kind.link().is_some() {
        q = q.bind(f.link);
    }
    if kind == Kind::Rule {
        q = q.bind(f.trigger_kind.unwrap_or_default());
    }
    if q.execute(c).await?.rows_affected() == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Sets the run order: `ids` first to last. Ids of other workspaces are ignored.
pub async fn reorder(c: &mut Conn, kind: Kind, workspace_id: i64, ids: &[i64]) -> DbResult<()> {
    let sql = format!(
        "UPDATE {} SET position = $1 WHERE id = $2 AND workspace_id = $3",
        kind.table()
    );
    for (i, id) in ids.iter().enumerate() {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(i64::try_from(i).unwrap_or(i64::MAX) + 1)
            .bind(id)
            .bind(workspace_id)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

pub async fn delete(c: &mut Conn, kind: Kind, workspace_id: i64, id: i64) -> DbResult<()> {
    if kind == Kind::Calendar {
        let used: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sla_policies WHERE calendar_id = $1 AND workspace_id = $2",
        )
        .bind(id)
        .bind(workspace_id)
        .fetch_one(&mut *c)
        .await?;
        if used > 0 {
            return Err(DbError::Conflict(
                "the calendar is used by an SLA policy".into(),
            ));
        }
        let scheduled: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM agent_presence WHERE schedule_calendar_id = $1 AND workspace_id = $2",
        )
        .bind(id)
        .bind(workspace_id)
        .fetch_one(&mut *c)
        .await?;
        if scheduled > 0 {
            return Err(DbError::Conflict(
                "the calendar is an agent's working schedule".into(),
            ));
        }
    }
    let sql = format!(
        "DELETE FROM {} WHERE id = $1 AND workspace_id = $2",
        kind.table()
    );
    let n = sqlx::query(sqlx::AssertSqlSafe(sql))
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
