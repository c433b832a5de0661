//! `PUT /user/remove-permissions`: an admin removes `compass.*` permissions from any user. The
//! same body and checks as add; the permissions are exact strings (removing `compass.users.*`
//! removes that string, not `compass.users.view`), and removing what is not held is a no-op.

use std::sync::Arc;

use super::AdminApi;
use super::change::AdminChangeResponse;
use super::errors::AdminError;
use crate::frame::{Call, Changed, Endpoint, Route, routes};
use crate::store::change::Action;
use crate::telemetry::metrics::Activity;

#[derive(Debug, Clone)]
pub struct Remove(pub Arc<AdminApi>);

impl From<AdminApi> for Remove {
    fn from(api: AdminApi) -> Self {
        Self(Arc::new(api))
    }
}

impl Endpoint for Remove {
    const ROUTE: &'static Route = &routes::ADMIN_REMOVE;
    const ACTIVITY: Activity = Activity::Change(Action::Revoke);
    type Refusal = AdminError;
    type Success = Changed<AdminChangeResponse>;

    async fn process(&self, call: &Call<'_>) -> Result<Self::Success, AdminError> {
        self.0.change(call, Action::Revoke).await
    }
}
