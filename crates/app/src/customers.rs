//! Customers: one person across every channel, with notes, merges and splits.

use citius_domain::Invalid;
use citius_domain::customer::{Identity, IdentityKind, MAX_NOTE, check_attributes};
use citius_domain::error::{optional_text, required_text};
use citius_domain::event::EventKind;
use citius_domain::paging::{Page, PageRequest};
use citius_domain::records::{Customer, CustomerNote};
use citius_domain::role::Permission;
use citius_store::search::{self, DocKind};
use citius_store::{Backend, Conn, conversations, customers as store};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::conversations::CustomerRef;
use crate::{Actor, App, AppError, AppResult, require};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomerInput {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityInput {
    pub kind: IdentityKind,
    pub value: String,
}

/// Rebuilds a customer's search document from its name and identities.
pub(crate) async fn reindex(c: &mut Conn, backend: Backend, ws: i64, id: i64) -> AppResult<()> {
    let cust = store::get_held(c, backend, ws, id).await?;
    let text = search_text(&cust.name, cust.identities.iter().map(|i| i.value.as_str()));
    search::put(c, backend, ws, DocKind::Customer, id, None, &text).await?;
    Ok(())
}

/// What a customer is found by: their name and every identity's value.
pub(crate) fn search_text<'a>(name: &str, identities: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = name.to_string();
    for value in identities {
        text.push(' ');
        text.push_str(value);
    }
    text
}

impl App {
    pub async fn create_customer(&self, actor: &Actor, input: CustomerRef) -> AppResult<Customer> {
        require(actor, Permission::Work)?;
        let ws = actor.workspace_id;
        let identities = input.identities()?;
        let name = input
            .name
            .as_deref()
            .map(|n| optional_text("name", n, 200))
            .transpose()?
            .unwrap_or_default();
        if name.is_empty() && identities.is_empty() {
            return Err(Invalid::field("name", "a customer needs a name or an identity").into());
        }
        let attributes = input.attributes.unwrap_or_else(|| json!({}));
        check_attributes(&attributes)?;
        let mut tx = self.db.begin().await?;
        for i in &identities {
            if let Some(holder) = store::find_by_identity(&mut tx, ws, i).await? {
                return Err(AppError::Conflict(format!(
                    "{} {} already belongs to customer {holder}",
                    i.kind.as_str(),
                    i.value
                )));
            }
        }
        let display = if name.is_empty() {
            identities
                .first()
                .map(|i| i.value.clone())
                .unwrap_or_default()
        } else {
            name
        };
        let id = store::create(&mut tx, ws, &display, &attributes).await?;
        for i in &identities {
            store::add_identity(&mut tx, ws, id, i).await?;
        }
        reindex(&mut tx, self.db.backend(), ws, id).await?;
        let cust = store::get(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(cust)
    }

    pub async fn customer(&self, actor: &Actor, id: i64) -> AppResult<Customer> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(store::get(&mut c, actor.workspace_id, id).await?)
    }

