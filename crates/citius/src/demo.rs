//! Demo data: a support team at work, so a new user sees a living help desk at first start.

use anyhow::anyhow;
use citius_app::conversations::{
    CustomerRef, NewConversationInput, NewMessageInput, UpdateConversationInput,
};
use citius_app::directory::{InboxInput, NewUserInput, TeamInput};
use citius_app::{Actor, App};
use citius_domain::conversation::{Channel, MessageKind, Priority, Status};
use citius_domain::role::Role;
use indicatif::{ProgressBar, ProgressStyle};

pub const WORKSPACE: &str = "demo";
pub const EMAIL: &str = "owner@demo.test";
pub const PASSWORD: &str = "citius-demo-2026";

const AGENTS: &[(&str, &str, Role)] = &[
    ("Maya Lopez", "maya@demo.test", Role::Agent),
    ("Tom Becker", "tom@demo.test", Role::Agent),
    ("Aiko Tanaka", "aiko@demo.test", Role::Supervisor),
    ("Sam Okafor", "sam@demo.test", Role::Agent),
];

const CUSTOMERS: &[(&str, &str, &str)] = &[
    ("Ann Carter", "ann.carter@example.com", "+14155550101"),
    ("Bruno Silva", "bruno@example.org", "+5511987650001"),
    ("Chloé Martin", "chloe.martin@example.fr", "+33612345678"),
    ("Dev Patel", "dev.patel@example.com", "+447700900123"),
    ("Eva Novak", "eva.novak@example.cz", "+420601234567"),
    ("Farid Haddad", "farid@example.net", "+971501234567"),
    ("Grace Kim", "grace.kim@example.com", "+821012345678"),
    ("Hugo Jensen", "hugo@example.dk", "+4520123456"),
    ("Ines Rossi", "ines.rossi@example.it", "+393331234567"),
    ("Jonas Weber", "jonas.weber@example.de", "+4915112345678"),
    ("Kemi Adeyemi", "kemi@example.ng", "+2348012345678"),
    ("Liam O'Brien", "liam@example.ie", "+353851234567"),
];

/// (channel, subject, customer's words, agent's reply or "", status, priority, tags)
type Story = (
    Channel,
    &'static str,
    &'static str,
    &'static str,
    Status,
    Priority,
    &'static [&'static str],
);

const STORIES: &[Story] = &[
    (
        Channel::Email,
        "Charged twice for my March invoice",
        "Hi, I see two charges of $49 on my card for March. Can you refund one of them?",
        "Sorry about that! I can see the duplicate charge and have started a refund; it takes 3-5 business days.",
        Status::Pending,
        Priority::High,
        &["billing", "refund"],
    ),
    (
        Channel::Chat,
        "Can't log in after password reset",
        "I reset my password but the login page keeps saying my credentials are wrong.",
        "",
        Status::Open,
        Priority::Urgent,
        &["login"],
    ),
    (
        Channel::Email,
        "Export to CSV misses the last column",
        "When I export the orders report the 'Region' column is empty.",
        "Thanks for the report — I reproduced it and passed it to our engineers.",
        Status::Open,
        Priority::Normal,
        &["bug", "reports"],
    ),
    (
        Channel::Sms,
        "Delivery window for order 10422",
        "When will my order 10422 arrive? I need it before Friday.",
        "It is out for delivery and should arrive tomorrow before noon.",
        Status::Resolved,
        Priority::Normal,
        &["shipping"],
    ),
    (
        Channel::Whatsapp,
        "Change delivery address",
        "Hello, can I still change the delivery address for my order?",
        "",
        Status::Open,
        Priority::High,
        &["shipping"],
    ),
    (
        Channel::Voice,
        "Call: upgrade to the team plan",
        "Customer called about upgrading from Solo to Team for 8 seats.",
        "Walked through pricing; sent a quote by email.",
        Status::Pending,
        Priority::Normal,
        &["sales", "upgrade"],
    ),
    (
        Channel::Email,
        "How do I add a second admin?",
        "We need a second admin on our account. Where do I do that?",
        "Go to Settings → Users, invite them and pick the Admin role.",
        Status::Resolved,
        Priority::Low,
        &["how-to"],
    ),
    (
        Channel::Chat,
        "App crashes when uploading photos",
        "Every time I upload a photo from my phone the app closes.",
        "",
        Status::Open,
        Priority::High,
        &["bug", "mobile"],
    ),
    (
        Channel::Email,
        "Cancel my subscription",
        "Please cancel my subscription at the end of this billing period.",
        "",
        Status::Open,
        Priority::Normal,
        &["billing", "churn-risk"],
    ),
    (
        Channel::Email,
        "Invoice needs our VAT number",
        "Could you reissue invoice INV-2291 with our VAT number DE123456789?",
        "Done — the corrected invoice is attached to your account.",
        Status::Closed,
        Priority::Low,
        &["billing"],
    ),
    (
        Channel::Chat,
        "Where is the API documentation?",
        "I want to connect our CRM. Is there an API?",
        "Yes: the OpenAPI document is at /api/v1/openapi.json and tokens are under Settings.",
        Status::Resolved,
        Priority::Low,
        &["how-to", "api"],
    ),
    (
        Channel::Sms,
        "Wrong item received",
        "I ordered the blue jacket in M and got a red one in L.",
        "",
        Status::Open,
        Priority::High,
        &["returns"],
    ),
    (
        Channel::Email,
        "Feature request: dark mode",
        "Any plans for a dark mode? My team works night shifts.",
        "Thanks! I've added your vote to the request.",
        Status::Snoozed,
        Priority::Low,
        &["feature-request"],
    ),
    (
        Channel::Whatsapp,
        "Refund status",
        "I returned my order two weeks ago and still have no refund.",
        "",
        Status::Open,
        Priority::Urgent,
        &["refund", "returns"],
    ),
    (
        Channel::Email,
        "Two-factor codes not arriving",
        "The SMS codes for two-factor sign-in never arrive on my phone.",
        "",
        Status::Open,
        Priority::High,
        &["login", "security"],
    ),
    (
        Channel::Voice,
        "Call: billing question about proration",
        "Asked why the upgrade charge was lower than the plan price.",
        "Explained proration for the remaining days of the cycle.",
        Status::Resolved,
        Priority::Normal,
        &["billing"],
    ),
];

