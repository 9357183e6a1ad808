//! Macros: shared (set by administrators) and personal canned replies or notes, with
//! placeholders, that also change fields; applied in one transaction.

use citius_domain::content::Body;
use citius_domain::conversation::MessageKind;
use citius_domain::event::EventKind;
use citius_domain::macros::{self, MacroInput, MacroText, Values};
use citius_domain::records::Conversation;
use citius_domain::role::Permission;
use citius_store::settings::{self, Fields, Kind, Setting};
use citius_store::{DbError, conversations as store, customers, directory};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::conversations::{By, append_message};
use crate::{Actor, App, AppError, AppResult, require};

/// A macro as stored and shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MacroInfo {
    pub id: i64,
    #[serde(flatten)]
    pub input: MacroInput,
}

fn parse(s: &Setting) -> AppResult<MacroInfo> {
    let input: MacroInput = serde_json::from_value(s.definition.clone())
        .map_err(|e| AppError::Internal(DbError::Corrupt(format!("macro: {e}"))))?;
    Ok(MacroInfo { id: s.id, input })
}

/// Shared macros, and the caller's own personal ones.
fn visible(actor: &Actor, s: &Setting) -> bool {
    s.link.is_none_or(|owner| owner == actor.user_id)
}

impl App {
    pub async fn macros(&self, actor: &Actor) -> AppResult<Vec<MacroInfo>> {
        require(actor, Permission::Work)?;
        let mut c = self.db.read().await?;
        settings::list(&mut c, Kind::Macro, actor.workspace_id)
            .await?
            .iter()
            .filter(|s| visible(actor, s))
            .map(parse)
            .collect()
    }

    /// Checks the caller may change a stored macro: their own personal one, or a shared one
    /// as an administrator.
    fn may_change(actor: &Actor, s: &Setting) -> AppResult<()> {
        match s.link {
            Some(owner) if owner == actor.user_id => Ok(()),
            Some(_) => Err(AppError::NotFound),
            None => require(actor, Permission::Administer),
        }
    }

    /// Creates (`id` none) or replaces a macro. Shared macros are for administrators; anyone
    /// who works conversations keeps personal ones. Audited.
    pub async fn save_macro(
        &self,
        actor: &Actor,
        id: Option<i64>,
        input: MacroInput,
    ) -> AppResult<MacroInfo> {
        require(actor, Permission::Work)?;
        if !input.personal {
            require(actor, Permission::Administer)?;
        }
        input.validate()?;
        let ws = actor.workspace_id;
        let definition = serde_json::to_value(&input)
            .map_err(|e| AppError::Internal(DbError::Corrupt(format!("macro: {e}"))))?;
        let fields = Fields {
            name: input.name.trim(),
            enabled: true,
            link: input.personal.then_some(actor.user_id),
            trigger_kind: None,
            definition: &definition,
        };
        let mut tx = self.db.begin().await?;
        let id = match id {
            Some(id) => {
                let old = settings::get(&mut tx, Kind::Macro, ws, id).await?;
                Self::may_change(actor, &old)?;
                settings::update(&mut tx, Kind::Macro, ws, id, &fields).await?;
                id
            }
            None => settings::create(&mut tx, Kind::Macro, ws, &fields).await?,
        };
        crate::directory::audit(
            &mut tx,
            actor,
            "macro.saved",
            "macro",
            Some(id),
            json!({"name": input.name, "personal": input.personal}),
        )
        .await?;
        tx.commit().await?;
        Ok(MacroInfo { id, input })
    }

    pub async fn delete_macro(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require(actor, Permission::Work)?;
        let mut tx = self.db.begin().await?;
        let old = settings::get(&mut tx, Kind::Macro, actor.workspace_id, id).await?;
        Self::may_change(actor, &old)?;
        settings::delete(&mut tx, Kind::Macro, actor.workspace_id, id).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "macro.deleted",
            "macro",
            Some(id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Applies a macro to a conversation: its changes and its text (placeholders filled) in
    /// one transaction; a reply counts as the update the customer was owed.
    pub async fn apply_macro(
        &self,
        actor: &Actor,
        conversation_id: i64,
        macro_id: i64,
    ) -> AppResult<Conversation> {
        require(actor, Permission::Work)?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        let stored = settings::get(&mut tx, Kind::Macro, ws, macro_id).await?;
        if !visible(actor, &stored) {
            return Err(AppError::NotFound);
        }
        let m = parse(&stored)?.input;
        let conv = store::get(&mut tx, ws, conversation_id).await?;
        // The text first: a reply settles updates owed, which resolving may need.
        let mut events = Vec::new();
        if let Some(src) = m.body.as_deref().filter(|b| !b.trim().is_empty()) {
            let customer = customers::get(&mut tx, ws, conv.customer_id).await?;
            let workspace = directory::workspace_by_id(&mut tx, ws).await?;
            let values = Values {
                customer_name: customer.name.clone(),
                customer_email: customer.email().unwrap_or_default().to_string(),
                agent_name: actor.name.clone(),
                conversation_id: conv.id,
                conversation_subject: conv.subject.clone(),
                workspace_name: workspace.name,
            };
            let text = macros::render(src, &values)?;
            let kind = match m.text_kind.unwrap_or(MacroText::Reply) {
                MacroText::Reply => MessageKind::Reply,
                MacroText::Note => MessageKind::Note,
            };
            let body = Body::from_text(&text)?;
            let (message_id, added) = append_message(
                &mut tx,
                self.db.backend(),
                By::Agent(actor),
                ws,
                conv.id,
                conv.customer_id,
                kind,
                &body,
                &[],
            )
            .await?;
            events.push(added);
            if kind == MessageKind::Reply {
                for f in citius_store::handoffs::complete_updates_owed(
                    &mut tx,
                    ws,
                    conv.id,
                    actor.user_id,
                )
                .await?
                {
                    events.push(
                        store::insert_event(&mut tx, ws, conv.id, EventKind::FollowUpDone, Some(actor.user_id),
                            &json!({"follow_up_id": f.id, "kind": f.kind, "text": f.text, "by_reply": message_id})).await?,
                    );
                }
            }
        }
        events.extend(
            self.change_conversation(
                &mut tx,
                By::Agent(actor),
                ws,
                conv.id,
                &crate::automation::change_of(&m.actions),
            )
            .await?,
        );
        let conv = store::get(&mut tx, ws, conv.id).await?;
        self.commit(tx, ws, events).await?;
        Ok(conv)
    }
}
