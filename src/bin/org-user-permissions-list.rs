//! Lambda entry point for `GET /organizations/users/permissions/{user_uuid}/`.

use lambda_http::Error;
use permissions_service::org::{List, OrgApi};
use permissions_service::{lambda_entry, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    lambda_entry::run(List::from(OrgApi::from_env().await?)).await
}
