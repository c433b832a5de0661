//! Fresh tables per test, keyed as `template.yaml` declares them (a test in tests/local checks).

use permissions_service::store::audit::{AUDIT_EVENT_ID, AUDIT_USER_ID};
use permissions_service::store::catalog::PERMISSION_UUID;
use permissions_service::store::idempotency::IDEMPOTENCY_KEY;
use permissions_service::store::tokens::TOKEN_HASH;
use permissions_service::store::users::USER_ID;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};

#[derive(Debug, Clone)]
pub struct TableNames {
    pub users: String,
    pub tokens: String,
    pub permissions: String,
    pub audit: String,
    pub idempotency: String,
}

impl TableNames {
    /// Each table named by its suffix alone: for a client stubbed or pointed away from DynamoDB
    /// Local, where no table is created.
    pub fn unprefixed() -> Self {
        let name = |suffix: &str| suffix.to_owned();
        Self {
            users: name("users"),
            tokens: name("tokens"),
            permissions: name("permissions"),
            audit: name("audit"),
            idempotency: name("idempotency"),
        }
    }

    /// These names with `table` renamed to one that does not exist.
    pub fn without(&self, table: &str) -> Self {
        let missing = |name: &String| if name == table { format!("{name}-missing") } else { name.clone() };
        Self {
            users: missing(&self.users),
            tokens: missing(&self.tokens),
            permissions: missing(&self.permissions),
            audit: missing(&self.audit),
            idempotency: missing(&self.idempotency),
        }
    }
}

/// The four tables as `template.yaml` declares them: (name suffix, partition key, sort key).
pub const TABLE_KEYS: [(&str, &str, Option<&str>); 5] = [
    ("users", USER_ID, None),
    ("tokens", TOKEN_HASH, None),
    ("permissions", PERMISSION_UUID, None),
    ("audit", AUDIT_USER_ID, Some(AUDIT_EVENT_ID)),
    ("idempotency", IDEMPOTENCY_KEY, None),
];

pub async fn create_tables(client: &Client) -> TableNames {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = format!("t{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    for (suffix, partition_key, sort_key) in TABLE_KEYS {
        let mut request = client
            .create_table()
            .table_name(format!("{prefix}-{suffix}"))
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(partition_key, KeyType::Hash))
            .attribute_definitions(string_attribute(partition_key));
        if let Some(sort_key) = sort_key {
            request =
                request.key_schema(key(sort_key, KeyType::Range)).attribute_definitions(string_attribute(sort_key));
        }
        request.send().await.expect("create table");
    }
    TableNames {
        users: format!("{prefix}-users"),
        tokens: format!("{prefix}-tokens"),
        permissions: format!("{prefix}-permissions"),
        audit: format!("{prefix}-audit"),
        idempotency: format!("{prefix}-idempotency"),
    }
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().unwrap()
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().unwrap()
}
