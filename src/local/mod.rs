//! Running the service on a laptop (feature `local`, never in the Lambda binaries):
//! - [`template`]: the DynamoDB tables exactly as `template.yaml` declares them;
//! - [`demo`]: demo data that makes the API docs' own examples work against localhost;
//! - [`api`]: an HTTP server that routes like API Gateway into the same handlers;
//! - [`gateway`]: API Gateway's authorizer step, in front of a Lambda authorizer;
//! - [`protected`]: the example's protected API, behind that step and the authorizer.

pub mod api;
pub mod demo;
pub mod gateway;
pub mod protected;
pub mod template;