    pub async fn customers(&self, actor: &Actor, page: PageRequest) -> AppResult<Page<Customer>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(store::list(&mut c, actor.workspace_id, page).await?)
    }

    pub async fn update_customer(
        &self,
        actor: &Actor,
        id: i64,
        input: UpdateCustomerInput,
    ) -> AppResult<Customer> {
        require(actor, Permission::Work)?;
        let name = input
            .name
            .as_deref()
            .map(|n| required_text("name", n, 200))
            .transpose()?;
        if let Some(a) = &input.attributes {
            check_attributes(a)?;
        }
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        store::update(&mut tx, ws, id, name.as_deref(), input.attributes.as_ref()).await?;
        reindex(&mut tx, self.db.backend(), ws, id).await?;
        let cust = store::get(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(cust)
    }

    pub async fn add_identity(
        &self,
        actor: &Actor,
        id: i64,
        input: IdentityInput,
    ) -> AppResult<Customer> {
        require(actor, Permission::Work)?;
        let identity = Identity::parse(input.kind, &input.value)?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        store::get(&mut tx, ws, id).await?;
        store::add_identity(&mut tx, ws, id, &identity).await?;
        reindex(&mut tx, self.db.backend(), ws, id).await?;
        let cust = store::get(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(cust)
    }

    /// Splits an identity off into a new customer (undoing a wrong match). Conversations stay
    /// where they are: which of them came through that identity is not recorded. Audited.
    pub async fn split_identity(
        &self,
        actor: &Actor,
        id: i64,
        input: IdentityInput,
    ) -> AppResult<Customer> {
        require(actor, Permission::Supervise)?;
        let identity = Identity::parse(input.kind, &input.value)?;
        let ws = actor.workspace_id;
        let backend = self.db.backend();
        let mut tx = self.db.begin().await?;
        let source = store::get(&mut tx, ws, id).await?;
        store::remove_identity(&mut tx, ws, id, &identity).await?;
        let new_id = store::create(&mut tx, ws, &identity.value, &json!({})).await?;
        store::add_identity(&mut tx, ws, new_id, &identity).await?;
        // A chat visitor split off takes their browser along: what they say next is theirs.
        if identity.kind == IdentityKind::ChatVisitor
            && let Some(visitor) = identity
                .value
                .strip_prefix("visitor-")
                .and_then(|v| v.parse::<i64>().ok())
        {
            citius_store::chat::set_customer(&mut tx, ws, visitor, new_id).await?;
        }
        reindex(&mut tx, backend, ws, id).await?;
        reindex(&mut tx, backend, ws, new_id).await?;
        crate::directory::audit(&mut tx, actor, "customer.split", "customer", Some(id), json!({
            "identity": {"kind": identity.kind, "value": identity.value}, "new_customer_id": new_id, "source_name": source.name,
        })).await?;
        let cust = store::get(&mut tx, ws, new_id).await?;
        tx.commit().await?;
        Ok(cust)
    }

    /// Customers that may be the same person as this one, with the reason.
    pub async fn duplicates_of(&self, actor: &Actor, id: i64) -> AppResult<Vec<MergeSuggestion>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        store::get(&mut c, actor.workspace_id, id).await?;
        let found = store::duplicates_of(&mut c, actor.workspace_id, id).await?;
        suggestions(&mut c, actor.workspace_id, found).await
    }

    /// The workspace's possible duplicates from identities claimed by someone else (e.g. an
    /// email typed into the chat that another customer holds), newest first.
    pub async fn merge_suggestions(&self, actor: &Actor) -> AppResult<Vec<MergeSuggestion>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        let found = store::claimed_duplicates(&mut c, actor.workspace_id, 100).await?;
        suggestions(&mut c, actor.workspace_id, found).await
    }

    /// Records that two customers are different people; they are not suggested again. Audited.
    pub async fn dismiss_duplicate(&self, actor: &Actor, id: i64, other: i64) -> AppResult<()> {
        require(actor, Permission::Supervise)?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        store::get(&mut tx, ws, id).await?;
        store::get(&mut tx, ws, other).await?;
        store::dismiss_duplicate(&mut tx, ws, id, other, actor.user_id).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "customer.not_duplicate",
            "customer",
            Some(id),
            json!({"other_id": other}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Merges `source` into `target`: both histories end up on `target`; audited.
    pub async fn merge_customers(
        &self,
        actor: &Actor,
        target: i64,
        source: i64,
    ) -> AppResult<Customer> {
        require(actor, Permission::Supervise)?;
        if target == source {
            return Err(Invalid::field("source_id", "cannot merge a customer into itself").into());
        }
        let ws = actor.workspace_id;
        let backend = self.db.backend();
        let mut tx = self.db.begin().await?;
        let t = store::get(&mut tx, ws, target).await?;
        let s = store::get(&mut tx, ws, source).await?;
        if t.merged_into_id.is_some() || s.merged_into_id.is_some() {
            return Err(AppError::Conflict(
                "a merged customer cannot be merged again".into(),
            ));
        }
        let moved = store::merge(&mut tx, ws, source, target).await?;
        let mut events = Vec::with_capacity(moved.len());
        for cid in &moved {
            events.push(
                conversations::insert_event(
                    &mut tx,
                    ws,
                    *cid,
                    EventKind::CustomerMerged,
                    Some(actor.user_id),
                    &json!({"from_customer_id": source, "to_customer_id": target}),
                )
                .await?,
            );
        }
        search::delete(&mut tx, backend, DocKind::Customer, source).await?;
        reindex(&mut tx, backend, ws, target).await?;
        crate::directory::audit(&mut tx, actor, "customer.merged", "customer", Some(target), json!({
            "source_id": source, "source_name": s.name, "source_identities": s.identities, "conversations_moved": moved,
        })).await?;
        let cust = store::get(&mut tx, ws, target).await?;
        self.commit(tx, ws, events).await?;
        Ok(cust)
    }

    /// Erases a customer and all their conversations (a data-protection request). Audited with
    /// what was removed, not its content.
    pub async fn delete_customer(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require(actor, Permission::Administer)?;
        let ws = actor.workspace_id;
        let backend = self.db.backend();
        let mut tx = self.db.begin().await?;
        let cust = store::get(&mut tx, ws, id).await?;
        let conversations = conversations::ids_of_customer(&mut tx, ws, id).await?;
        conversations::delete_many(&mut tx, backend, ws, &conversations)
            .await
            .or_else(|e| match e {
                citius_store::DbError::NotFound => Ok(()),
                e => Err(e),
            })?;
        store::delete(&mut tx, backend, ws, id).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "customer.deleted",
            "customer",
            Some(id),
            json!({
                "identities": cust.identities.len(), "conversations_deleted": conversations,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn customer_notes(&self, actor: &Actor, id: i64) -> AppResult<Vec<CustomerNote>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        store::get(&mut c, actor.workspace_id, id).await?;
        Ok(store::notes(&mut c, actor.workspace_id, id).await?)
    }

    pub async fn add_customer_note(
        &self,
        actor: &Actor,
        id: i64,
        body: &str,
    ) -> AppResult<CustomerNote> {
        require(actor, Permission::Work)?;
        let body = required_text("body", body, MAX_NOTE)?;
        let mut tx = self.db.begin().await?;
        store::get(&mut tx, actor.workspace_id, id).await?;
        let note = store::add_note(&mut tx, actor.workspace_id, id, actor.user_id, &body).await?;
        tx.commit().await?;
        Ok(note)
    }

    pub async fn delete_customer_note(
        &self,
        actor: &Actor,
        id: i64,
        note_id: i64,
    ) -> AppResult<()> {
        require(actor, Permission::Work)?;
        let mut tx = self.db.begin().await?;
        store::delete_note(&mut tx, actor.workspace_id, id, note_id).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "customer_note.deleted",
            "customer",
            Some(id),
            json!({"note_id": note_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Two customers who may be one person.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MergeSuggestion {
    pub customer_id: i64,
    pub customer_name: String,
    pub other_id: i64,
    pub other_name: String,
    /// `claimed_identity`: one gave an identity the other holds; `same_name`: same full name.
    pub reason: String,
    /// The identity claimed, or the name shared.
    pub detail: String,
}

async fn suggestions(
    c: &mut citius_store::Conn,
    ws: i64,
    found: Vec<store::Duplicate>,
) -> AppResult<Vec<MergeSuggestion>> {
    let mut ids: Vec<i64> = found
        .iter()
        .flat_map(|d| [d.customer_id, d.other_id])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let people = store::get_many(c, ws, &ids).await?;
    let name = |id: i64| {
        people
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    Ok(found
        .into_iter()
        .map(|d| MergeSuggestion {
            customer_name: name(d.customer_id),
            other_name: name(d.other_id),
            customer_id: d.customer_id,
            other_id: d.other_id,
            reason: d.reason.to_string(),
            detail: d.detail,
        })
        .collect())
}
