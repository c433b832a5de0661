//! Lambda entry point for `PUT /user/add-permissions`.

use lambda_http::{Error, run, service_fn};
use permissions_service::request_log;
use permissions_service::user_add_permissions::UserAddPermissions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    request_log::init();
    let endpoint = &UserAddPermissions::from_env().await?;
    run(service_fn(move |request| async move { Ok::<_, Error>(endpoint.handle(request).await) })).await
}
