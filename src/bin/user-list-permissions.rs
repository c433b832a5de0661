//! Lambda entry point for `GET /user/permissions`.

use lambda_http::Error;
use permissions_service::admin::{AdminApi, List};
use permissions_service::{lambda_entry, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    lambda_entry::run(List::from(AdminApi::from_env().await?)).await
}
