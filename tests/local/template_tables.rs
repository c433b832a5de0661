//! The end-to-end tests create their tables from their own short list; this proves the list is
//! exactly what `template.yaml` deploys, so tests, local runs and AWS share one schema.

use permissions_service::local::template;

use crate::support::TABLE_KEYS;

#[test]
fn the_tests_tables_are_the_templates_tables() {
    let tables = template::parse(include_str!("../../template.yaml")).unwrap();
    let from_template: Vec<(String, Vec<String>)> = tables
        .iter()
        .map(|table| (table.env_var.clone(), table.keys.iter().map(|(name, kind)| format!("{name}:{kind}")).collect()))
        .collect();
    let from_tests: Vec<(String, Vec<String>)> = TABLE_KEYS
        .iter()
        .map(|(suffix, partition, sort)| {
            let mut keys = vec![format!("{partition}:S")];
            keys.extend(sort.map(|sort| format!("{sort}:S")));
            (format!("{}_TABLE", suffix.to_uppercase()), keys)
        })
        .collect();
    assert_eq!(from_template, from_tests);
}

#[test]
fn local_env_carries_the_demo_secret_the_demo_tokens_are_signed_with() {
    let local_env = include_str!("../../local.env");
    let secret = local_env.lines().find_map(|line| line.strip_prefix("JWT_SECRET=")).unwrap();
    assert_eq!(secret, permissions_service::local::demo::JWT_SECRET);
}

#[test]
fn the_api_conformance_run_uses_the_demo_credentials() {
    use permissions_service::local::demo;
    let config = include_str!("../schemathesis.toml");
    let value = |key: &str| {
        config.lines().find_map(|line| line.strip_prefix(key)).map(|rest| rest.trim_matches([' ', '=', '"'])).unwrap()
    };
    assert_eq!(value("api_key"), format!("Token {}", demo::EDITOR_TOKEN));
    assert_eq!(value("bearer"), demo::jwt_for(demo::ADMIN));
}
