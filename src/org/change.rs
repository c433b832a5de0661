//! What add and remove share: the request, the checks in the contract's order, and one change
//! transaction that `ADD`s or `DELETE`s the permissions.

use serde::Serialize;

use super::Applied;
use super::errors::OrgError;
use super::{EDIT_ORG_USERS, OrgApi, changed, request};
use crate::frame::response::json_text;
use crate::frame::{self, Call, Changed, body};
use crate::store::change::{Action, CallerRight, Change};
use crate::store::idempotency::Claim;
use crate::telemetry::log::ChangeSummary;

/// The 200 body of a change: the target, and the request's uuids, deduplicated and sorted.
#[derive(Debug, Serialize)]
pub struct OrgChangeResponse {
    pub user_uuid: String,
    pub permission_uuids: Vec<String>,
}

impl OrgApi {
    pub(super) async fn change(&self, call: &Call<'_>, action: Action) -> Result<Changed<OrgChangeResponse>, OrgError> {
        let request = call.request;
        let path_user_uuid = call.matched.parameter.as_deref().unwrap_or_default();
        let caller = self.authenticate(request.headers(), &[EDIT_ORG_USERS], None).await?;
        let wanted =
            request::parse(path_user_uuid, &body::content_type(request.headers()), body::bytes(request.body()))?;
        let key = frame::idempotency_key(request).map_err(|frame::MalformedKey| OrgError::InvalidIdempotencyKey)?;
        let (org_uuid, right_uuid) = caller.right()?;
        self.require_in_catalog(&wanted.permission_uuids).await?;

        let body = OrgChangeResponse {
            user_uuid: wanted.target.to_string(),
            permission_uuids: wanted.permission_uuids.as_slice().to_vec(),
        };
        let claim = key.map(|key| {
            let (caller_id, target, permissions) =
                (&caller.user.user_id, wanted.target.as_str(), &wanted.permission_uuids);
            Claim::of_change(caller_id, key, call.endpoint, target, permissions, json_text(&body))
        });

        let change = Change {
            action,
            caller_id: &caller.user.user_id,
            caller_right: CallerRight::OrgEditor { org_uuid, right_uuid },
            caller_key_hash: Some(&caller.key_hash),
            target_user_id: wanted.target.as_str(),
            permissions: &wanted.permission_uuids,
            endpoint: call.endpoint,
            request_id: call.request_id,
            idempotency: claim.as_ref(),
        };
        let changed = match changed(self.changes.apply(&change).await?)? {
            Applied::Now(changed) => changed,
            Applied::Before(stored) => return Ok(Changed::Replayed(stored)),
        };
        let summary = ChangeSummary {
            action,
            actor: caller.user.user_id.clone(),
            target: wanted.target.to_string(),
            permissions: wanted.permission_uuids.as_slice().to_vec(),
            changed,
        };
        Ok(Changed::Applied { body, summary })
    }
}
