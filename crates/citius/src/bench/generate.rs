//! Realistic workspaces at scale: customers who come back, agents and teams, a channel mix,
//! busier weekdays and office hours, and conversation lengths with a long tail.

use anyhow::Context;
use citius_app::App;
use citius_store::bulk::{self, Cell};
use citius_store::search::DocKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub const WORKSPACE: &str = "bench";
pub const EMAIL: &str = "owner@bench.test";
pub const PASSWORD: &str = "bench-owner-password";

const AGENTS: i64 = 50;
const TEAMS: &[&str] = &["Tier 1", "Tier 2", "Billing", "Technical", "VIP"];
const TAGS: &[&str] = &[
    "billing",
    "refund",
    "login",
    "bug",
    "shipping",
    "returns",
    "how-to",
    "feature-request",
    "api",
    "mobile",
    "security",
    "upgrade",
    "churn-risk",
    "vip",
    "outage",
    "invoice",
    "password",
    "export",
    "integration",
    "feedback",
];
/// (channel, share in percent)
const CHANNELS: &[(&str, u32)] = &[
    ("email", 45),
    ("chat", 25),
    ("whatsapp", 10),
    ("sms", 8),
    ("voice", 7),
    ("api", 5),
];
const STATUSES: &[(&str, u32)] = &[
    ("resolved", 48),
    ("closed", 30),
    ("open", 12),
    ("pending", 8),
    ("snoozed", 2),
];
const PRIORITIES: &[(&str, u32)] = &[("normal", 65), ("low", 15), ("high", 15), ("urgent", 5)];
const FIRST: &[&str] = &[
    "Ann", "Bruno", "Chloe", "Dev", "Eva", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kemi",
    "Liam", "Mia", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wen",
    "Yara", "Zoe",
];
const LAST: &[&str] = &[
    "Carter", "Silva", "Martin", "Patel", "Novak", "Haddad", "Kim", "Jensen", "Rossi", "Weber",
    "Adeyemi", "OBrien", "Schmidt", "Garcia", "Ivanova", "Tanaka", "Moreau", "Larsen", "Costa",
    "Nguyen",
];
const WORDS: &[&str] = &[
    "account",
    "invoice",
    "charged",
    "twice",
    "refund",
    "order",
    "delivery",
    "package",
    "tracking",
    "address",
    "password",
    "reset",
    "login",
    "error",
    "crash",
    "upload",
    "photo",
    "export",
    "report",
    "column",
    "missing",
    "subscription",
    "cancel",
    "upgrade",
    "plan",
    "seats",
    "team",
    "admin",
    "permission",
    "integration",
    "webhook",
    "api",
    "token",
    "sync",
    "calendar",
    "email",
    "notification",
    "mobile",
    "android",
    "iphone",
    "browser",
    "slow",
    "timeout",
    "page",
    "dashboard",
    "chart",
    "discount",
    "coupon",
    "checkout",
    "payment",
    "card",
    "declined",
    "bank",
    "transfer",
    "receipt",
    "vat",
    "tax",
    "shipping",
    "return",
    "exchange",
    "size",
    "color",
    "damaged",
    "broken",
    "replacement",
    "warranty",
    "manual",
    "setup",
    "install",
    "update",
    "version",
    "feature",
    "dark",
    "mode",
    "language",
    "translation",
    "support",
    "urgent",
    "please",
    "help",
    "thanks",
    "waiting",
    "week",
    "yesterday",
    "today",
    "tomorrow",
    "friday",
    "monday",
    "again",
    "still",
    "cannot",
    "works",
];
const SUBJECTS: &[&str] = &[
    "Charged twice for my order",
    "Cannot log in after password reset",
    "Export misses a column",
    "Where is my package",
    "Change delivery address",
    "Upgrade to the team plan",
    "How do I add an admin",
    "App crashes on photo upload",
    "Cancel my subscription",
    "Invoice needs our VAT number",
    "API token not working",
    "Wrong item received",
    "Feature request: dark mode",
    "Refund status",
    "Two-factor codes not arriving",
    "Question about proration",
];

