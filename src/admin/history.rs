//! `GET /user/permission-history?userId=<ObjectId>[&limit=1..100][&cursor=...]`: who changed a
//! user's permissions, newest first, a page at a time.
//!
//! Checks: route, JWT (401), query (400: `userId`, `limit`, and a well-formed cursor bound to
//! this `userId`), the caller's admin role (403), the target (404, even when it has records).
//! A body is ignored. Strongly consistent, never audited, writes nothing.
//!
//! DynamoDB round trips: a page costs two, one after the other: the BatchGetItem of the caller
//! and the target, then the audit table's Query. A refusal (401, 403, 404) costs the first alone:
//! a caller that may not see the history never makes the service read it, nor pays for a
//! strongly consistent Query whose cost grows with the target's history.

use std::sync::Arc;

use serde::Serialize;

use super::cursor::Cursor;
use super::errors::AdminError;
use super::{AdminApi, query};
use crate::frame::{Call, Endpoint, Read, Route, routes};
use crate::store::audit::AuditRecord;
use crate::telemetry::metrics::Activity;

pub const RETRIEVED: &str = "Successfully retrieved permission history for this user.";

#[derive(Debug, Clone)]
pub struct History(pub Arc<AdminApi>);

impl From<AdminApi> for History {
    fn from(api: AdminApi) -> Self {
        Self(Arc::new(api))
    }
}

#[derive(Debug, Serialize)]
pub struct AdminPermissionHistory {
    message: &'static str,
    data: HistoryData,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct HistoryData {
    user_id: String,
    events: Vec<HistoryEvent>,
    next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct HistoryEvent {
    event_id: String,
    action: &'static str,
    actor: String,
    endpoint: String,
    permissions: Vec<String>,
    at: String,
    request_id: String,
}

impl From<AuditRecord> for HistoryEvent {
    fn from(record: AuditRecord) -> Self {
        Self {
            event_id: record.event_id,
            action: record.action.as_str(),
            actor: record.actor_id,
            endpoint: record.endpoint,
            permissions: record.permissions,
            at: record.at,
            request_id: record.request_id,
        }
    }
}

impl Endpoint for History {
    const ROUTE: &'static Route = &routes::ADMIN_HISTORY;
    const ACTIVITY: Activity = Activity::Read;
    type Refusal = AdminError;
    type Success = Read<AdminPermissionHistory>;

    async fn process(&self, call: &Call<'_>) -> Result<Self::Success, AdminError> {
        let api = &self.0;
        let (caller_id, page) = api.authenticated_query(call.request, query::page).await?;
        let user_id = page.user_id.as_str();
        api.target_for_admin(&caller_id, &page.user_id, "view permission history").await?;
        let records = api.history.page(user_id, page.limit, page.after.as_deref()).await?;
        let next_cursor = records.continue_after.map(|after| Cursor { user_id: user_id.to_owned(), after }.encode());
        let events = records.records.into_iter().map(HistoryEvent::from).collect();
        let data = HistoryData { user_id: page.user_id.into_string(), events, next_cursor };
        Ok(Read { body: AdminPermissionHistory { message: RETRIEVED, data }, outcome: "listed" })
    }
}
