//! Writes to several tables in one round trip to the database.
//!
//! Under load a writer's time goes less to the statements than to the trips between it and the
//! database: on SQLite each statement is a hand-off to the connection's worker thread and back,
//! on PostgreSQL a network round trip. A script gathers multi-row inserts and sends them as one:
//! on SQLite as one multi-statement execute, on PostgreSQL as one statement whose inserts are
//! data-modifying `WITH` clauses. No part may read what another writes, so rows that others
//! point to get their ids beforehand from [`reserve`].

use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments, Encode, Type};

use crate::{Backend, Conn, DbError, DbResult};

/// Inserts sent together. In every part's row shape, `$1` stands for the workspace and `$2`
/// for the time.
pub struct Script {
    backend: Backend,
    workspace_id: i64,
    now: i64,
    parts: Vec<String>,
    args: AnyArguments,
    broken: Option<String>,
    rows: usize,
    /// PostgreSQL notices sent if the script commits: `($n, $m)`, channel and payload.
    notices: Vec<String>,
}

/// Scripts of up to this many rows are kept prepared. Their shapes (how many rows go to which
/// table) are few and come back group after group; larger ones vary too much to be worth a place
/// in the connection's statement cache, where they would push out the statements in steady use.
const PREPARED_ROWS: usize = 80;

/// Id reservations of up to this many ids per table stay prepared (see [`reserve`]).
const PREPARED_DRAWS: usize = 16;

/// Binds one row's values, in the order of its placeholders.
pub struct Row<'a> {
    args: &'a mut AnyArguments,
    broken: &'a mut Option<String>,
}

impl Row<'_> {
    pub fn bind<'q, T: Encode<'q, Any> + Type<Any> + 'q>(&mut self, value: T) -> &mut Self {
        if let Err(e) = self.args.add(value)
            && self.broken.is_none()
        {
            *self.broken = Some(e.to_string());
        }
        self
    }
}

/// A piece of a row's shape.
#[derive(Debug, PartialEq)]
enum Slot {
    Text(String),
    /// `$1`
    Workspace,
    /// `$2`
    Now,
    /// The item's own placeholders.
    Item,
}

impl Slot {
    /// Splits a shape built around `\u{0}` (the item) into text and slots; the item must
    /// appear exactly once.
    fn parse(shape: &str) -> Result<Vec<Slot>, String> {
        let mut out = Vec::new();
        let mut text = String::new();
        let mut items = 0;
        let mut chars = shape.chars().peekable();
        while let Some(ch) = chars.next() {
            let slot = match ch {
                '\u{0}' => Slot::Item,
                '$' => match (chars.next(), chars.peek()) {
                    (Some('1'), next) if !next.is_some_and(char::is_ascii_digit) => Slot::Workspace,
                    (Some('2'), next) if !next.is_some_and(char::is_ascii_digit) => Slot::Now,
                    _ => return Err(format!("unknown placeholder in {shape:?}")),
                },
                ch => {
                    text.push(ch);
                    continue;
                }
            };
            if slot == Slot::Item {
                items += 1;
            }
            if !text.is_empty() {
                out.push(Slot::Text(std::mem::take(&mut text)));
            }
            out.push(slot);
        }
        if !text.is_empty() {
            out.push(Slot::Text(text));
        }
        if items != 1 {
            return Err(format!("the row's placeholders appear {items} times"));
        }
        Ok(out)
    }
}

impl Script {
    pub fn new(backend: Backend, workspace_id: i64, now: i64) -> Self {
        Self {
            backend,
            workspace_id,
            now,
            parts: Vec::new(),
            args: AnyArguments::default(),
            broken: None,
            rows: 0,
            notices: Vec::new(),
        }
    }

    pub fn workspace_id(&self) -> i64 {
        self.workspace_id
    }

