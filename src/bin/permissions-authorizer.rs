//! Lambda entry point for the Lambda authorizer another team attaches to its HTTP API.

use lambda_http::Error;
use permissions_service::authorizer::Authorizer;
use permissions_service::{lambda_entry, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    lambda_entry::authorizer::run(Authorizer::from_env().await?).await
}