const PLANS: [&str; 3] = ["solo", "team", "business"];

/// Loads the demo workspace unless it exists already.
pub async fn load(app: &App) -> anyhow::Result<()> {
    let owner_token = match app
        .setup(WORKSPACE, Some("Demo Support"), EMAIL, PASSWORD)
        .await
    {
        Ok((_, token)) => token,
        Err(citius_app::AppError::Conflict(_)) => return Ok(()),
        Err(e) => return Err(anyhow!("demo set-up failed: {e}")),
    };
    let owner = app
        .actor_from_token(&owner_token)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let bar = ProgressBar::new((AGENTS.len() + STORIES.len() * 3) as u64).with_style(
        ProgressStyle::with_template("loading demo data {bar:30} {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let err = |e: citius_app::AppError| anyhow!("demo data: {e}");

    let mut agents: Vec<Actor> = Vec::new();
    for (name, email, role) in AGENTS {
        let u = app
            .add_user(
                &owner,
                NewUserInput {
                    email: (*email).into(),
                    name: (*name).into(),
                    role: *role,
                    password: Some(PASSWORD.into()),
                },
            )
            .await
            .map_err(err)?;
        agents.push(Actor {
            user_id: u.id,
            workspace_id: owner.workspace_id,
            role: *role,
            name: u.name,
            email: u.email,
        });
        bar.inc(1);
    }
    let ids =
        |range: std::ops::Range<usize>| agents[range].iter().map(|a| a.user_id).collect::<Vec<_>>();
    let support = app
        .create_team(
            &owner,
            TeamInput {
                name: "Support".into(),
                member_ids: Some(ids(0..3)),
            },
        )
        .await
        .map_err(err)?;
    let billing = app
        .create_team(
            &owner,
            TeamInput {
                name: "Billing".into(),
                member_ids: Some(ids(2..4)),
            },
        )
        .await
        .map_err(err)?;
    let mut inboxes = Vec::new();
    for (name, channel, address) in [
        ("Support email", Channel::Email, Some("support@demo.test")),
        ("Website chat", Channel::Chat, None),
        ("SMS", Channel::Sms, Some("+14155550000")),
        ("WhatsApp", Channel::Whatsapp, Some("+14155550001")),
        ("Phone", Channel::Voice, Some("+14155550002")),
    ] {
        let i = app
            .create_inbox(
                &owner,
                InboxInput {
                    name: name.into(),
                    channel,
                    address: address.map(str::to_string),
                },
            )
            .await
            .map_err(err)?;
        inboxes.push(i);
    }

    // The website chat is ready to embed (Settings → Chat widget); offline messages go to email.
    let inbox_of = |c: Channel| inboxes.iter().find(|i| i.channel == c).map(|i| i.id);
    if let (Some(chat), Some(email)) = (inbox_of(Channel::Chat), inbox_of(Channel::Email)) {
        app.set_chat_widget(
            &owner,
            chat,
            citius_domain::chat::WidgetInput {
                offline_inbox_id: Some(email),
                ..Default::default()
            },
        )
        .await
        .map_err(err)?;
    }

    service_levels(app, &owner).await.map_err(err)?;

    for (n, (channel, subject, words, reply, status, priority, tags)) in STORIES.iter().enumerate()
    {
        let (name, email, phone) = CUSTOMERS[n % CUSTOMERS.len()];
        let agent = &agents[n % agents.len()];
        let team = if tags.contains(&"billing") || tags.contains(&"refund") {
            billing.id
        } else {
            support.id
        };
        let inbox = inboxes.iter().find(|i| i.channel == *channel).map(|i| i.id);
        let by_phone = matches!(channel, Channel::Sms | Channel::Whatsapp | Channel::Voice);
        let conv = app
            .create_conversation(&owner, NewConversationInput {
                customer: CustomerRef {
                    email: (!by_phone).then(|| email.to_string()),
                    phone: by_phone.then(|| phone.to_string()),
                    external_id: None,
                    chat_visitor_id: None,
                    name: Some(name.into()),
                    attributes: Some(serde_json::json!({"plan": PLANS[n % PLANS.len()], "country": &email[email.rfind('.').map_or(0, |i| i + 1)..]})),
                },
                subject: (*subject).into(),
                body: Some((*words).into()),
                html: None,
                kind: Some(MessageKind::Inbound),
                channel: Some(*channel),
                inbox_id: inbox,
                priority: Some(*priority),
                tags: tags.iter().map(|t| t.to_string()).collect(),
                custom_fields: None,
                // The owner gets a share too, so the first screen after signing in has work on it.
                assignee_id: match n % 4 {
                    1 => None,
                    0 => Some(owner.user_id),
                    _ => Some(agent.user_id),
                },
                team_id: Some(team),
            })
            .await
            .map_err(err)?;
        bar.inc(1);
        if !reply.is_empty() {
            app.add_message(
                agent,
                conv.id,
                NewMessageInput {
                    body: Some((*reply).into()),
                    html: None,
                    kind: Some(MessageKind::Reply),
                    attachments: vec![],
                },
            )
            .await
            .map_err(err)?;
            if n % 3 == 0 {
                app.add_message(
                    agent,
                    conv.id,
                    NewMessageInput {
                        body: Some(format!(
                            "@{} can you double-check this one before we close it?",
                            agents[(n + 2) % agents.len()].name
                        )),
                        html: None,
                        kind: Some(MessageKind::Note),
                        attachments: vec![],
                    },
                )
                .await
                .map_err(err)?;
            }
        }
        bar.inc(1);
        if *status != Status::Open {
            let snooze = (*status == Status::Snoozed).then(|| {
                (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48)).to_string()
            });
            app.update_conversation(
                agent,
                conv.id,
                UpdateConversationInput {
                    status: Some(*status),
                    snoozed_until: snooze,
                    ..Default::default()
                },
            )
            .await
            .map_err(err)?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

/// Office hours, an SLA for email and chat, a rule and a macro, so those screens have
/// something to show and the demo conversations have clocks.
async fn service_levels(app: &App, owner: &Actor) -> Result<(), citius_app::AppError> {
    use citius_domain::automation::{Action, Condition, Conditions, Op, RuleInput, Trigger};
    use citius_domain::calendar::{CalendarInput, Holiday, OpeningHours};
    use citius_domain::macros::{MacroInput, MacroText};
    use citius_domain::sla::{SlaConditions, SlaPolicyInput, SlaTargets};

    let weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday"];
    let office = app
        .save_calendar(
            owner,
            None,
            CalendarInput {
                name: "Office hours".into(),
                time_zone: "Europe/Berlin".into(),
                hours: weekdays
                    .iter()
                    .map(|d| OpeningHours {
                        day: d.to_string(),
                        open: "08:00".into(),
                        close: "18:00".into(),
                    })
                    .collect(),
                holidays: vec![Holiday {
                    date: "2026-12-25".into(),
                    name: "Christmas Day".into(),
                }],
            },
        )
        .await?;
    app.save_sla_policy(
        owner,
        None,
        SlaPolicyInput {
            name: "Email and chat".into(),
            enabled: Some(true),
            conditions: SlaConditions {
                channels: vec![Channel::Email, Channel::Chat],
                ..SlaConditions::default()
            },
            targets: SlaTargets {
                first_response_secs: Some(4 * 3600),
                next_response_secs: Some(8 * 3600),
                resolution_secs: Some(3 * 24 * 3600),
            },
            calendar_id: Some(office.id),
            pause_when_pending: Some(true),
            warn_before_secs: Some(30 * 60),
        },
    )
    .await?;
    app.save_rule(
        owner,
        None,
        RuleInput {
            name: "Cancellation requests".into(),
            enabled: Some(true),
            trigger: Trigger::MessageReceived,
            after_hours: None,
            conditions: Conditions {
                all: vec![Condition {
                    field: "message".into(),
                    op: Op::Contains,
                    value: "cancel".into(),
                }],
                any: vec![],
            },
            actions: vec![
                Action::AddTags {
                    tags: vec!["churn-risk".into()],
                },
                Action::AddNote {
                    text: "Cancellation asked: offer a call before processing it.".into(),
                },
            ],
        },
    )
    .await?;
    app.save_macro(
        owner,
        None,
        MacroInput {
            name: "Refund approved".into(),
            personal: false,
            body: Some(
                "Hi {{ customer.first_name | default: \"there\" }}, your refund is approved and on its way: \
                 expect it within 5 business days. {{ agent.first_name }}"
                    .into(),
            ),
            text_kind: Some(MacroText::Reply),
            actions: vec![
                Action::AddTags {
                    tags: vec!["refund".into()],
                },
                Action::SetStatus {
                    status: Status::Resolved,
                },
            ],
        },
    )
    .await?;
    Ok(())
}
