//! Telling other nodes about new events. On PostgreSQL a change announces its event ids with
//! NOTIFY inside its own transaction, so the notice goes out exactly when (and only if) the change
//! commits. SQLite runs as one node and needs none of this.

use sqlx::postgres::PgListener;

use crate::script::Script;
use crate::{Backend, Conn, Db, DbError, DbResult};

pub const CHANNEL: &str = "citius_events";
/// NOTIFY payloads are limited to 8000 bytes; longer id lists are sent as a range.
const MAX_PAYLOAD: usize = 7000;

/// What a notice says: which node made the change, in which workspace, which events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub node: String,
    pub workspace_id: i64,
    pub ids: NoticeIds,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeIds {
    List(Vec<i64>),
    Range(i64, i64),
}

impl Notice {
    /// `node`'s notice of the events `ids` of a workspace.
    pub fn of_events(node: &str, workspace_id: i64, ids: impl IntoIterator<Item = i64>) -> Self {
        Self {
            node: node.to_string(),
            workspace_id,
            ids: NoticeIds::List(ids.into_iter().collect()),
        }
    }

    pub fn encode(&self) -> String {
        let list = match &self.ids {
            NoticeIds::List(ids) => ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","),
            NoticeIds::Range(a, b) => format!("{a}-{b}"),
        };
        let s = format!("{}:{}:{list}", self.node, self.workspace_id);
        if s.len() <= MAX_PAYLOAD {
            return s;
        }
        match &self.ids {
            NoticeIds::List(ids) => {
                let (a, b) = (
                    ids.iter().min().copied().unwrap_or(0),
                    ids.iter().max().copied().unwrap_or(0),
                );
                format!("{}:{}:{a}-{b}", self.node, self.workspace_id)
            }
            NoticeIds::Range(..) => s,
        }
    }

    pub fn decode(s: &str) -> Option<Self> {
        let mut parts = s.splitn(3, ':');
        let node = parts.next()?.to_string();
        let workspace_id = parts.next()?.parse().ok()?;
        let rest = parts.next()?;
        let ids = match rest.split_once('-') {
            Some((a, b)) => NoticeIds::Range(a.parse().ok()?, b.parse().ok()?),
            None => NoticeIds::List(
                rest.split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .ok()?,
            ),
        };
        Some(Self {
            node,
            workspace_id,
            ids,
        })
    }
}

/// Queues the notice in the transaction; PostgreSQL sends it at commit.
pub async fn announce(c: &mut Conn, backend: Backend, notice: &Notice) -> DbResult<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(notice.encode())
            .execute(c)
            .await?;
    }
    Ok(())
}

/// Adds the notice to a script, to be sent if the script commits.
pub fn announce_in(script: &mut Script, notice: &Notice) {
    script.notify(CHANNEL, &notice.encode());
}

/// A connection listening for notices (PostgreSQL only).
pub async fn listen(db: &Db) -> DbResult<PgListener> {
    let url = db
        .postgres_url()
        .ok_or_else(|| DbError::Corrupt("notices need PostgreSQL".into()))?;
    let mut l = PgListener::connect(url).await?;
    l.listen(CHANNEL).await?;
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip_and_fit() {
        let n = Notice {
            node: "n1".into(),
            workspace_id: 7,
            ids: NoticeIds::List(vec![3, 4, 9]),
        };
        assert_eq!(Notice::decode(&n.encode()), Some(n));
        let big = Notice {
            node: "n1".into(),
            workspace_id: 7,
            ids: NoticeIds::List((1_000_000..1_002_000).collect()),
        };
        let enc = big.encode();
        assert!(enc.len() <= MAX_PAYLOAD);
        assert_eq!(
            Notice::decode(&enc).map(|n| n.ids),
            Some(NoticeIds::Range(1_000_000, 1_001_999))
        );
        assert_eq!(Notice::decode("garbage"), None);
    }
}
