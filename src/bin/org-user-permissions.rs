//! Lambda entry point for `PATCH /organizations/users/permissions/{user_uuid}/`.

use lambda_http::Error;
use permissions_service::org_user_permissions::OrgUserPermissions;
use permissions_service::{lambda_entry, request_log};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    request_log::init();
    lambda_entry::run(&OrgUserPermissions::from_env().await?).await
}
