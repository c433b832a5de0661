//! Lambda entry point for `PUT /user/add-permissions`.

use lambda_http::Error;
use permissions_service::user_add_permissions::UserAddPermissions;
use permissions_service::{lambda_entry, request_log};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    request_log::init();
    lambda_entry::run(&UserAddPermissions::from_env().await?).await
}
