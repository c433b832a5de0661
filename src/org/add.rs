//! `PATCH /organizations/users/permissions/{user_uuid}/`: an organization's user editor adds
//! catalog permissions to a user of the same organization.

use std::sync::Arc;

use super::OrgApi;
use super::change::OrgChangeResponse;
use super::errors::OrgError;
use crate::frame::{Call, Changed, Endpoint, Route, routes};
use crate::store::change::Action;
use crate::telemetry::metrics::Activity;

#[derive(Debug, Clone)]
pub struct Add(pub Arc<OrgApi>);

impl From<OrgApi> for Add {
    fn from(api: OrgApi) -> Self {
        Self(Arc::new(api))
    }
}

impl Endpoint for Add {
    const ROUTE: &'static Route = &routes::ORG_ADD;
    const ACTIVITY: Activity = Activity::Change(Action::Grant);
    type Refusal = OrgError;
    type Success = Changed<OrgChangeResponse>;

    async fn process(&self, call: &Call<'_>) -> Result<Self::Success, OrgError> {
        self.0.change(call, Action::Grant).await
    }
}
