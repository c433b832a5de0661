//! `GET /user/permissions?userId=<ObjectId>`: what a user holds, sorted.
//!
//! Checks: route, JWT (401), query (400), the caller's admin role (403), the target (404). A
//! body is ignored. Strongly consistent, never cached, never audited, writes nothing.
//!
//! DynamoDB round trips: one, a BatchGetItem of the caller and the target. (A query that fails
//! to parse costs one read of the caller, so that an unknown caller hears 401 first.)

use std::sync::Arc;

use serde::Serialize;

use super::errors::AdminError;
use super::{AdminApi, query};
use crate::frame::{Call, Endpoint, Read, Route, routes};
use crate::telemetry::metrics::Activity;

pub const RETRIEVED: &str = "Successfully retrieved permissions for this user.";

#[derive(Debug, Clone)]
pub struct List(pub Arc<AdminApi>);

impl From<AdminApi> for List {
    fn from(api: AdminApi) -> Self {
        Self(Arc::new(api))
    }
}

#[derive(Debug, Serialize)]
pub struct AdminPermissionsList {
    message: &'static str,
    data: ListData,
}

#[derive(Debug, Serialize)]
struct ListData {
    #[serde(rename = "userId")]
    user_id: String,
    permissions: Vec<String>,
}

impl Endpoint for List {
    const ROUTE: &'static Route = &routes::ADMIN_LIST;
    const ACTIVITY: Activity = Activity::Read;
    type Refusal = AdminError;
    type Success = Read<AdminPermissionsList>;

    async fn process(&self, call: &Call<'_>) -> Result<Self::Success, AdminError> {
        let (caller_id, user_id) = self.0.authenticated_query(call.request, query::user_id).await?;
        let target = self.0.target_for_admin(&caller_id, &user_id, "view permissions").await?;
        let mut permissions = target.permissions;
        permissions.sort_unstable();
        let data = ListData { user_id: user_id.into_string(), permissions };
        Ok(Read { body: AdminPermissionsList { message: RETRIEVED, data }, outcome: "listed" })
    }
}
