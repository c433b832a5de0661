//! Lambda entry point for `GET /user/permission-history`.

use lambda_http::Error;
use permissions_service::admin::{AdminApi, History};
use permissions_service::{lambda_entry, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    lambda_entry::run(History::from(AdminApi::from_env().await?)).await
}
