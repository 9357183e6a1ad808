//! Who may do what: every role against a table of routes. Each allowed attempt must succeed
//! with its usual status; each refused one must answer 403 `forbidden` and change nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::kit::{TestApp, both, id, unique};

const ROLES: [&str; 5] = ["viewer", "agent", "supervisor", "admin", "owner"];

fn rank(role: &str) -> usize {
    ROLES
        .iter()
        .position(|r| *r == role)
        .unwrap_or_else(|| panic!("unknown role {role}"))
}

/// What is attempted, and the least role allowed to do it.
#[derive(Debug, Clone, Copy)]
enum Case {
    ListConversations,
    GetConversation,
    Timeline,
    Search,
    ListCustomers,
    ListUsers,
    ListTeams,
    Me,
    CreateOwnToken,
    CreateConversation,
    Reply,
    Note,
    UpdateConversation,
    CreateCustomer,
    UpdateCustomer,
    AddCustomerNote,
    CreateTag,
    MergeCustomers,
    SplitCustomer,
    AddAgent,
    AddAdmin,
    ChangeRole,
    PromoteToAdmin,
    RemoveUser,
    CreateTeam,
    UpdateTeam,
    DeleteTeam,
    CreateSkill,
    SetUserSkill,
    CreateInbox,
    DeleteTag,
    AuditLog,
    DeleteConversation,
    DeleteCustomer,
    ListJobs,
    RetryJob,
}

impl Case {
    const ALL: [Case; 36] = [
        Case::ListConversations,
        Case::GetConversation,
        Case::Timeline,
        Case::Search,
        Case::ListCustomers,
        Case::ListUsers,
        Case::ListTeams,
        Case::Me,
        Case::CreateOwnToken,
        Case::CreateConversation,
        Case::Reply,
        Case::Note,
        Case::UpdateConversation,
        Case::CreateCustomer,
        Case::UpdateCustomer,
        Case::AddCustomerNote,
        Case::CreateTag,
        Case::MergeCustomers,
        Case::SplitCustomer,
        Case::AddAgent,
        Case::AddAdmin,
        Case::ChangeRole,
        Case::PromoteToAdmin,
        Case::RemoveUser,
        Case::CreateTeam,
        Case::UpdateTeam,
        Case::DeleteTeam,
        Case::CreateSkill,
        Case::SetUserSkill,
        Case::CreateInbox,
        Case::DeleteTag,
        Case::AuditLog,
        Case::DeleteConversation,
        Case::DeleteCustomer,
        Case::ListJobs,
        Case::RetryJob,
    ];

    fn least_role(self) -> &'static str {
        use Case::*;
        match self {
            ListConversations | GetConversation | Timeline | Search | ListCustomers | ListUsers
            | ListTeams | Me | CreateOwnToken => "viewer",
            CreateConversation | Reply | Note | UpdateConversation | CreateCustomer
            | UpdateCustomer | AddCustomerNote | CreateTag => "agent",
            MergeCustomers | SplitCustomer => "supervisor",
            AddAgent | ChangeRole | RemoveUser | CreateTeam | UpdateTeam | DeleteTeam
            | CreateSkill | SetUserSkill | CreateInbox | DeleteTag | AuditLog
            | DeleteConversation | DeleteCustomer | ListJobs | RetryJob => "admin",
            AddAdmin | PromoteToAdmin => "owner",
        }
    }
}

/// Shared fixtures, made by the owner.
struct Fixtures {
    conversation: i64,
    customer: i64,
    team: i64,
    workspace: i64,
}

