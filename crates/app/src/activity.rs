//! Collision detection: agents report what they are doing in a conversation and see who else is
//! there, so two people do not answer the same customer at once.

use citius_domain::activity::Activity;
use citius_domain::conversation::Channel;
use citius_domain::role::Permission;
use citius_store::conversations as store;
use citius_store::{activity, now_ms};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Actor, App, AppResult, require};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityInput {
    pub activity: Activity,
}

/// Another agent at the same conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Colleague {
    pub user_id: i64,
    pub name: String,
    pub activity: Activity,
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Collision {
    /// Everyone else viewing or typing now, typing first.
    pub others: Vec<Colleague>,
    /// In a chat from the widget: whether the visitor is typing and what they have read.
    pub customer: Option<crate::chat::VisitorActivity>,
}

impl App {
    /// Records what the caller is doing in a conversation; answers who else is there.
    pub async fn report_activity(
        &self,
        actor: &Actor,
        conversation_id: i64,
        input: ActivityInput,
    ) -> AppResult<Collision> {
        require(actor, Permission::Read)?;
        let ws = actor.workspace_id;
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        let conv = store::get(&mut tx, ws, conversation_id).await?;
        activity::put(
            &mut tx,
            ws,
            conversation_id,
            actor.user_id,
            input.activity.as_str(),
            now,
            now + input.activity.ttl_ms(),
        )
        .await?;
        let others = activity::others(&mut tx, ws, conversation_id, actor.user_id, now).await?;
        // Being here answers any @mention of the caller in this conversation.
        citius_store::mentions::mark_seen(&mut tx, conversation_id, actor.user_id).await?;
        let customer = if conv.channel == Channel::Chat {
            // An agent with the chat open has seen what the visitor wrote.
            citius_store::chat::set_agent_read(&mut tx, conversation_id).await?;
            self.visitor_activity(&mut tx, ws, conversation_id, now)
                .await?
        } else {
            None
        };
        tx.commit().await?;
        Ok(collision(others, customer))
    }

    /// The caller left the conversation.
    pub async fn leave_conversation(&self, actor: &Actor, conversation_id: i64) -> AppResult<()> {
        require(actor, Permission::Read)?;
        let mut tx = self.db.begin().await?;
        store::get(&mut tx, actor.workspace_id, conversation_id).await?;
        activity::clear(&mut tx, conversation_id, actor.user_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Who else is viewing or typing in a conversation.
    pub async fn collision(&self, actor: &Actor, conversation_id: i64) -> AppResult<Collision> {
        require(actor, Permission::Read)?;
        let ws = actor.workspace_id;
        let mut c = self.db.read().await?;
        let conv = store::get(&mut c, ws, conversation_id).await?;
        let now = now_ms();
        let others = activity::others(&mut c, ws, conversation_id, actor.user_id, now).await?;
        let customer = if conv.channel == Channel::Chat {
            self.visitor_activity(&mut c, ws, conversation_id, now)
                .await?
        } else {
            None
        };
        Ok(collision(others, customer))
    }
}

fn collision(
    rows: Vec<activity::Present>,
    customer: Option<crate::chat::VisitorActivity>,
) -> Collision {
    Collision {
        customer,
        others: rows
            .into_iter()
            .filter_map(|p| {
                Some(Colleague {
                    user_id: p.user_id,
                    name: p.name,
                    activity: Activity::parse(&p.activity).ok()?,
                    since: citius_store::from_ms(p.started_at),
                })
            })
            .collect(),
    }
}