    /// The time every row of the script is written at (`$2` in its shapes).
    pub fn now(&self) -> i64 {
        self.now
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A multi-row insert: `into` names the table and its columns, `shape` builds one row
    /// around its `width` placeholders (it may use `$1` and `$2` besides), `bind` binds an
    /// item's `width` values. No items, no part.
    pub fn insert<T>(
        &mut self,
        into: &str,
        items: &[T],
        width: usize,
        shape: impl Fn(&str) -> String,
        mut bind: impl FnMut(&mut Row<'_>, &T),
    ) {
        if items.is_empty() {
            return;
        }
        // The shared values are bound in every row like the row's own, never written into the
        // text: a script's text then depends only on its shape, so the database keeps it
        // prepared (and planned) from one group to the next.
        let slots = match Slot::parse(&shape("\u{0}")) {
            Ok(slots) => slots,
            Err(why) => {
                self.broken.get_or_insert(format!("a row of {into}: {why}"));
                return;
            }
        };
        self.rows += items.len();
        let mut rows = Vec::with_capacity(items.len());
        for item in items {
            let mut row = String::new();
            for slot in &slots {
                match slot {
                    Slot::Text(t) => row.push_str(t),
                    Slot::Workspace => {
                        self.placeholders(&mut row, 1);
                        self.bind_shared(self.workspace_id);
                    }
                    Slot::Now => {
                        self.placeholders(&mut row, 1);
                        self.bind_shared(self.now);
                    }
                    Slot::Item => {
                        self.placeholders(&mut row, width);
                        let before = self.args.len();
                        bind(
                            &mut Row {
                                args: &mut self.args,
                                broken: &mut self.broken,
                            },
                            item,
                        );
                        if self.args.len() != before + width && self.broken.is_none() {
                            self.broken = Some(format!(
                                "a row of {into} bound {} values for {width} placeholders",
                                self.args.len() - before
                            ));
                        }
                    }
                }
            }
            rows.push(row);
        }
        self.parts
            .push(format!("INSERT INTO {into} VALUES {}", rows.join(", ")));
    }

    /// A notice on `channel`, sent if (and when) the script's transaction commits: PostgreSQL's
    /// NOTIFY. SQLite runs as one node and sends none.
    pub fn notify(&mut self, channel: &str, payload: &str) {
        if self.backend != Backend::Postgres {
            return;
        }
        let mut pair = String::from("(");
        self.placeholders(&mut pair, 2);
        pair.push(')');
        let mut row = Row {
            args: &mut self.args,
            broken: &mut self.broken,
        };
        row.bind(channel.to_string()).bind(payload.to_string());
        self.notices.push(pair);
    }

    /// Writes `n` placeholders for the next `n` arguments. One argument list serves every
    /// statement on SQLite only by position: anonymous placeholders, each statement taking the
    /// next ones (a numbered one there either leaves the numbers before it unbound, `?7`, or
    /// is looked up by name among all those seen so far, `$7`).
    fn placeholders(&self, out: &mut String, n: usize) {
        for k in 0..n {
            if k > 0 {
                out.push_str(", ");
            }
            match self.backend {
                Backend::Postgres => {
                    out.push('$');
                    out.push_str(&(self.args.len() + k + 1).to_string());
                }
                Backend::Sqlite => out.push('?'),
            }
        }
    }

    fn bind_shared(&mut self, value: i64) {
        Row {
            args: &mut self.args,
            broken: &mut self.broken,
        }
        .bind(value);
    }

    /// The SQL sent for the parts: statements in order on SQLite, `WITH` clauses ending in the
    /// last insert on PostgreSQL, or in the notices when there are any.
    fn sql(&self) -> String {
        match self.backend {
            Backend::Sqlite => self.parts.join(";\n"),
            Backend::Postgres => {
                let (main, clauses) = if self.notices.is_empty() {
                    let (last, first) = self
                        .parts
                        .split_last()
                        .map_or(("", &[][..]), |(l, f)| (l, f));
                    (last.to_string(), first)
                } else {
                    let notices = format!(
                        "SELECT pg_notify(channel, payload) FROM (VALUES {}) AS n(channel, payload)",
                        self.notices.join(", ")
                    );
                    (notices, &self.parts[..])
                };
                if clauses.is_empty() {
                    return main;
                }
                let with = clauses
                    .iter()
                    .enumerate()
                    .map(|(i, p)| format!("part{i} AS ({p})"))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("WITH {with} {main}")
            }
        }
    }

    pub async fn run(self, c: &mut Conn) -> DbResult<()> {
        if let Some(why) = self.broken {
            return Err(DbError::Corrupt(why));
        }
        if self.parts.is_empty() && self.notices.is_empty() {
            return Ok(());
        }
        let sql = self.sql();
        sqlx::query_with(sqlx::AssertSqlSafe(sql), self.args)
            .persistent(self.rows <= PREPARED_ROWS)
            .execute(c)
            .await?;
        Ok(())
    }
}

/// The next `count` ids of each table, for rows a script writes with their ids given. Only
/// for the single writer's transaction: on SQLite it reads the AUTOINCREMENT counters, which
/// no one else moves while this connection holds the write lock (should another process write,
/// the insert fails on the key and nothing is lost); on PostgreSQL it draws from the sequences.
pub async fn reserve(
    c: &mut Conn,
    backend: Backend,
    wants: &[(&'static str, usize)],
) -> DbResult<Vec<Vec<i64>>> {
    if backend == Backend::Postgres {
        let Some((draws, recurs)) = pg_draws(wants)? else {
            return sort_draws(wants, []);
        };
        let q = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(draws)).persistent(recurs);
        return sort_draws(wants, q.fetch_all(c).await?);
    }
    let mut out: Vec<Vec<i64>> = wants.iter().map(|(_, n)| Vec::with_capacity(*n)).collect();
    let asked = asked(wants);
    if asked.is_empty() {
        return Ok(out);
    }
    let names = (1..=asked.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut q = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(format!(
        "SELECT name, seq FROM sqlite_sequence WHERE name IN ({names})"
    )));
    for (_, table, _) in &asked {
        q = q.bind(*table);
    }
    let seqs = q.fetch_all(c).await?;
    for (k, table, n) in asked {
        // A table that never had a row has no counter yet.
        let last = seqs
            .iter()
            .find(|(name, _)| name == table)
            .map_or(0, |(_, seq)| *seq);
        out[k] = (last + 1..=last + n as i64).collect();
    }
    counted(wants, out)
}

/// Checks that each table got as many ids as asked for.
fn counted(wants: &[(&'static str, usize)], out: Vec<Vec<i64>>) -> DbResult<Vec<Vec<i64>>> {
    for ((table, n), ids) in wants.iter().zip(&out) {
        if ids.len() != *n {
            return Err(DbError::Corrupt(format!(
                "reserved {} ids of {table} for {n} rows",
                ids.len()
            )));
        }
    }
    Ok(out)
}

/// The tables that `wants` asks ids of: (index into `wants`, table, count).
fn asked(wants: &[(&'static str, usize)]) -> Vec<(usize, &'static str, usize)> {
    wants
        .iter()
        .enumerate()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(k, (table, n))| (k, *table, *n))
        .collect()
}

/// The PostgreSQL statement drawing the ids `wants` asks for, as rows of (index into `wants`,
/// id), and whether to keep it prepared; `None` when nothing is asked for.
pub(crate) fn pg_draws(wants: &[(&'static str, usize)]) -> DbResult<Option<(String, bool)>> {
    let asked = asked(wants);
    if asked.is_empty() {
        return Ok(None);
    }
    // Written out with no parameters, the statement is planned once per connection (with
    // parameters PostgreSQL planned it anew on every call, for the row counts). Table names
    // come from code, never from input.
    if let Some((_, bad, _)) = asked
        .iter()
        .find(|(_, t, _)| !t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    {
        return Err(DbError::Corrupt(format!("no ids to reserve for '{bad}'")));
    }
    let draws = asked
        .iter()
        .map(|(k, table, n)| {
            format!(
                "SELECT {k}::int8, nextval(pg_get_serial_sequence('{table}', 'id')) \
                 FROM generate_series(1, {n})"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    // Counts of a group of a few changes recur; larger ones are kept out of the cache.
    let recurs = asked.iter().all(|(_, _, n)| *n <= PREPARED_DRAWS);
    Ok(Some((draws, recurs)))
}

/// Sorts drawn rows (index into `wants`, id) into each table's ids, in order.
pub(crate) fn sort_draws(
    wants: &[(&'static str, usize)],
    drawn: impl IntoIterator<Item = (i64, i64)>,
) -> DbResult<Vec<Vec<i64>>> {
    let mut out: Vec<Vec<i64>> = wants.iter().map(|(_, n)| Vec::with_capacity(*n)).collect();
    for (k, id) in drawn {
        if let Some(ids) = usize::try_from(k).ok().and_then(|k| out.get_mut(k)) {
            ids.push(id);
        }
    }
    for ids in &mut out {
        ids.sort_unstable();
    }
    counted(wants, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(backend: Backend) -> Script {
        script_of(backend, 7, 1000, [(1, "x"), (2, "y")], 3)
    }

    /// Two parts: rows (id, x) into `a` with the workspace, one id into `b` with the time.
    fn script_of(backend: Backend, ws: i64, now: i64, a: [(i64, &str); 2], b: i64) -> Script {
        let mut s = Script::new(backend, ws, now);
        s.insert(
            "a (id, ws, x)",
            &a,
            2,
            |p| format!("({p}, $1)"),
            |r, (id, x)| {
                r.bind(*id).bind(*x);
            },
        );
        s.insert(
            "b (id, at)",
            &[b],
            1,
            |p| format!("({p}, $2)"),
            |r, id| {
                r.bind(*id);
            },
        );
        s
    }

    #[test]
    fn parts_number_their_rows_after_everything_bound_before() {
        let s = script(Backend::Postgres);
        assert_eq!(s.args.len(), 8);
        assert_eq!(
            s.sql(),
            "WITH part0 AS (INSERT INTO a (id, ws, x) VALUES ($1, $2, $3), ($4, $5, $6)) \
             INSERT INTO b (id, at) VALUES ($7, $8)"
        );
    }

    #[test]
    fn on_sqlite_statements_take_their_arguments_in_turn() {
        let s = script(Backend::Sqlite);
        assert_eq!(s.args.len(), 8);
        assert_eq!(
            s.sql(),
            "INSERT INTO a (id, ws, x) VALUES (?, ?, ?), (?, ?, ?);\n\
             INSERT INTO b (id, at) VALUES (?, ?)"
        );
    }

    #[test]
    fn notices_follow_every_insert_on_postgres_and_are_left_out_on_sqlite() {
        let mut s = script(Backend::Postgres);
        s.notify("events", "n1:7:1,2");
        assert_eq!(s.args.len(), 10);
        assert_eq!(
            s.sql(),
            "WITH part0 AS (INSERT INTO a (id, ws, x) VALUES ($1, $2, $3), ($4, $5, $6)), \
             part1 AS (INSERT INTO b (id, at) VALUES ($7, $8)) \
             SELECT pg_notify(channel, payload) FROM (VALUES ($9, $10)) AS n(channel, payload)"
        );
        let mut s = script(Backend::Sqlite);
        s.notify("events", "n1:7:1,2");
        assert_eq!(s.args.len(), 8);
        assert!(!s.sql().contains("notify"));
    }

    #[test]
    fn scripts_of_one_shape_read_the_same_whatever_their_values() {
        let later = script_of(Backend::Postgres, 9, 2000, [(5, "z"), (6, "w")], 8);
        assert_eq!(later.sql(), script(Backend::Postgres).sql());
    }

    #[test]
    fn shapes_name_only_the_shared_values_and_the_item_once() {
        assert_eq!(
            Slot::parse("(\u{0}, $1, 'open', $2, $2)"),
            Ok(vec![
                Slot::Text("(".into()),
                Slot::Item,
                Slot::Text(", ".into()),
                Slot::Workspace,
                Slot::Text(", 'open', ".into()),
                Slot::Now,
                Slot::Text(", ".into()),
                Slot::Now,
                Slot::Text(")".into()),
            ])
        );
        assert!(Slot::parse("(\u{0}, $3)").is_err());
        assert!(Slot::parse("(\u{0}, $12)").is_err());
        assert!(Slot::parse("($1)").is_err());
        assert!(Slot::parse("(\u{0}, \u{0})").is_err());
    }

    #[test]
    fn a_row_that_binds_too_few_values_breaks_the_script() {
        let mut s = script(Backend::Sqlite);
        s.insert(
            "c (id, x)",
            &[1],
            2,
            |p| format!("({p})"),
            |r, id| {
                r.bind(*id);
            },
        );
        assert!(
            s.broken
                .is_some_and(|why| why.contains("bound 1 values for 2"))
        );
    }
}