/// Builds the request for one attempt (fresh targets where an attempt consumes them) and the
/// status it answers when allowed.
async fn prepare(
    t: &TestApp,
    f: &Fixtures,
    case: Case,
) -> (Method, String, Option<Value>, StatusCode) {
    let owner = t.token.as_str();
    let email = || format!("{}@example.com", unique("c"));
    let conv = f.conversation;
    match case {
        Case::ListConversations => (
            Method::GET,
            "/api/v1/conversations".into(),
            None,
            StatusCode::OK,
        ),
        Case::GetConversation => (
            Method::GET,
            format!("/api/v1/conversations/{conv}"),
            None,
            StatusCode::OK,
        ),
        Case::Timeline => (
            Method::GET,
            format!("/api/v1/conversations/{conv}/timeline"),
            None,
            StatusCode::OK,
        ),
        Case::Search => (
            Method::GET,
            "/api/v1/search?q=roles".into(),
            None,
            StatusCode::OK,
        ),
        Case::ListCustomers => (
            Method::GET,
            "/api/v1/customers".into(),
            None,
            StatusCode::OK,
        ),
        Case::ListUsers => (Method::GET, "/api/v1/users".into(), None, StatusCode::OK),
        Case::ListTeams => (Method::GET, "/api/v1/teams".into(), None, StatusCode::OK),
        Case::Me => (Method::GET, "/api/v1/me".into(), None, StatusCode::OK),
        Case::CreateOwnToken => (
            Method::POST,
            "/api/v1/tokens".into(),
            Some(json!({"name": "cli"})),
            StatusCode::CREATED,
        ),
        Case::CreateConversation => (
            Method::POST,
            "/api/v1/conversations".into(),
            Some(json!({"customer": {"email": email()}, "subject": "Role check", "body": "x"})),
            StatusCode::CREATED,
        ),
        Case::Reply => (
            Method::POST,
            format!("/api/v1/conversations/{conv}/messages"),
            Some(json!({"body": "reply", "kind": "reply"})),
            StatusCode::CREATED,
        ),
        Case::Note => (
            Method::POST,
            format!("/api/v1/conversations/{conv}/messages"),
            Some(json!({"body": "note", "kind": "note"})),
            StatusCode::CREATED,
        ),
        Case::UpdateConversation => (
            Method::PATCH,
            format!("/api/v1/conversations/{conv}"),
            Some(json!({"add_tags": [unique("t")]})),
            StatusCode::OK,
        ),
        Case::CreateCustomer => (
            Method::POST,
            "/api/v1/customers".into(),
            Some(json!({"email": email(), "name": "New"})),
            StatusCode::CREATED,
        ),
        Case::UpdateCustomer => (
            Method::PATCH,
            format!("/api/v1/customers/{}", f.customer),
            Some(json!({"name": unique("Name ")})),
            StatusCode::OK,
        ),
        Case::AddCustomerNote => (
            Method::POST,
            format!("/api/v1/customers/{}/notes", f.customer),
            Some(json!({"body": "note"})),
            StatusCode::CREATED,
        ),
        Case::CreateTag => (
            Method::POST,
            "/api/v1/tags".into(),
            Some(json!({"name": unique("tag-")})),
            StatusCode::CREATED,
        ),
        Case::MergeCustomers => {
            let target = t
                .post_created("/api/v1/customers", owner, json!({"email": email()}))
                .await;
            let source = t
                .post_created("/api/v1/customers", owner, json!({"email": email()}))
                .await;
            (
                Method::POST,
                format!("/api/v1/customers/{}/merge", id(&target)),
                Some(json!({"source_id": id(&source)})),
                StatusCode::OK,
            )
        }
        Case::SplitCustomer => {
            let (a, b) = (email(), email());
            let c = t
                .post_created(
                    "/api/v1/conversations",
                    owner,
                    json!({"customer": {"email": a}, "subject": "s", "body": "b"}),
                )
                .await;
            let cust = c["customer_id"].as_i64().expect("customer id");
            let (s, body) = t
                .post(
                    &format!("/api/v1/customers/{cust}/identities"),
                    owner,
                    json!({"kind": "email", "value": b}),
                )
                .await;
            assert!(s.is_success(), "add identity: {s} {body}");
            (
                Method::POST,
                format!("/api/v1/customers/{cust}/split"),
                Some(json!({"kind": "email", "value": b})),
                StatusCode::CREATED,
            )
        }
        Case::AddAgent => (
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"email": email(), "name": "New agent", "role": "agent"})),
            StatusCode::CREATED,
        ),
        Case::AddAdmin => (
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"email": email(), "name": "New admin", "role": "admin"})),
            StatusCode::CREATED,
        ),
        Case::ChangeRole | Case::PromoteToAdmin | Case::RemoveUser => {
            let u = t
                .post_created(
                    "/api/v1/users",
                    owner,
                    json!({"email": email(), "name": "Target", "role": "agent"}),
                )
                .await;
            match case {
                Case::ChangeRole => (
                    Method::PATCH,
                    format!("/api/v1/users/{}", id(&u)),
                    Some(json!({"role": "viewer"})),
                    StatusCode::OK,
                ),
                Case::PromoteToAdmin => (
                    Method::PATCH,
                    format!("/api/v1/users/{}", id(&u)),
                    Some(json!({"role": "admin"})),
                    StatusCode::OK,
                ),
                _ => (
                    Method::DELETE,
                    format!("/api/v1/users/{}", id(&u)),
                    None,
                    StatusCode::NO_CONTENT,
                ),
            }
        }
        Case::CreateTeam => (
            Method::POST,
            "/api/v1/teams".into(),
            Some(json!({"name": unique("Team ")})),
            StatusCode::CREATED,
        ),
        Case::UpdateTeam => (
            Method::PATCH,
            format!("/api/v1/teams/{}", f.team),
            Some(json!({"name": unique("Team ")})),
            StatusCode::OK,
        ),
        Case::DeleteTeam => {
            let team = t
                .post_created("/api/v1/teams", owner, json!({"name": unique("Doomed ")}))
                .await;
            (
                Method::DELETE,
                format!("/api/v1/teams/{}", id(&team)),
                None,
                StatusCode::NO_CONTENT,
            )
        }
        Case::CreateSkill => (
            Method::POST,
            "/api/v1/skills".into(),
            Some(json!({"name": unique("Skill ")})),
            StatusCode::CREATED,
        ),
        Case::SetUserSkill => {
            let skill = t
                .post_created("/api/v1/skills", owner, json!({"name": unique("Skill ")}))
                .await;
            let me = t.me(owner).await;
            (
                Method::PUT,
                format!("/api/v1/users/{me}/skills/{}", id(&skill)),
                Some(json!({"level": 4})),
                StatusCode::NO_CONTENT,
            )
        }
        Case::CreateInbox => (
            Method::POST,
            "/api/v1/inboxes".into(),
            Some(json!({"name": unique("Inbox "), "channel": "chat"})),
            StatusCode::CREATED,
        ),
        Case::DeleteTag => {
            let tag = t
                .post_created("/api/v1/tags", owner, json!({"name": unique("doomed-")}))
                .await;
            (
                Method::DELETE,
                format!("/api/v1/tags/{}", id(&tag)),
                None,
                StatusCode::NO_CONTENT,
            )
        }
        Case::AuditLog => (Method::GET, "/api/v1/audit".into(), None, StatusCode::OK),
        Case::DeleteConversation => {
            let c = t.conversation(owner, &email(), "Doomed").await;
            (
                Method::DELETE,
                format!("/api/v1/conversations/{}", id(&c)),
                None,
                StatusCode::NO_CONTENT,
            )
        }
        Case::DeleteCustomer => {
            let c = t.conversation(owner, &email(), "Doomed customer").await;
            (
                Method::DELETE,
                format!(
                    "/api/v1/customers/{}",
                    c["customer_id"].as_i64().expect("customer id")
                ),
                None,
                StatusCode::NO_CONTENT,
            )
        }
        Case::ListJobs => (
            Method::GET,
            "/api/v1/jobs?status=dead".into(),
            None,
            StatusCode::OK,
        ),
        Case::RetryJob => {
            let job = t.dead_job(f.workspace, "test.roles").await;
            (
                Method::POST,
                format!("/api/v1/jobs/{job}/retry"),
                None,
                StatusCode::NO_CONTENT,
            )
        }
    }
}

