//! Lambda entry point for `PUT /user/add-permissions`.

use lambda_http::Error;
use permissions_service::admin::{Add, AdminApi};
use permissions_service::{lambda_entry, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    lambda_entry::run(Add::from(AdminApi::from_env().await?)).await
}
