//! `PUT /user/add-permissions`: an admin adds `compass.*` permissions to any user.

use std::sync::Arc;

use super::AdminApi;
use super::change::AdminChangeResponse;
use super::errors::AdminError;
use crate::frame::{Call, Changed, Endpoint, Route, routes};
use crate::store::change::Action;
use crate::telemetry::metrics::Activity;

#[derive(Debug, Clone)]
pub struct Add(pub Arc<AdminApi>);

impl From<AdminApi> for Add {
    fn from(api: AdminApi) -> Self {
        Self(Arc::new(api))
    }
}

impl Endpoint for Add {
    const ROUTE: &'static Route = &routes::ADMIN_ADD;
    const ACTIVITY: Activity = Activity::Change(Action::Grant);
    type Refusal = AdminError;
    type Success = Changed<AdminChangeResponse>;

    async fn process(&self, call: &Call<'_>) -> Result<Self::Success, AdminError> {
        self.0.change(call, Action::Grant).await
    }
}
