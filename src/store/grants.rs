//! The grant: ONE `TransactWriteItems` that set-adds the permissions to the target (conditional on
//! the target existing and being in scope), writes the audit record, and re-checks the caller's
//! right (and, for the org endpoint, that the right's catalog entry still says `edit_org_users`,
//! so a warm process's catalog cache never authorizes on its own). Either all of it lands or none
//! of it does; a failed condition is an answer (404, 403, 401), never a partial write.
//!
//! The SDK gives each call a `ClientRequestToken` and reuses it on its own retries, so a retry of
//! an attempt that did commit is answered as that commit, not evaluated again.
//!
//! Whether a grant added anything (for the metrics and the audit log line) costs no round trip
//! when it did: the first transaction also requires at least one permission to be new. Only a
//! grant of what the target already holds fails that, and is then sent again without it, so that
//! it is still audited.

use std::collections::HashMap;
use std::time::{Instant, SystemTime};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};

use super::catalog::{CODENAME, PERMISSION_UUID};
use super::users::{ADMIN_ROLE, ORG_UUID, PERMISSIONS, ROLE, USER_ID, UserRecord};
use super::{StoreError, is_throttling_code, string_attribute};
use crate::backoff::full_jitter;

/// Audit table key: the target user, then a UUIDv7 event id, which sorts by time.
pub const AUDIT_USER_ID: &str = "user_id";
pub const AUDIT_EVENT_ID: &str = "event_id";

/// Attempts at a transaction DynamoDB cancelled for a transient reason (a concurrent transaction
/// on the same user, throttling). The backoff between them adds up to 1.3 s at most.
const TRANSIENT_ATTEMPTS: u32 = 8;

/// What the caller must still hold when the write commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerRight<'a> {
    /// Org endpoint: the caller is in `org_uuid` and holds `right_uuid`, whose catalog codename
    /// is `codename`.
    OrgEditor { org_uuid: &'a str, right_uuid: &'a str, codename: &'a str },
    /// Admin endpoint: the caller's `role` is `admin`.
    Admin,
}

