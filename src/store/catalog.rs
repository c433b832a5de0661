//! The permission catalog: which permission uuids exist and what their codenames are.
//!
//! Catalog entries are immutable (a uuid never changes codename), so entries found are kept for
//! the life of the warm process. Absences are never cached: a permission added to the catalog
//! is usable at once.

use std::collections::HashMap;
use std::sync::RwLock;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::KeysAndAttributes;

use super::{StoreError, read_string, string_attribute};

pub const PERMISSION_UUID: &str = "permission_uuid";
pub const CODENAME: &str = "codename";

/// BatchGetItem's limit on keys per call.
const BATCH_SIZE: usize = 100;
/// Rounds spent on keys DynamoDB left unprocessed (it does so under throttling) before giving up.
const UNPROCESSED_ROUNDS: u32 = 5;
/// Bounds the warm cache; a real catalog is far smaller, this only guards against a runaway one.
const CACHE_CAPACITY: usize = 10_000;

#[derive(Debug)]
pub struct Catalog {
    client: Client,
    table: String,
    codenames: RwLock<HashMap<String, String>>,
}

impl Catalog {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table, codenames: RwLock::new(HashMap::new()) }
    }

    /// The codename of each given uuid that exists in the catalog (an entry without a codename
    /// maps to ""). Uuids absent from the catalog are absent from the answer.
    pub async fn codenames<'a>(
        &self,
        uuids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        {
            let cache = self.codenames.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            for uuid in uuids {
                match cache.get(uuid) {
                    Some(codename) => {
                        found.insert(uuid.to_owned(), codename.clone());
                    }
                    None if !missing.contains(&uuid) => missing.push(uuid),
                    None => {}
                }
            }
        }
        for chunk in missing.chunks(BATCH_SIZE) {
            let fetched = self.fetch(chunk).await?;
            let mut cache = self.codenames.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            for (uuid, codename) in fetched {
                if cache.len() < CACHE_CAPACITY {
                    cache.insert(uuid.clone(), codename.clone());
                }
                found.insert(uuid, codename);
            }
        }
        Ok(found)
    }

    async fn fetch(&self, uuids: &[&str]) -> Result<Vec<(String, String)>, StoreError> {
        let keys =
            uuids.iter().map(|uuid| HashMap::from([(PERMISSION_UUID.to_owned(), string_attribute(uuid))])).collect();
        let mut request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .projection_expression("#uuid, #codename")
            .expression_attribute_names("#uuid", PERMISSION_UUID)
            .expression_attribute_names("#codename", CODENAME)
            .build()
            .map_err(|error| StoreError::build("BatchGetItem(permissions)", &error))?;
        let mut found = Vec::with_capacity(uuids.len());
        for round in 0..UNPROCESSED_ROUNDS {
            let output = super::measured(
                "BatchGetItem",
                &self.table,
                self.client.batch_get_item().request_items(&self.table, request).send(),
            )
            .await
            .map_err(|error| StoreError::sdk("BatchGetItem(permissions)", &error))?;
            for item in output.responses().and_then(|tables| tables.get(&self.table)).into_iter().flatten() {
                if let Some(uuid) = read_string(item, PERMISSION_UUID) {
                    let codename = read_string(item, CODENAME).unwrap_or_default();
                    found.push((uuid.to_owned(), codename.to_owned()));
                }
            }
            match output.unprocessed_keys.and_then(|mut tables| tables.remove(&self.table)) {
                Some(unprocessed) if !unprocessed.keys().is_empty() => {
                    request = unprocessed;
                    tokio::time::sleep(crate::backoff::full_jitter(round)).await;
                }
                _ => return Ok(found),
            }
        }
        // DynamoDB leaves keys unprocessed when it throttles the table.
        Err(StoreError::throttled(
            "BatchGetItem(permissions)",
            format!("keys still unprocessed after {UNPROCESSED_ROUNDS} rounds"),
        ))
    }
}
