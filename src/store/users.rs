//! The users table: who a caller is, which organization it belongs to, its role and rights.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{StoreError, TableKeys, batch_get, read_string, string_attribute};

pub const USER_ID: &str = "user_id";
pub const PERMISSIONS: &str = "permissions";
pub const ORG_UUID: &str = "org_uuid";
pub const ROLE: &str = "role";
/// The event id of the last change committed to the user's permissions. Each change requires
/// its own to be greater (`change`), so per user the audit trail's order is the commit order.
pub const LAST_EVENT_ID: &str = "last_event_id";

/// The value of `role` that may use the admin endpoint.
pub const ADMIN_ROLE: &str = "admin";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub user_id: String,
    pub org_uuid: Option<String>,
    pub role: Option<String>,
    pub permissions: Vec<String>,
}

impl UserRecord {
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        Some(Self {
            user_id: read_string(item, USER_ID)?.to_owned(),
            org_uuid: read_string(item, ORG_UUID).map(str::to_owned),
            role: read_string(item, ROLE).map(str::to_owned),
            permissions: match item.get(PERMISSIONS) {
                Some(AttributeValue::Ss(values)) => values.clone(),
                _ => Vec::new(),
            },
        })
    }

    /// The item as stored: absent attributes stay absent, and no permissions means no attribute
    /// (DynamoDB has no empty String Set).
    pub fn to_item(&self) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::from([(USER_ID.to_owned(), string_attribute(&self.user_id))]);
        if let Some(org_uuid) = &self.org_uuid {
            item.insert(ORG_UUID.to_owned(), string_attribute(org_uuid));
        }
        if let Some(role) = &self.role {
            item.insert(ROLE.to_owned(), string_attribute(role));
        }
        if !self.permissions.is_empty() {
            item.insert(PERMISSIONS.to_owned(), AttributeValue::Ss(self.permissions.clone()));
        }
        item
    }

    pub fn is_admin(&self) -> bool {
        self.role.as_deref() == Some(ADMIN_ROLE)
    }
}

#[derive(Debug, Clone)]
pub struct Users {
    client: Client,
    table: String,
}

impl Users {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// `caller` and `target` in one strongly consistent `BatchGetItem` (one key when they are
    /// the same user: DynamoDB refuses a key asked for twice). Either is `None` when missing.
    pub async fn get_pair(
        &self,
        caller: &str,
        target: &str,
    ) -> Result<(Option<UserRecord>, Option<UserRecord>), StoreError> {
        let mut keys = vec![caller];
        if target != caller {
            keys.push(target);
        }
        let reads = [TableKeys { table: &self.table, key_name: USER_ID, keys }];
        let mut items = batch_get(&self.client, &reads, "BatchGetItem(users)").await?;
        let users: Vec<UserRecord> =
            items.remove(&self.table).unwrap_or_default().iter().filter_map(UserRecord::from_item).collect();
        let find = |id: &str| users.iter().find(|user| user.user_id == id).cloned();
        Ok((find(caller), find(target)))
    }

    /// A strongly consistent read: a revoked right or a demotion takes effect on the next request.
    pub async fn get(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError> {
        let item = super::get_item(&self.client, &self.table, USER_ID, user_id, "GetItem(users)").await?;
        Ok(item.as_ref().and_then(UserRecord::from_item))
    }
}
