//! What add and remove share: the request, the checks in the contract's order, and one change
//! transaction that `ADD`s or `DELETE`s the permissions.

use serde::Serialize;

use super::AdminApi;
use super::errors::AdminError;
use super::request;
use crate::frame::response::json_text;
use crate::frame::{self, Call, Changed, body};
use crate::store::change::{Action, CallerRight, Change, ChangeOutcome, limit_message};
use crate::store::idempotency::Claim;
use crate::telemetry::log::ChangeSummary;

/// The success body, fields in the documented order.
#[derive(Debug, Serialize)]
pub struct AdminChangeResponse {
    message: &'static str,
    data: Empty,
}

#[derive(Debug, Serialize)]
struct Empty {}

pub const ADDED: &str = "Successfully added permissions for this user.";
pub const REMOVED: &str = "Successfully removed permissions for this user.";

impl AdminApi {
    pub(super) async fn change(
        &self,
        call: &Call<'_>,
        action: Action,
    ) -> Result<Changed<AdminChangeResponse>, AdminError> {
        let request = call.request;
        let caller_id = self.authenticate(request.headers()).await?;
        let wanted = match request::parse(&body::content_type(request.headers()), body::bytes(request.body())) {
            Ok(wanted) => wanted,
            Err(invalid) => return Err(self.unknown_caller_first(&caller_id, invalid).await),
        };
        let key = frame::idempotency_key(request).map_err(|frame::MalformedKey| {
            AdminError::Validation("Idempotency-Key must be 1 to 255 visible ASCII characters, sent once.".into())
        });
        let key = match key {
            Ok(key) => key,
            Err(invalid) => return Err(self.unknown_caller_first(&caller_id, invalid).await),
        };
        let message = match action {
            Action::Grant => ADDED,
            Action::Revoke => REMOVED,
        };
        let body = AdminChangeResponse { message, data: Empty {} };
        let claim = key.map(|key| {
            let target = wanted.user_id.as_str();
            Claim::of_change(&caller_id, key, call.endpoint, target, &wanted.permissions, json_text(&body))
        });
        let change = Change {
            action,
            caller_id: &caller_id,
            caller_right: CallerRight::Admin,
            caller_key_hash: None,
            target_user_id: wanted.user_id.as_str(),
            permissions: &wanted.permissions,
            endpoint: call.endpoint,
            request_id: call.request_id,
            idempotency: claim.as_ref(),
        };
        let changed = match self.changes.apply(&change).await? {
            ChangeOutcome::Applied { changed } => changed,
            ChangeOutcome::Replayed(stored) => return Ok(Changed::Replayed(stored)),
            ChangeOutcome::KeyReused => return Err(AdminError::IdempotencyKeyReused),
            ChangeOutcome::KeyInUse => return Err(AdminError::RequestInProgress),
            ChangeOutcome::TargetNotFound => return Err(AdminError::UserNotFound),
            ChangeOutcome::CallerUnknown => return Err(AdminError::InvalidToken),
            ChangeOutcome::CallerForbidden => {
                let what = match action {
                    Action::Grant => "add permissions",
                    Action::Revoke => "remove permissions",
                };
                return Err(AdminError::Forbidden(what));
            }
            ChangeOutcome::LimitExceeded { would_hold } => {
                return Err(AdminError::Validation(limit_message(would_hold)));
            }
        };
        let summary = ChangeSummary {
            action,
            actor: caller_id,
            target: wanted.user_id.into_string(),
            permissions: wanted.permissions.into_vec(),
            changed,
        };
        Ok(Changed::Applied { body, summary })
    }
}
