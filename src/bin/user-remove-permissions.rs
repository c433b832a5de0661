//! Lambda entry point for `PUT /user/remove-permissions`.

use lambda_http::Error;
use permissions_service::admin::{AdminApi, Remove};
use permissions_service::{lambda_entry, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    lambda_entry::run(Remove::from(AdminApi::from_env().await?)).await
}
