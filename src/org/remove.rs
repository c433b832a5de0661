//! `DELETE /organizations/users/permissions/{user_uuid}/`: an organization's user editor removes
//! catalog permissions from a user of the same organization. The same body, checks and answer as
//! add; removing what the user does not hold is a no-op (still audited), and a set emptied leaves
//! no attribute. An editor may remove its own `edit_org_users`, and then can no longer edit.

use std::sync::Arc;

use super::OrgApi;
use super::change::OrgChangeResponse;
use super::errors::OrgError;
use crate::frame::{Call, Changed, Endpoint, Route, routes};
use crate::store::change::Action;
use crate::telemetry::metrics::Activity;

#[derive(Debug, Clone)]
pub struct Remove(pub Arc<OrgApi>);

impl From<OrgApi> for Remove {
    fn from(api: OrgApi) -> Self {
        Self(Arc::new(api))
    }
}

impl Endpoint for Remove {
    const ROUTE: &'static Route = &routes::ORG_REMOVE;
    const ACTIVITY: Activity = Activity::Change(Action::Revoke);
    type Refusal = OrgError;
    type Success = Changed<OrgChangeResponse>;

    async fn process(&self, call: &Call<'_>) -> Result<Self::Success, OrgError> {
        self.0.change(call, Action::Revoke).await
    }
}