impl CallerRight<'_> {
    fn is_held_by(&self, user: &UserRecord) -> bool {
        match self {
            CallerRight::OrgEditor { org_uuid, right_uuid, .. } => {
                user.org_uuid.as_deref() == Some(*org_uuid) && user.permissions.iter().any(|p| p == right_uuid)
            }
            CallerRight::Admin => user.is_admin(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Grant<'a> {
    pub caller_id: &'a str,
    pub caller_right: CallerRight<'a>,
    pub target_user_id: &'a str,
    /// Normalised and deduplicated: a String Set may not repeat a value.
    pub permissions: &'a [String],
    /// The binary that performs the grant, for the audit trail.
    pub endpoint: &'static str,
    pub request_id: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantOutcome {
    /// The permissions are in the target's set and the audit record is written. `changed` is
    /// false when the target already held all of them.
    Granted { changed: bool },
    /// The target does not exist or is out of the caller's scope (another organization).
    TargetNotFound,
    /// The caller no longer exists.
    CallerUnknown,
    /// The caller exists but lost the right it was authorized with.
    CallerForbidden,
}

#[derive(Debug, Clone)]
pub struct Grants {
    client: Client,
    users_table: String,
    audit_table: String,
    /// The permission catalog, for [`CallerRight::OrgEditor`] grants.
    catalog_table: Option<String>,
}

/// Where each condition sits among the transaction's items, to read its cancellation reason.
#[derive(Debug, Clone, Copy)]
struct Layout {
    caller: Option<usize>,
    catalog: Option<usize>,
    target: usize,
}

impl Grants {
    pub fn new(client: Client, users_table: String, audit_table: String) -> Self {
        Self { client, users_table, audit_table, catalog_table: None }
    }

    /// Grants whose right comes from the catalog re-check that entry in the transaction.
    pub fn with_catalog(mut self, catalog_table: String) -> Self {
        self.catalog_table = Some(catalog_table);
        self
    }

    pub async fn grant(&self, grant: &Grant<'_>) -> Result<GrantOutcome, StoreError> {
        let event_id = uuid::Uuid::now_v7().to_string();
        // Built once per phase: retries resend the identical request, and the same event id makes
        // a retry of a write that did land idempotent (ADD of a set and a Put of the same item).
        let mut require_new = true;
        let (mut items, mut layout) = self.transact_items(grant, &event_id, require_new)?;
        let started = Instant::now();
        let mut throttled = false;
        for attempt in 0..TRANSIENT_ATTEMPTS {
            let result = super::measured(
                "TransactWriteItems",
                &self.users_table,
                self.client.transact_write_items().set_transact_items(Some(items.clone())).send(),
            )
            .await;
            let error = match result {
                Ok(_) => return Ok(GrantOutcome::Granted { changed: require_new }),
                Err(error) => error,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error()
            else {
                return Err(StoreError::sdk("TransactWriteItems", &error));
            };
            let reasons = cancelled.cancellation_reasons();
            match classify(reasons, grant, layout, require_new) {
                Some(Classified::Answer(outcome)) => return Ok(outcome),
                Some(Classified::NothingNew) => {
                    // Everything is held already: grant again without that condition, at once.
                    require_new = false;
                    (items, layout) = self.transact_items(grant, &event_id, require_new)?;
                    continue;
                }
                None => {}
            }
            if !reasons.iter().any(is_transient) {
                return Err(StoreError::sdk("TransactWriteItems", &error));
            }
            throttled = reasons.iter().any(|reason| reason.code().is_some_and(is_throttling_code));
            if attempt + 1 < TRANSIENT_ATTEMPTS {
                tokio::time::sleep(full_jitter(attempt)).await;
            }
        }
        let detail = format!(
            "still cancelled for transient reasons after {TRANSIENT_ATTEMPTS} attempts in {} ms",
            started.elapsed().as_millis()
        );
        Err(if throttled {
            StoreError::throttled("TransactWriteItems", detail)
        } else {
            StoreError::new("TransactWriteItems", detail)
        })
    }

    fn transact_items(
        &self,
        grant: &Grant<'_>,
        event_id: &str,
        require_new: bool,
    ) -> Result<(Vec<TransactWriteItem>, Layout), StoreError> {
        let build_error = |error| StoreError::build("TransactWriteItems (building the request)", &error);
        let self_grant = grant.caller_id == grant.target_user_id;
        let mut items = Vec::with_capacity(4);
        let mut layout = Layout { caller: None, catalog: None, target: 0 };

        let (right_condition, right_values) = caller_right_condition(&grant.caller_right);
        if !self_grant {
            // The caller's right rides in the transaction: a right revoked after our read still
            // stops this write. ALL_OLD tells a deleted caller (no item) from a demoted one.
            let mut check = ConditionCheck::builder()
                .table_name(&self.users_table)
                .key(USER_ID, string_attribute(grant.caller_id))
                .condition_expression(format!("attribute_exists(#user_id) AND {right_condition}"))
                .expression_attribute_names("#user_id", USER_ID)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            for (name, value) in &right_values {
                check = check.expression_attribute_values(*name, value.clone());
            }
            for (placeholder, attribute) in right_attribute_names(&grant.caller_right) {
                check = check.expression_attribute_names(placeholder, attribute);
            }
            layout.caller = Some(items.len());
            items.push(TransactWriteItem::builder().condition_check(check.build().map_err(build_error)?).build());
        }

        if let CallerRight::OrgEditor { right_uuid, codename, .. } = grant.caller_right {
            let table = self.catalog_table.as_deref().ok_or_else(|| {
                StoreError::new("TransactWriteItems (building the request)", "an org grant needs the catalog table")
            })?;
            let check = ConditionCheck::builder()
                .table_name(table)
                .key(PERMISSION_UUID, string_attribute(right_uuid))
                .condition_expression("#codename = :codename")
                .expression_attribute_names("#codename", CODENAME)
                .expression_attribute_values(":codename", string_attribute(codename))
                .build()
                .map_err(build_error)?;
            layout.catalog = Some(items.len());
            items.push(TransactWriteItem::builder().condition_check(check).build());
        }

        // DynamoDB rejects two operations on one item in a transaction, so a self-grant folds the
        // caller's right into the update's own condition instead.
        let mut condition = String::from("attribute_exists(#user_id)");
        let mut update = Update::builder()
            .table_name(&self.users_table)
            .key(USER_ID, string_attribute(grant.target_user_id))
            .update_expression("ADD #p :granted")
            .expression_attribute_names("#user_id", USER_ID)
            .expression_attribute_names("#p", PERMISSIONS)
            .expression_attribute_values(":granted", AttributeValue::Ss(grant.permissions.to_vec()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let CallerRight::OrgEditor { org_uuid, .. } = grant.caller_right {
            condition.push_str(" AND #org_uuid = :target_org");
            update = update
                .expression_attribute_names("#org_uuid", ORG_UUID)
                .expression_attribute_values(":target_org", string_attribute(org_uuid));
        }
        if require_new {
            // "Not all held", not "any one missing": one NOT instead of 100 keeps the expression
            // under DynamoDB's 300 operators, and short placeholders keep it under 4 KB.
            let held: Vec<String> =
                (0..grant.permissions.len()).map(|index| format!("contains(#p, :n{index})")).collect();
            condition.push_str(" AND NOT (");
            condition.push_str(&held.join(" AND "));
            condition.push(')');
            update = update.expression_attribute_names("#p", PERMISSIONS);
            for (index, permission) in grant.permissions.iter().enumerate() {
                update = update.expression_attribute_values(format!(":n{index}"), string_attribute(permission));
            }
        }
        if self_grant {
            condition.push_str(" AND ");
            condition.push_str(&right_condition);
            for (name, value) in right_values {
                update = update.expression_attribute_values(name, value);
            }
            for (placeholder, attribute) in right_attribute_names(&grant.caller_right) {
                update = update.expression_attribute_names(placeholder, attribute);
            }
        }
        let update = update.condition_expression(condition).build().map_err(build_error)?;
        layout.target = items.len();
        items.push(TransactWriteItem::builder().update(update).build());

        let put = Put::builder()
            .table_name(&self.audit_table)
            .set_item(Some(audit_record(grant, event_id)))
            .build()
            .map_err(build_error)?;
        items.push(TransactWriteItem::builder().put(put).build());
        Ok((items, layout))
    }
}

fn caller_right_condition(right: &CallerRight<'_>) -> (String, Vec<(&'static str, AttributeValue)>) {
    match right {
        CallerRight::OrgEditor { org_uuid, right_uuid, .. } => (
            "#org_uuid = :caller_org AND contains(#p, :right)".to_owned(),
            vec![(":caller_org", string_attribute(org_uuid)), (":right", string_attribute(right_uuid))],
        ),
        CallerRight::Admin => ("#role = :admin".to_owned(), vec![(":admin", string_attribute(ADMIN_ROLE))]),
    }
}

fn right_attribute_names(right: &CallerRight<'_>) -> Vec<(&'static str, &'static str)> {
    match right {
        CallerRight::OrgEditor { .. } => vec![("#org_uuid", ORG_UUID), ("#p", PERMISSIONS)],
        CallerRight::Admin => vec![("#role", ROLE)],
    }
}

fn audit_record(grant: &Grant<'_>, event_id: &str) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        (AUDIT_USER_ID.to_owned(), string_attribute(grant.target_user_id)),
        (AUDIT_EVENT_ID.to_owned(), string_attribute(event_id)),
        ("actor_id".to_owned(), string_attribute(grant.caller_id)),
        ("endpoint".to_owned(), string_attribute(grant.endpoint)),
        ("permissions".to_owned(), AttributeValue::Ss(grant.permissions.to_vec())),
        ("granted_at".to_owned(), AttributeValue::S(humantime::format_rfc3339_millis(SystemTime::now()).to_string())),
        ("request_id".to_owned(), string_attribute(grant.request_id)),
    ]);
    if let CallerRight::OrgEditor { org_uuid, .. } = grant.caller_right {
        item.insert("org_uuid".to_owned(), string_attribute(org_uuid));
    }
    item
}

const CONDITION_FAILED: &str = "ConditionalCheckFailed";

fn is_transient(reason: &CancellationReason) -> bool {
    reason.code().is_some_and(|code| code == "TransactionConflict" || is_throttling_code(code))
}

enum Classified {
    Answer(GrantOutcome),
    /// The target is there and in scope, and already holds every permission asked for.
    NothingNew,
}

/// Turns failed conditions into answers. The caller's checks win over the target's: a caller
/// without the right learns nothing about the target. `None` means no condition failed (the
/// cancellation was transient or unexpected).
fn classify(
    reasons: &[CancellationReason],
    grant: &Grant<'_>,
    layout: Layout,
    require_new: bool,
) -> Option<Classified> {
    let failed = |index: Option<usize>| {
        index.and_then(|index| reasons.get(index)).filter(|reason| reason.code() == Some(CONDITION_FAILED))
    };
    if let Some(reason) = failed(layout.caller) {
        return Some(Classified::Answer(match reason.item() {
            None => GrantOutcome::CallerUnknown,
            Some(_) => GrantOutcome::CallerForbidden,
        }));
    }
    if failed(layout.catalog).is_some() {
        return Some(Classified::Answer(GrantOutcome::CallerForbidden));
    }
    let reason = failed(Some(layout.target))?;
    let self_grant = layout.caller.is_none();
    let target = reason.item().and_then(UserRecord::from_item);
    let answer = match target {
        None if self_grant => GrantOutcome::CallerUnknown,
        None => GrantOutcome::TargetNotFound,
        // A self-grant: the target's condition carried the caller's right too.
        Some(caller) if self_grant && !grant.caller_right.is_held_by(&caller) => GrantOutcome::CallerForbidden,
        Some(target) if !in_scope(&grant.caller_right, &target) => GrantOutcome::TargetNotFound,
        Some(_) if require_new => return Some(Classified::NothingNew),
        // Without the newness clause only existence and scope can fail; they held a moment ago
        // in the item DynamoDB returned, so the user changed in between: answer as missing.
        Some(_) => GrantOutcome::TargetNotFound,
    };
    Some(Classified::Answer(answer))
}

fn in_scope(right: &CallerRight<'_>, target: &UserRecord) -> bool {
    match right {
        CallerRight::OrgEditor { org_uuid, .. } => target.org_uuid.as_deref() == Some(*org_uuid),
        CallerRight::Admin => true,
    }
}
