//! Reads the DynamoDB tables from `template.yaml`, so local runs create exactly what a deployment
//! creates, and maps each table to the environment variable the functions read its name from.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
};
use yaml_rust2::{Yaml, YamlLoader};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    /// The resource's logical id, e.g. `UsersTable`.
    pub logical_id: String,
    /// The variable that carries the table's name to the functions, e.g. `USERS_TABLE`.
    pub env_var: String,
    /// (attribute, type) pairs: the partition key, then the sort key if any.
    pub keys: Vec<(String, String)>,
    pub ttl_attribute: Option<String>,
}

/// Every `AWS::DynamoDB::Table` of the template that some function receives through `!Ref`.
pub fn parse(template: &str) -> Result<Vec<TableDefinition>, String> {
    let documents = YamlLoader::load_from_str(template).map_err(|error| format!("template.yaml: {error}"))?;
    let resources = documents.first().map(|doc| &doc["Resources"]).and_then(Yaml::as_hash).ok_or("no Resources")?;

    let mut env_vars = BTreeMap::new();
    for resource in resources.values() {
        if resource["Type"].as_str() == Some("AWS::Serverless::Function")
            && let Some(variables) = resource["Properties"]["Environment"]["Variables"].as_hash()
        {
            for (name, value) in variables {
                // yaml-rust2 keeps the scalar of `!Ref X`: "X".
                if let (Some(name), Some(target)) = (name.as_str(), value.as_str()) {
                    env_vars.insert(target.to_owned(), name.to_owned());
                }
            }
        }
    }

    let mut tables = Vec::new();
    for (logical_id, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::DynamoDB::Table") {
            continue;
        }
        let logical_id = logical_id.as_str().ok_or("a non-string resource id")?.to_owned();
        let env_var = env_vars.get(&logical_id).ok_or(format!("no function receives {logical_id}"))?.clone();
        let properties = &resource["Properties"];
        let types: BTreeMap<&str, &str> = properties["AttributeDefinitions"]
            .as_vec()
            .ok_or(format!("{logical_id}: no AttributeDefinitions"))?
            .iter()
            .filter_map(|definition| {
                Some((definition["AttributeName"].as_str()?, definition["AttributeType"].as_str()?))
            })
            .collect();
        let mut keys = Vec::new();
        for wanted in ["HASH", "RANGE"] {
            for key in properties["KeySchema"].as_vec().ok_or(format!("{logical_id}: no KeySchema"))? {
                if key["KeyType"].as_str() == Some(wanted) {
                    let name = key["AttributeName"].as_str().ok_or(format!("{logical_id}: unnamed key"))?;
                    let kind = types.get(name).ok_or(format!("{logical_id}: {name} has no type"))?;
                    keys.push((name.to_owned(), (*kind).to_owned()));
                }
            }
        }
        let ttl = &properties["TimeToLiveSpecification"];
        let ttl_attribute = match ttl["Enabled"].as_bool() {
            Some(true) => ttl["AttributeName"].as_str().map(str::to_owned),
            _ => None,
        };
        tables.push(TableDefinition { logical_id, env_var, keys, ttl_attribute });
    }
    Ok(tables)
}

/// Creates each table under the name `name_of(env_var)` gives it; existing tables are left as
/// they are, so set-up can run again.
pub async fn create_tables(
    client: &Client,
    tables: &[TableDefinition],
    name_of: impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    for table in tables {
        let name = name_of(&table.env_var).ok_or(format!("{} is not set", table.env_var))?;
        let mut request = client.create_table().table_name(&name).billing_mode(BillingMode::PayPerRequest);
        for (index, (attribute, kind)) in table.keys.iter().enumerate() {
            let key_type = if index == 0 { KeyType::Hash } else { KeyType::Range };
            request = request
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(attribute)
                        .key_type(key_type)
                        .build()
                        .map_err(|error| error.to_string())?,
                )
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(attribute)
                        .attribute_type(ScalarAttributeType::from(kind.as_str()))
                        .build()
                        .map_err(|error| error.to_string())?,
                );
        }
        match request.send().await {
            Ok(_) => {}
            Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => continue,
            Err(error) => {
                return Err(format!("creating {name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(error)));
            }
        }
        if let Some(attribute) = &table.ttl_attribute {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(attribute)
                .enabled(true)
                .build()
                .map_err(|error| error.to_string())?;
            client
                .update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|error| format!("TTL on {name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(error)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_repository_template() {
        let tables = parse(include_str!("../../template.yaml")).unwrap();
        let summary: Vec<(&str, &str, usize, Option<&str>)> = tables
            .iter()
            .map(|t| (t.logical_id.as_str(), t.env_var.as_str(), t.keys.len(), t.ttl_attribute.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                ("UsersTable", "USERS_TABLE", 1, None),
                ("TokensTable", "TOKENS_TABLE", 1, Some("expires_at")),
                ("PermissionsTable", "PERMISSIONS_TABLE", 1, None),
                ("AuditTable", "AUDIT_TABLE", 2, None),
                ("IdempotencyTable", "IDEMPOTENCY_TABLE", 1, Some("expires_at")),
            ]
        );
    }
}
