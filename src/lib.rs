//! A permissions service: AWS Lambda endpoints that change and read users' permissions in
//! DynamoDB, each its own binary.
//!
//! - [`org`]: the org API (`Token` keys, org scope, Django REST Framework error shapes).
//! - [`admin`]: the admin API (HS256 JWT, `{"error": {...}}` shapes).
//! - [`authorizer`]: the Lambda authorizer another team's HTTP API asks before each request.
//!
//! Each API is a folder whose files are its operations; what they share lives once:
//! [`frame`] (the route table and the frame every endpoint answers in), [`domain`] (parsed
//! values that carry their invariants), [`auth`] (credentials, token hashing, JWT), [`store`]
//! (DynamoDB: records, reads, the change transaction), [`telemetry`] (logs, EMF metrics, X-Ray),
//! [`lambda_entry`] (raw API Gateway event in, reply out, with no step that can panic),
//! [`functions`] (every Lambda function of the service, the list the template and docs are held
//! against).

pub mod admin;
pub mod auth;
pub mod authorizer;
pub mod backoff;
pub mod config;
pub mod domain;
pub mod frame;
pub mod functions;
pub mod lambda_entry;
#[cfg(feature = "local")]
pub mod local;
pub mod org;
pub mod store;
pub mod telemetry;
