//! Lambda entry point for `PATCH /organizations/users/permissions/{user_uuid}/`.

use lambda_http::{Error, run, service_fn, tracing};
use permissions_service::org_user_permissions::OrgUserPermissions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let endpoint = &OrgUserPermissions::from_env().await?;
    run(service_fn(move |request| async move { Ok::<_, Error>(endpoint.handle(request).await) })).await
}
