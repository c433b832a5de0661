//! Both endpoints end to end: real API Gateway events through the handlers, on Amazon's
//! DynamoDB Local (started once for this test binary, on a free port; every test has its own
//! tables, so tests run in parallel).

mod admin_changes;
mod attacks;
mod audit_order;
mod authorizer;
#[cfg(feature = "local")]
mod authorizer_gateway;
mod authorizer_hostile;
mod authorizer_process;
mod backend_faults;
mod catalog_codenames;
mod concurrency;
mod conflict_emulator;
mod history_cursor;
mod history_refusals;
mod hostile;
mod hostile_input;
mod hostile_queries;
mod idempotency;
mod in_flight;
mod jwt_rotation;
mod lambda_process;
mod limits;
mod org_changes;
mod org_round_trips;
mod org_user_permissions;
mod org_user_permissions_list;
mod org_user_permissions_remove;
mod raw_events;
mod revoke_concurrency;
mod runtime_stub;
mod startup;
mod stored_data;
#[path = "../support/mod.rs"]
mod support;
mod transaction_in_progress;
mod user_add_permissions;
mod user_check_permissions;
mod user_list_permissions;
mod user_permission_history;
mod user_remove_permissions;