async fn roles_are_enforced(t: TestApp) {
    let owner = t.token.as_str();
    let c = t.conversation(owner, "roles@example.com", "Roles").await;
    let team = t
        .post_created("/api/v1/teams", owner, json!({"name": "Role team"}))
        .await;
    let f = Fixtures {
        conversation: id(&c),
        customer: c["customer_id"].as_i64().expect("customer id"),
        team: id(&team),
        workspace: t.workspace_id(owner).await,
    };

    let mut tokens = Vec::new();
    for role in ROLES {
        let token = if role == "owner" {
            t.token.clone()
        } else {
            t.user_token(role).await
        };
        tokens.push((role, token));
    }

    let mut wrong = Vec::new();
    let mut attempts = 0;
    for case in Case::ALL {
        for (role, token) in &tokens {
            let (method, path, body, success) = prepare(&t, &f, case).await;
            let allowed = rank(role) >= rank(case.least_role());
            let (status, resp) = t.call(method.clone(), &path, token, body.as_ref()).await;
            attempts += 1;
            let ok = if allowed {
                status == success
            } else {
                status == StatusCode::FORBIDDEN && resp["error"]["code"] == "forbidden"
            };
            if !ok {
                let want = if allowed {
                    success.to_string()
                } else {
                    "403 forbidden".into()
                };
                wrong.push(format!(
                    "{case:?} as {role}: {method} {path} want {want}, got {status} {resp}"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {attempts} role checks failed:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // Refused writes left no trace: the viewer's forbidden conversation does not exist, and the
    // conversation's tags only hold the allowed roles' additions (agent and up: 4).
    let conv = t
        .get_ok(&format!("/api/v1/conversations/{}", f.conversation), owner)
        .await;
    assert_eq!(
        conv["tags"].as_array().map(Vec::len),
        Some(4),
        "tags after role checks: {conv}"
    );
    let users = t.get_ok("/api/v1/users", owner).await;
    let admins = users["items"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["role"] == "admin")
        .count();
    // The admin test user, plus the one the owner added and the one the owner promoted.
    assert_eq!(admins, 3, "only the owner may make admins: {users}");

    // The administrative changes are audited.
    let audit = t.get_ok("/api/v1/audit?limit=100", owner).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("audit items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "user.added",
        "user.role_changed",
        "user.removed",
        "team.created",
        "team.deleted",
        "tag.deleted",
        "inbox.created",
        "customer.merged",
        "customer.split",
        "conversation.deleted",
        "customer.deleted",
        "job.retried",
    ] {
        assert!(
            actions.contains(&action),
            "no {action} in the audit log: {actions:?}"
        );
    }
    // Only the admin's and the owner's attempts deleted, erased or retried anything.
    assert_eq!(
        audit["next_cursor"],
        Value::Null,
        "the audit log is longer than one page: count across pages"
    );
    for action in ["conversation.deleted", "customer.deleted", "job.retried"] {
        assert_eq!(
            actions.iter().filter(|a| **a == action).count(),
            2,
            "{action} entries: {actions:?}"
        );
    }

    // Nobody can take the last owner's role, and admins cannot touch owners at all.
    let owner_id = t.me(owner).await;
    let admin = &tokens[3].1;
    let (s, b) = t
        .patch(
            &format!("/api/v1/users/{owner_id}"),
            admin,
            json!({"role": "agent"}),
        )
        .await;
    crate::kit::assert_error(
        s,
        &b,
        StatusCode::FORBIDDEN,
        "forbidden",
        "admin demotes owner",
    );
    let (s, b) = t.delete(&format!("/api/v1/users/{owner_id}"), admin).await;
    crate::kit::assert_error(
        s,
        &b,
        StatusCode::FORBIDDEN,
        "forbidden",
        "admin removes owner",
    );
    let (s, b) = t
        .patch(
            &format!("/api/v1/users/{owner_id}"),
            owner,
            json!({"role": "admin"}),
        )
        .await;
    crate::kit::assert_error(
        s,
        &b,
        StatusCode::CONFLICT,
        "conflict",
        "last owner steps down",
    );

    // A removed user's token stops working at once.
    let gone = t.new_user("agent").await;
    assert_eq!(t.get("/api/v1/me", &gone.token).await.0, StatusCode::OK);
    let (s, b) = t.delete(&format!("/api/v1/users/{}", gone.id), owner).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, b) = t.get("/api/v1/conversations", &gone.token).await;
    crate::kit::assert_error(
        s,
        &b,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "token of a removed user",
    );

    // A demoted user's token carries the new role at once.
    let demoted = t.new_user("agent").await;
    t.patch_ok(
        &format!("/api/v1/users/{}", demoted.id),
        owner,
        json!({"role": "viewer"}),
    )
    .await;
    let (s, b) = t
        .post(
            "/api/v1/conversations",
            &demoted.token,
            json!({"customer": {"email": "d@example.com"}, "subject": "s", "body": "b"}),
        )
        .await;
    crate::kit::assert_error(
        s,
        &b,
        StatusCode::FORBIDDEN,
        "forbidden",
        "demoted to viewer",
    );
}
both!(roles_are_enforced);
