//! The local run: `template.yaml` as the one source of the tables, the sample events in
//! `events/`, and `local-api` over real HTTP, all on DynamoDB Local with the demo data.

#[path = "../support/mod.rs"]
mod support;

mod events;
mod function_lists;
mod generated_template;
mod load;
mod local_api;
mod log_secrets;
mod observability;
mod process;
mod readme_examples;
mod route_maps;
mod sam_env;
mod template_policies;
mod template_routes;
mod template_tables;
