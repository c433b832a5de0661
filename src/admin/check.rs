//! `POST /user/check-permissions`: may this user do X now? What a service governed by these
//! permissions asks, answered by the one implication rule (`domain::implies`), so that no caller
//! keeps its own copy of what `compass.dashboard.*` means.
//!
//! A user checks itself (any role: absent `userId`, or its own id in any case); checking another
//! user needs `role` = `admin`. Checks: route, body size (413), JWT (401), body (400, after
//! an unknown caller's 401), the caller's role for another user (403), the target (404).
//! Strongly consistent, never cached, never audited, writes nothing; an `Idempotency-Key` is
//! ignored.
//!
//! DynamoDB round trips: one, a GetItem of the caller for a self-check, or a BatchGetItem of the
//! caller and the target. (A body that fails to parse costs one read of the caller, so that an
//! unknown caller hears 401 first.)

use std::sync::Arc;

use serde::Serialize;

use super::errors::AdminError;
use super::{AdminApi, request};
use crate::domain::{CompassPermission, HeldPermissions};
use crate::frame::{Call, Endpoint, Read, Route, body, routes};
use crate::telemetry::metrics::Activity;

pub const CHECKED: &str = "Successfully checked permissions for this user.";

#[derive(Debug, Clone)]
pub struct Check(pub Arc<AdminApi>);

impl From<AdminApi> for Check {
    fn from(api: AdminApi) -> Self {
        Self(Arc::new(api))
    }
}

#[derive(Debug, Serialize)]
pub struct AdminPermissionCheck {
    message: &'static str,
    data: CheckData,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CheckData {
    user_id: String,
    /// True when every permission asked about is implied.
    allowed: bool,
    results: Vec<CheckResult>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CheckResult {
    permission: String,
    allowed: bool,
    /// The held permission that implies it: the same string when held, else the wildcard.
    granted_by: Option<String>,
}

impl Endpoint for Check {
    const ROUTE: &'static Route = &routes::ADMIN_CHECK;
    const ACTIVITY: Activity = Activity::Read;
    type Refusal = AdminError;
    type Success = Read<AdminPermissionCheck>;

    async fn process(&self, call: &Call<'_>) -> Result<Self::Success, AdminError> {
        let api = &self.0;
        let request = call.request;
        let caller_id = api.authenticate(request.headers()).await?;
        let asked = match request::parse_check(&body::content_type(request.headers()), body::bytes(request.body())) {
            Ok(asked) => asked,
            Err(invalid) => return Err(api.unknown_caller_first(&caller_id, invalid).await),
        };
        let other = asked.user_id.filter(|user_id| !user_id.as_str().eq_ignore_ascii_case(&caller_id));
        let user = match other {
            None => api.users.get(&caller_id).await?.ok_or(AdminError::InvalidToken)?,
            Some(target) => api.target_for_admin(&caller_id, &target, "check another user's permissions").await?,
        };
        let held = HeldPermissions::new(user.permissions.iter().map(String::as_str));
        let results: Vec<CheckResult> = asked.permissions.iter().map(|permission| result(&held, permission)).collect();
        let allowed = results.iter().all(|result| result.allowed);
        let data = CheckData { user_id: user.user_id.to_ascii_lowercase(), allowed, results };
        let outcome = if allowed { "allowed" } else { "denied" };
        Ok(Read { body: AdminPermissionCheck { message: CHECKED, data }, outcome })
    }
}

fn result(held: &HeldPermissions<'_>, permission: &CompassPermission) -> CheckResult {
    let granted_by = held.granting(permission).map(str::to_owned);
    CheckResult { permission: permission.as_str().to_owned(), allowed: granted_by.is_some(), granted_by }
}
