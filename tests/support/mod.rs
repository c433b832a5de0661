//! Test support, by concern: the DynamoDB Local process ([`dynamodb_local`]), tables
//! ([`tables`]), one test's world with its generic calls and assertions ([`world`]), the worlds
//! the tests start from ([`fixtures`]), API Gateway events for the route table's routes
//! ([`events`]), log capture ([`logs`]), the DynamoDB requests a client sent ([`recorder`]), and
//! what a change endpoint does and says, whichever it is ([`changes`]). Shared by the endpoint
//! tests, the local-run tests and the benchmark.

#![allow(dead_code, unused_imports)]

pub mod changes;
pub mod dynamodb_local;
pub mod events;
pub mod fixtures;
pub mod logs;
pub mod recorder;
pub mod tables;
pub mod world;

pub use self::dynamodb_local::{client, client_config, endpoint, free_port};
pub use self::events::Event;
pub use self::logs::CapturedLogs;
pub use self::tables::{TABLE_KEYS, TableNames};
pub use self::world::{JWT_SECRET, TestEndpoint, TestEnv, TestResponse, now, s, ss};

/// The endpoints, by API and operation, as tests name them.
pub type OrgAdd = permissions_service::org::Add;
pub type AdminAdd = permissions_service::admin::Add;
pub type OrgRemove = permissions_service::org::Remove;
pub type AdminRemove = permissions_service::admin::Remove;
pub type OrgList = permissions_service::org::List;
pub type AdminList = permissions_service::admin::List;
pub type AdminHistory = permissions_service::admin::History;
pub type AdminCheck = permissions_service::admin::Check;
