//! A permissions service: two AWS Lambda endpoints that add permissions to a user in DynamoDB.
//!
//! - [`org_user_permissions`]: `PATCH /organizations/users/permissions/{user_uuid}/`, token auth,
//!   scoped to the caller's organization, Django REST Framework error shapes.
//! - [`user_add_permissions`]: `PUT /user/add-permissions`, admin JWT, `{"error": {...}}` shapes.
//!
//! Shared pieces: [`routing`] (API Gateway's view of paths and methods), [`body`] (size limit,
//! content type, JSON), [`auth`] (credentials in the `Authorization` header, token hashing, JWT),
//! [`store`] (DynamoDB), [`request_log`] (the log line per request and the audit line per
//! grant), [`metrics`] (CloudWatch EMF), [`xray`] (a subsegment per DynamoDB call),
//! [`endpoint`] (the frame both endpoints answer in), [`lambda_entry`] (the Lambda binaries' entry
//! path: raw API Gateway event in, reply out, with no step that can panic).

pub mod auth;
pub mod backoff;
pub mod body;
pub mod config;
pub mod deadline;
pub mod endpoint;
pub mod lambda_entry;
#[cfg(feature = "local")]
pub mod local;
pub mod metrics;
pub mod org_user_permissions;
pub mod request_log;
pub mod response;
pub mod routing;
pub mod store;
pub mod user_add_permissions;
pub mod xray;
