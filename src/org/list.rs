//! `GET /organizations/users/permissions/{user_uuid}/`: what a user of the caller's organization
//! holds, each permission with its catalog codename (`null` when the catalog lacks it).
//!
//! Checks: route, token (401), path (400), the caller's `edit_org_users` or `view_org_users`
//! (403), the target in the caller's organization (404, exactly as for a missing one). A body is
//! ignored. Strongly consistent, never cached (codenames aside: catalog entries never change),
//! never audited, writes nothing.
//!
//! DynamoDB round trips, warm: one BatchGetItem of the key, the caller (see `auth`), the target
//! and, fresh, the catalog entries that could give the caller its right. Cold, the key's GetItem
//! comes first. The codenames come from the warm catalog cache; a cold one reads what it lacks.

use std::sync::Arc;

use serde::Serialize;

use super::errors::{FieldErrors, OrgError};
use super::{EDIT_ORG_USERS, OrgApi, VIEW_ORG_USERS};
use crate::domain::UserUuid;
use crate::frame::{Call, Endpoint, Read, Route, routes};
use crate::store::users::UserRecord;
use crate::telemetry::metrics::Activity;

#[derive(Debug, Clone)]
pub struct List(pub Arc<OrgApi>);

impl From<OrgApi> for List {
    fn from(api: OrgApi) -> Self {
        Self(Arc::new(api))
    }
}

/// The 200 body: the target, and what it holds, sorted by uuid.
#[derive(Debug, Serialize)]
pub struct OrgPermissionsList {
    pub user_uuid: String,
    pub permissions: Vec<HeldPermission>,
}

#[derive(Debug, Serialize)]
pub struct HeldPermission {
    pub uuid: String,
    pub codename: Option<String>,
}

impl Endpoint for List {
    const ROUTE: &'static Route = &routes::ORG_LIST;
    const ACTIVITY: Activity = Activity::Read;
    type Refusal = OrgError;
    type Success = Read<OrgPermissionsList>;

    async fn process(&self, call: &Call<'_>) -> Result<Self::Success, OrgError> {
        let api = &self.0;
        let target = UserUuid::parse(call.matched.parameter.as_deref().unwrap_or_default());
        let rights = [EDIT_ORG_USERS, VIEW_ORG_USERS];
        let caller = api.authenticate(call.request.headers(), &rights, target.as_ref().map(UserUuid::as_str)).await?;
        let Some(target) = target else {
            return Err(OrgError::InvalidFields(FieldErrors::from([(
                "user_uuid",
                vec!["Must be a valid UUID.".into()],
            )])));
        };
        let org_uuid = caller.right()?.0.to_owned();
        let in_scope = |user: &UserRecord| user.org_uuid.as_deref() == Some(org_uuid.as_str());
        let held = caller.other.filter(in_scope).ok_or(OrgError::NotFound)?;
        let codenames = api.catalog.codenames(held.permissions.iter().map(String::as_str)).await?;
        let mut permissions: Vec<HeldPermission> = held
            .permissions
            .into_iter()
            .map(|uuid| HeldPermission { codename: codenames.get(&uuid).cloned().flatten(), uuid })
            .collect();
        permissions.sort_unstable_by(|a, b| a.uuid.cmp(&b.uuid));
        Ok(Read { body: OrgPermissionsList { user_uuid: target.into_string(), permissions }, outcome: "listed" })
    }
}
