//! Lambda entry point for `PUT /user/add-permissions`.

use lambda_http::{Error, run, service_fn, tracing};
use permissions_service::user_add_permissions::UserAddPermissions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let endpoint = &UserAddPermissions::from_env().await?;
    run(service_fn(move |request| async move { Ok::<_, Error>(endpoint.handle(request).await) })).await
}