fn pick<'a>(rng: &mut StdRng, weighted: &'a [(&'a str, u32)]) -> &'a str {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    for (v, w) in weighted {
        if x < *w {
            return v;
        }
        x -= w;
    }
    weighted[0].0
}

/// Text for what the scenarios write, from the generator's vocabulary: conversations made by
/// one run look like the rest, so the next run's search is not skewed by pages of one phrase.
pub(super) fn sample_text(seed: usize, words: usize) -> String {
    sentence(&mut StdRng::seed_from_u64(seed as u64), words)
}

/// A new customer for what the scenarios write: a name as the generator gives them and an
/// address of the scenario's own (`tag`), unique per call.
pub(super) fn sample_customer(tag: &str, seed: usize) -> serde_json::Value {
    let mut rng = StdRng::seed_from_u64(seed as u64);
    let name = format!(
        "{} {}",
        FIRST[rng.random_range(0..FIRST.len())],
        LAST[rng.random_range(0..LAST.len())]
    );
    let email = format!("{tag}-{seed}-{}@example.com", rand::random::<u32>());
    serde_json::json!({"name": name, "email": email})
}

fn sentence(rng: &mut StdRng, words: usize) -> String {
    let mut s = String::with_capacity(words * 8);
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
    s.push('.');
    s
}

/// A moment in the past year, busier on weekdays and in office hours.
fn when(rng: &mut StdRng, now_ms: i64) -> i64 {
    loop {
        let day = rng.random_range(0..365_i64);
        let hour = rng.random_range(0..24_i64);
        let t = now_ms - day * 86_400_000 - rng.random_range(0..86_400_000_i64);
        let weekday = (t / 86_400_000 + 4) % 7; // 1970-01-01 was a Thursday
        let weight = if (1..=5).contains(&weekday) { 10 } else { 4 }
            * if (8..18).contains(&hour) { 3 } else { 1 };
        if rng.random_range(0..30) < weight {
            return t;
        }
    }
}

/// Messages in a conversation: most are short, a few run long.
fn length(rng: &mut StdRng) -> i64 {
    let mut n = 1;
    while n < 80 && rng.random_bool(0.8) {
        n += 1;
    }
    n
}

pub struct Generated {
    pub conversations: i64,
    pub messages: i64,
}

/// Creates the bench workspace if missing and fills it up to `target` conversations.
pub async fn ensure(app: &App, target: i64) -> anyhow::Result<Generated> {
    let db = &app.db;
    let ws = match app
        .setup(WORKSPACE, Some("Benchmark"), EMAIL, PASSWORD)
        .await
    {
        Ok((ws, _)) => ws,
        Err(citius_app::AppError::Conflict(_)) => {
            let mut c = db.read().await?;
            citius_store::directory::workspace_by_slug(&mut c, WORKSPACE).await?
        }
        Err(e) => anyhow::bail!("creating the bench workspace: {e}"),
    };
    let wsid = ws.id;
    let existing: i64 = {
        let mut c = db.read().await?;
        sqlx_count(&mut c, wsid).await?
    };
    let mut rng = StdRng::seed_from_u64(0xC171 + existing as u64);
    let now = citius_store::now_ms();
    let mut tx = db.begin().await?;

    // People and structure, once.
    let agents: Vec<i64> = {
        let first_user = bulk::next_id(&mut tx, "users").await?;
        let have: i64 = bulk::count(&mut tx, "memberships").await?;
        if have < AGENTS {
            let mut users = Vec::new();
            let mut members = Vec::new();
            for i in 0..AGENTS {
                let id = first_user + i;
                users.push(vec![
                    Cell::Int(id),
                    Cell::Text(format!("agent{id}@bench.test")),
                    Cell::Text(format!("Agent {id}")),
                    Cell::Null,
                    Cell::Int(now),
                ]);
                members.push(vec![
                    Cell::Int(wsid),
                    Cell::Int(id),
                    Cell::Text("agent".into()),
                    Cell::Int(now),
                ]);
            }
            bulk::insert(
                &mut tx,
                db.backend(),
                "users",
                &["id", "email", "name", "password_hash", "created_at"],
                &users,
            )
            .await?;
            bulk::insert(
                &mut tx,
                db.backend(),
                "memberships",
                &["workspace_id", "user_id", "role", "created_at"],
                &members,
            )
            .await?;
            let first_team = bulk::next_id(&mut tx, "teams").await?;
            let teams: Vec<Vec<Cell>> = TEAMS
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    vec![
                        Cell::Int(first_team + i as i64),
                        Cell::Int(wsid),
                        Cell::Text((*n).into()),
                        Cell::Int(now),
                    ]
                })
                .collect();
            bulk::insert(
                &mut tx,
                db.backend(),
                "teams",
                &["id", "workspace_id", "name", "created_at"],
                &teams,
            )
            .await?;
            let tm: Vec<Vec<Cell>> = (0..AGENTS)
                .map(|i| {
                    vec![
                        Cell::Int(first_team + i % TEAMS.len() as i64),
                        Cell::Int(first_user + i),
                    ]
                })
                .collect();
            bulk::insert(
                &mut tx,
                db.backend(),
                "team_members",
                &["team_id", "user_id"],
                &tm,
            )
            .await?;
            let first_tag = bulk::next_id(&mut tx, "tags").await?;
            let tags: Vec<Vec<Cell>> = TAGS
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    vec![
                        Cell::Int(first_tag + i as i64),
                        Cell::Int(wsid),
                        Cell::Text((*n).into()),
                    ]
                })
                .collect();
            bulk::insert(
                &mut tx,
                db.backend(),
                "tags",
                &["id", "workspace_id", "name"],
                &tags,
            )
            .await?;
            let first_inbox = bulk::next_id(&mut tx, "inboxes").await?;
            let inboxes: Vec<Vec<Cell>> = CHANNELS
                .iter()
                .enumerate()
                .map(|(i, (ch, _))| {
                    vec![
                        Cell::Int(first_inbox + i as i64),
                        Cell::Int(wsid),
                        Cell::Text(format!("{ch} inbox")),
                        Cell::Text((*ch).into()),
                        Cell::Null,
                        Cell::Int(now),
                    ]
                })
                .collect();
            bulk::insert(
                &mut tx,
                db.backend(),
                "inboxes",
                &[
                    "id",
                    "workspace_id",
                    "name",
                    "channel",
                    "address",
                    "created_at",
                ],
                &inboxes,
            )
            .await?;
        }
        let rows: Vec<i64> = member_ids(&mut tx, wsid).await?;
        rows
    };
    let teams: Vec<i64> = citius_store::directory::teams(&mut tx, wsid)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    let tags: Vec<i64> = citius_store::conversations::tags(&mut tx, wsid)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    let inboxes = citius_store::directory::inboxes(&mut tx, wsid).await?;
    tx.commit().await?;

    let todo = (target - existing).max(0);
    let bar = indicatif::ProgressBar::new(todo as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "generating {bar:40} {pos}/{len} conversations ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let customers_target = (target / 3).max(1);
    let mut messages_total = 0;
    // A large load builds the PostgreSQL search index once at the end instead of row by row.
    let rebuild_index = todo >= 100_000;
    if rebuild_index {
        let mut tx = db.begin().await?;
        bulk::drop_search_index(&mut tx, db.backend()).await?;
        tx.commit().await?;
    }
    const CHUNK: i64 = 5_000;
    let mut done = 0;
    while done < todo {
        let n = CHUNK.min(todo - done);
        let mut tx = db.begin().await?;
        bulk::prepare_large_load(&mut tx, db.backend()).await?;
        let mut next_customer = bulk::next_id(&mut tx, "customers").await?;
        let customers_now: i64 = next_customer - 1;
        let mut next_conv = bulk::next_id(&mut tx, "conversations").await?;
        let mut next_msg = bulk::next_id(&mut tx, "messages").await?;
        let mut next_event = bulk::next_id(&mut tx, "events").await?;
        let mut next_ident = bulk::next_id(&mut tx, "customer_identities").await?;
        let (mut customers, mut idents, mut convs, mut msgs, mut events, mut ctags, mut docs) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            // Returning customers: a third of conversations come from someone seen before.
            let customer = if customers_now > 0
                && (rng.random_bool(0.35) || next_customer > customers_target)
            {
                rng.random_range(1..=customers_now.max(1)).max(1)
            } else {
                let id = next_customer;
                next_customer += 1;
                let name = format!(
                    "{} {}",
                    FIRST[rng.random_range(0..FIRST.len())],
                    LAST[rng.random_range(0..LAST.len())]
                );
                let email = format!(
                    "{}.{}@example{}.com",
                    name.replace(' ', ".").to_lowercase(),
                    id,
                    id % 97
                );
                customers.push(vec![
                    Cell::Int(id),
                    Cell::Int(wsid),
                    Cell::Text(name.clone()),
                    Cell::Text("{}".into()),
                    Cell::Int(now),
                    Cell::Int(now),
                ]);
                idents.push(vec![
                    Cell::Int(next_ident),
                    Cell::Int(wsid),
                    Cell::Int(id),
                    Cell::Text("email".into()),
                    Cell::Text(email.clone()),
                    Cell::Int(now),
                ]);
                next_ident += 1;
                docs.push((DocKind::Customer, id, None, format!("{name} {email}")));
                id
            };
            let id = next_conv;
            next_conv += 1;
            let channel = pick(&mut rng, CHANNELS);
            let inbox = inboxes
                .iter()
                .find(|i| i.channel.as_str() == channel)
                .map(|i| i.id);
            let status = pick(&mut rng, STATUSES);
            let created = when(&mut rng, now);
            let count = length(&mut rng);
            let subject = format!(
                "{} {}",
                SUBJECTS[rng.random_range(0..SUBJECTS.len())],
                WORDS[rng.random_range(0..WORDS.len())]
            );
            let assignee = if rng.random_bool(0.9) {
                Some(agents[rng.random_range(0..agents.len())])
            } else {
                None
            };
            let mut t = created;
            events.push(vec![
                Cell::Int(next_event),
                Cell::Int(wsid),
                Cell::Int(id),
                Cell::Text("created".into()),
                Cell::Null,
                Cell::Text("{}".into()),
                Cell::Int(t),
            ]);
            next_event += 1;
            for k in 0..count {
                t += rng.random_range(60_000..6 * 3_600_000);
                let kind = if k % 2 == 0 {
                    "inbound"
                } else if rng.random_bool(0.1) {
                    "note"
                } else {
                    "reply"
                };
                let words = rng.random_range(8..40);
                let body = sentence(&mut rng, words);
                let (au, ac) = if kind == "inbound" {
                    (Cell::Null, Cell::Int(customer))
                } else {
                    (assignee.map_or(Cell::Null, Cell::Int), Cell::Null)
                };
                msgs.push(vec![
                    Cell::Int(next_msg),
                    Cell::Int(wsid),
                    Cell::Int(id),
                    Cell::Text(kind.into()),
                    au,
                    ac,
                    Cell::Text(body.clone()),
                    Cell::Text(citius_domain::content::escape_html(&body)),
                    Cell::Int(t),
                ]);
                events.push(vec![
                    Cell::Int(next_event),
                    Cell::Int(wsid),
                    Cell::Int(id),
                    Cell::Text("message_added".into()),
                    Cell::Null,
                    Cell::Text(format!("{{\"message_id\":{next_msg},\"kind\":\"{kind}\"}}")),
                    Cell::Int(t),
                ]);
                docs.push((DocKind::Message, next_msg, Some(id), body));
                next_msg += 1;
                next_event += 1;
            }
            for tag in 0..rng.random_range(0..3) {
                let tag_id = tags[(rng.random_range(0..tags.len()) + tag) % tags.len()];
                ctags.push(vec![Cell::Int(id), Cell::Int(tag_id), Cell::Int(t)]);
            }
            docs.push((DocKind::Subject, id, Some(id), subject.clone()));
            convs.push(vec![
                Cell::Int(id),
                Cell::Int(wsid),
                Cell::Int(customer),
                Cell::Text(channel.into()),
                inbox.map_or(Cell::Null, Cell::Int),
                Cell::Text(status.into()),
                Cell::Text(pick(&mut rng, PRIORITIES).into()),
                assignee.map_or(Cell::Null, Cell::Int),
                Cell::Int(teams[rng.random_range(0..teams.len())]),
                Cell::Text(subject),
                Cell::Text("{}".into()),
                if status == "snoozed" {
                    Cell::Int(now + 86_400_000)
                } else {
                    Cell::Null
                },
                Cell::Int(count),
                Cell::Int(created),
                Cell::Int(t),
            ]);
            messages_total += count;
        }
        ctags.sort_by_key(|r| match (&r[0], &r[1]) {
            (Cell::Int(a), Cell::Int(b)) => (*a, *b),
            _ => (0, 0),
        });
        ctags.dedup_by_key(|r| match (&r[0], &r[1]) {
            (Cell::Int(a), Cell::Int(b)) => (*a, *b),
            _ => (0, 0),
        });
        bulk::insert(
            &mut tx,
            db.backend(),
            "customers",
            &[
                "id",
                "workspace_id",
                "name",
                "attributes",
                "created_at",
                "updated_at",
            ],
            &customers,
        )
        .await?;
        bulk::insert(
            &mut tx,
            db.backend(),
            "customer_identities",
            &[
                "id",
                "workspace_id",
                "customer_id",
                "kind",
                "value",
                "created_at",
            ],
            &idents,
        )
        .await?;
        bulk::insert(
            &mut tx,
            db.backend(),
            "conversations",
            &[
                "id",
                "workspace_id",
                "customer_id",
                "channel",
                "inbox_id",
                "status",
                "priority",
                "assignee_id",
                "team_id",
                "subject",
                "custom_fields",
                "snoozed_until",
                "message_count",
                "created_at",
                "updated_at",
            ],
            &convs,
        )
        .await?;
        bulk::insert(
            &mut tx,
            db.backend(),
            "messages",
            &[
                "id",
                "workspace_id",
                "conversation_id",
                "kind",
                "author_user_id",
                "author_customer_id",
                "body_text",
                "body_html",
                "created_at",
            ],
            &msgs,
        )
        .await?;
        bulk::insert(
            &mut tx,
            db.backend(),
            "events",
            &[
                "id",
                "workspace_id",
                "conversation_id",
                "kind",
                "actor_user_id",
                "data",
                "created_at",
            ],
            &events,
        )
        .await?;
        bulk::insert(
            &mut tx,
            db.backend(),
            "conversation_tags",
            &["conversation_id", "tag_id", "conversation_updated_at"],
            &ctags,
        )
        .await?;
        bulk::insert_search_docs(&mut tx, db.backend(), wsid, &docs).await?;
        tx.commit().await?;
        done += n;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    if rebuild_index {
        println!("building the search index…");
        let mut tx = db.begin().await?;
        bulk::create_search_index(&mut tx, db.backend()).await?;
        tx.commit().await?;
    }
    let mut tx = db.begin().await?;
    bulk::reset_sequences(
        &mut tx,
        db.backend(),
        &[
            "users",
            "teams",
            "tags",
            "inboxes",
            "customers",
            "customer_identities",
            "conversations",
            "messages",
            "events",
        ],
    )
    .await?;
    tx.commit().await?;
    if todo > 0 {
        let mut c = db.read().await?;
        bulk::settle(&mut c, db.backend())
            .await
            .context("VACUUM and ANALYZE after loading")?;
    }
    let mut c = db.read().await?;
    Ok(Generated {
        conversations: sqlx_count(&mut c, wsid).await?,
        messages: bulk::count(&mut c, "messages").await?.max(messages_total),
    })
}

async fn sqlx_count(c: &mut citius_store::Conn, wsid: i64) -> anyhow::Result<i64> {
    Ok(citius_store::bulk::count_where(c, "conversations", wsid).await?)
}

async fn member_ids(c: &mut citius_store::Conn, wsid: i64) -> anyhow::Result<Vec<i64>> {
    Ok(citius_store::directory::members(c, wsid)
        .await?
        .into_iter()
        .filter(|u| u.role == citius_domain::role::Role::Agent)
        .map(|u| u.id)
        .collect())
}
