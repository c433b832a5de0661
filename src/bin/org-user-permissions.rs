//! Lambda entry point for `PATCH /organizations/users/permissions/{user_uuid}/`.

use lambda_http::{Error, run, service_fn};
use permissions_service::org_user_permissions::OrgUserPermissions;
use permissions_service::request_log;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    request_log::init();
    let endpoint = &OrgUserPermissions::from_env().await?;
    run(service_fn(move |request| async move { Ok::<_, Error>(endpoint.handle(request).await) })).await
}
