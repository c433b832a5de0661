//! The audit table: one record per change to a user's permissions, written in the change's own
//! transaction and never overwritten. Its key is the target user, then a UUIDv7 event id, which
//! per user sorts in commit order (the change requires it to pass the user's `last_event_id`:
//! see `change`), so a user's history is one `Query`, newest first when read backwards.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{StoreError, read_string, string_attribute};

pub const AUDIT_USER_ID: &str = "user_id";
pub const AUDIT_EVENT_ID: &str = "event_id";
const ACTION: &str = "action";
const ACTOR_ID: &str = "actor_id";
const ENDPOINT: &str = "endpoint";
const PERMISSIONS: &str = "permissions";
const GRANTED_AT: &str = "granted_at";
const REVOKED_AT: &str = "revoked_at";
const REQUEST_ID: &str = "request_id";
const ORG_UUID: &str = "org_uuid";

/// What a change does to the target's set: `ADD` or `DELETE` its permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Grant,
    Revoke,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Grant => "grant",
            Action::Revoke => "revoke",
        }
    }

    /// Records keep the time under the name they always had for grants (`granted_at`); a
    /// revoke's is `revoked_at`, so a record read on its own says what happened when.
    fn time_attribute(self) -> &'static str {
        match self {
            Action::Grant => GRANTED_AT,
            Action::Revoke => REVOKED_AT,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The target user.
    pub user_id: String,
    pub event_id: String,
    pub action: Action,
    pub actor_id: String,
    /// The binary that made the change.
    pub endpoint: String,
    /// As requested (normalised): a no-op change is recorded too.
    pub permissions: Vec<String>,
    /// RFC 3339, milliseconds, UTC: the event id's time.
    pub at: String,
    pub request_id: String,
    /// The organization the change was scoped to (org API only).
    pub org_uuid: Option<String>,
}

impl AuditRecord {
    pub fn to_item(&self) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::from([
            (AUDIT_USER_ID.to_owned(), string_attribute(&self.user_id)),
            (AUDIT_EVENT_ID.to_owned(), string_attribute(&self.event_id)),
            (ACTION.to_owned(), string_attribute(self.action.as_str())),
            (ACTOR_ID.to_owned(), string_attribute(&self.actor_id)),
            (ENDPOINT.to_owned(), string_attribute(&self.endpoint)),
            (PERMISSIONS.to_owned(), AttributeValue::Ss(self.permissions.clone())),
            (self.action.time_attribute().to_owned(), string_attribute(&self.at)),
            (REQUEST_ID.to_owned(), string_attribute(&self.request_id)),
        ]);
        if let Some(org_uuid) = &self.org_uuid {
            item.insert(ORG_UUID.to_owned(), string_attribute(org_uuid));
        }
        item
    }

    /// A record as stored. Records written before `action` existed are grants; `None` for an
    /// item without its key.
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let action = match read_string(item, ACTION) {
            Some("revoke") => Action::Revoke,
            _ => Action::Grant,
        };
        let text = |name: &str| read_string(item, name).unwrap_or_default().to_owned();
        let at = read_string(item, action.time_attribute())
            .or_else(|| read_string(item, GRANTED_AT))
            .or_else(|| read_string(item, REVOKED_AT))
            .unwrap_or_default()
            .to_owned();
        let mut permissions = match item.get(PERMISSIONS) {
            Some(AttributeValue::Ss(values)) => values.clone(),
            _ => Vec::new(),
        };
        permissions.sort_unstable();
        Some(Self {
            user_id: read_string(item, AUDIT_USER_ID)?.to_owned(),
            event_id: read_string(item, AUDIT_EVENT_ID)?.to_owned(),
            action,
            actor_id: text(ACTOR_ID),
            endpoint: text(ENDPOINT),
            permissions,
            at,
            request_id: text(REQUEST_ID),
            org_uuid: read_string(item, ORG_UUID).map(str::to_owned),
        })
    }
}

/// One user's audit records, newest first, a page at a time.
#[derive(Debug, Clone)]
pub struct AuditLog {
    client: Client,
    table: String,
}

/// A page of a user's history: its records, newest first, and the event id to continue after
/// when there are more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub records: Vec<AuditRecord>,
    pub continue_after: Option<String>,
}

impl AuditLog {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// Up to `limit` records of `user_id`, newest first, older than `after` (an event id) when
    /// given. Strongly consistent `Query`s of `limit + 1` items: the extra one only says whether
    /// a next page exists, so the last page says so instead of leading to an empty one. DynamoDB
    /// stops a `Query` at 1 MB (about 70 of the largest records), so the page is read on from
    /// where it stopped until it is full or the history ends.
    pub async fn page(&self, user_id: &str, limit: usize, after: Option<&str>) -> Result<Page, StoreError> {
        let mut records: Vec<AuditRecord> = Vec::with_capacity(limit + 1);
        let mut start_after = after.map(str::to_owned);
        loop {
            let wanted = i32::try_from(limit + 1 - records.len()).unwrap_or(i32::MAX);
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#user = :user")
                .expression_attribute_names("#user", AUDIT_USER_ID)
                .expression_attribute_values(":user", string_attribute(user_id))
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(wanted);
            if let Some(event_id) = &start_after {
                query = query
                    .exclusive_start_key(AUDIT_USER_ID, string_attribute(user_id))
                    .exclusive_start_key(AUDIT_EVENT_ID, string_attribute(event_id));
            }
            let output = query.send().await.map_err(|error| StoreError::sdk("Query(audit)", &error))?;
            records.extend(output.items.unwrap_or_default().iter().filter_map(AuditRecord::from_item));
            let stopped_at = output.last_evaluated_key.as_ref().and_then(|key| read_string(key, AUDIT_EVENT_ID));
            match stopped_at {
                Some(event_id) if records.len() <= limit => start_after = Some(event_id.to_owned()),
                _ => break,
            }
        }
        let continue_after = if records.len() > limit {
            records.truncate(limit);
            records.last().map(|record| record.event_id.clone())
        } else {
            None
        };
        Ok(Page { records, continue_after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: Action) -> AuditRecord {
        AuditRecord {
            user_id: "u".into(),
            event_id: "e".into(),
            action,
            actor_id: "a".into(),
            endpoint: "x".into(),
            permissions: vec!["p".into(), "q".into()],
            at: "2026-12-01T00:00:00.000Z".into(),
            request_id: "r".into(),
            org_uuid: Some("o".into()),
        }
    }

    #[test]
    fn a_record_reads_back_as_written() {
        for action in [Action::Grant, Action::Revoke] {
            assert_eq!(AuditRecord::from_item(&record(action).to_item()), Some(record(action)));
        }
        assert!(record(Action::Revoke).to_item().contains_key(REVOKED_AT));
    }

    #[test]
    fn a_record_from_before_action_existed_is_a_grant() {
        let mut item = record(Action::Grant).to_item();
        item.remove(ACTION);
        assert_eq!(AuditRecord::from_item(&item).map(|record| record.action), Some(Action::Grant));
    }
}
