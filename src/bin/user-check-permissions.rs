//! Lambda entry point for `POST /user/check-permissions`.

use lambda_http::Error;
use permissions_service::admin::{AdminApi, Check};
use permissions_service::{lambda_entry, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    lambda_entry::run(Check::from(AdminApi::from_env().await?)).await
}
