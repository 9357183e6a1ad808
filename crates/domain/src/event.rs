//! The append-only event log of a conversation. Timelines, live updates and metrics all
//! read these events; nothing is derived twice.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;
use crate::conversation::string_enum;

string_enum!(
    EventKind, "kind" {
        Created => "created",
        MessageAdded => "message_added",
        Assigned => "assigned",
        Transferred => "transferred",
        StatusChanged => "status_changed",
        PriorityChanged => "priority_changed",
        Tagged => "tagged",
        Untagged => "untagged",
        SubjectChanged => "subject_changed",
        FieldsChanged => "fields_changed",
        CustomerMerged => "customer_merged",
        Queued => "queued",
        Requeued => "requeued",
        Overflowed => "overflowed",
        TransferOffered => "transfer_offered",
        TransferDeclined => "transfer_declined",
        TransferExpired => "transfer_expired",
        TransferCancelled => "transfer_cancelled",
        FollowUpAdded => "follow_up_added",
        FollowUpDone => "follow_up_done",
        FollowUpDue => "follow_up_due",
        SlaApplied => "sla_applied",
        SlaWarning => "sla_warning",
        SlaBreached => "sla_breached",
        RuleStopped => "rule_stopped",
        EmailSent => "email_sent",
        EmailFailed => "email_failed",
        TextFailed => "text_failed",
        CallUpdated => "call_updated",
        Mentioned => "mentioned",
    }
);
