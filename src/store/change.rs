//! A change to a user's permissions, grant or revoke: ONE `TransactWriteItems` that set-adds
//! (`ADD`) or set-removes (`DELETE`) the permissions on the target (conditional on the target
//! existing, being in scope, and for a grant having room under the per-user limit), writes the
//! audit record, and re-checks the caller: its right, and for an API-key caller that the key is
//! still live. Either all of it lands or none of it does; a failed condition is an answer (404,
//! 403, 401, the limit's 400), never a partial write.
//!
//! The transaction is composed of parts ([`Changes::first_attempt`] shows them to the benchmark):
//! the key check, the caller check, the target's update, the audit record. Grant and revoke share
//! every part but the update's verb and what its condition expects.
//!
//! No item of the transaction is one that unrelated requests touch: the caller's own user item
//! and key, the target, and a fresh audit item. DynamoDB cancels a transaction whose items are in
//! another one still in flight (`TransactionConflict`), so a shared item would serialise every
//! change in the system. Conflicts left (one caller's or one target's concurrent changes) are
//! retried here with jittered backoff, for up to [`CONTENTION_BUDGET`]; past it the answer is a
//! 503, as for throttling.
//!
//! Each attempt carries its own `ClientRequestToken` (its audit event id), which the SDK reuses on
//! its own retries, so a retry of an attempt that did commit is answered as that commit, not
//! evaluated again. A retry that finds the attempt still running is answered
//! `TransactionInProgressException`; the attempt is then resent as it is until it resolves
//! ([`Changes::send_until_resolved`]), so the answer is what the attempt did.
//!
//! Per target user, the audit trail is in commit order: the target's update sets its
//! `last_event_id` to the attempt's event id, on the condition that the one stored is smaller.
//! When it is not (the SDK resent the attempt, event id and all, after another change committed;
//! or another function's clock is ahead), the next attempt's event id is made to pass it
//! ([`event_id_after`]). Changes to one user commit one at a time, so their event ids rise in
//! commit order, and `at` is the event id's time. This costs nothing on the usual path.
//!
//! The first attempt assumes nothing about the target: a grant requires at least one permission to
//! be new and room for all of them, a revoke at least one to be held (so whether a change changed
//! anything costs no round trip when it did). When that fails, DynamoDB returns the target's item,
//! and the next attempt is built from what it holds: for a grant an exact limit check for what is
//! really new, or, when nothing would change, a no-op that is still audited. Each such attempt
//! requires what it assumed, so a concurrent change sends it back to be judged again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};

pub use super::audit::Action;
use super::audit::{AUDIT_EVENT_ID, AuditRecord};
use super::idempotency::{Claim, EXPIRES_AT as IDEMPOTENCY_EXPIRES_AT, IDEMPOTENCY_KEY, StoredAnswer, epoch_seconds};
use super::tokens::{EXPIRES_AT, TOKEN_HASH};
use super::users::{ADMIN_ROLE, LAST_EVENT_ID, ORG_UUID, PERMISSIONS, ROLE, USER_ID, UserRecord};
use super::{StoreError, is_throttling_code, string_attribute};
use crate::backoff::full_jitter;
use crate::domain::PermissionSet;

/// The most permissions one user may hold (SPEC's limit). At the longest permission this
/// service accepts, 1,000 of them stay far under DynamoDB's 400 KB item limit, so the item limit
/// is never what answers.
pub const MAX_PERMISSIONS_PER_USER: usize = 1_000;

/// The refusal of a grant that would pass [`MAX_PERMISSIONS_PER_USER`], in words a caller can act
/// on; each API wraps it in its own error shape.
pub fn limit_message(would_hold: usize) -> String {
    format!(
        "A user can hold at most {MAX_PERMISSIONS_PER_USER} permissions; this grant would bring the user to {would_hold}."
    )
}

/// How long a change keeps retrying transactions DynamoDB cancelled for a transient reason (a
/// concurrent transaction on the same caller or target, throttling), with jittered backoff. One
/// caller's simultaneous changes meet on its own item and go through one at a time, so the budget
/// is time, not a count: measured through the conflict emulator (docs/operations.md), 16 at once
/// all land well within it. It fits the request's own budget (the Lambda timeout less 1 s).
const CONTENTION_BUDGET: Duration = Duration::from_secs(3);
/// A bound on attempts whatever the clock says, including those re-judged on what the target holds.
const MAX_ATTEMPTS: u32 = 40;
/// How long one attempt is resent while DynamoDB says it is still in progress, from its first
/// sending. The SDK's documentation of `TransactionInProgressException` asks for a retry more
/// than 5 s after the first attempt, so that the retry "triggers completion"; this leaves one,
/// and with [`CONTENTION_BUDGET`] stays within the request's own budget (the Lambda timeout less
/// 1 s).
const IN_PROGRESS_BUDGET: Duration = Duration::from_secs(6);

/// A `TransactWriteItems` call's result, as the SDK gives it.
type Sent = Result<
    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput,
    aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
>;

/// What the caller must still hold when the write commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerRight<'a> {
    /// Org endpoint: the caller is in `org_uuid` and holds `right_uuid` (a permission whose
    /// catalog entry, read in this request, carries the right's codename).
    OrgEditor { org_uuid: &'a str, right_uuid: &'a str },
    /// Admin endpoint: the caller's `role` is `admin`.
    Admin,
}

impl CallerRight<'_> {
    fn is_held_by(&self, user: &UserRecord) -> bool {
        match self {
            CallerRight::OrgEditor { org_uuid, right_uuid } => {
                user.org_uuid.as_deref() == Some(*org_uuid) && user.permissions.iter().any(|p| p == right_uuid)
            }
            CallerRight::Admin => user.is_admin(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub action: Action,
    pub caller_id: &'a str,
    pub caller_right: CallerRight<'a>,
    /// The hash of the API key the caller authenticated with, when it used one: the key must
    /// still exist, belong to the caller and be unexpired when the write commits.
    pub caller_key_hash: Option<&'a str>,
    pub target_user_id: &'a str,
    pub permissions: &'a PermissionSet,
    /// The binary that makes the change, for the audit trail.
    pub endpoint: &'static str,
    pub request_id: &'a str,
    /// The caller's `Idempotency-Key` claim, when it sent one: written with the change, so a
    /// retry is answered from it.
    pub idempotency: Option<&'a Claim>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// The target's set is changed and the audit record is written. `changed` is false when
    /// nothing needed changing: a grant's target held all of them, a revoke's none.
    Applied { changed: bool },
    /// The target does not exist or is out of the caller's scope (another organization).
    TargetNotFound,
    /// The caller no longer exists, or its API key was revoked or expired in the meantime.
    CallerUnknown,
    /// The caller exists but lost the right it was authorized with.
    CallerForbidden,
    /// A grant would take the target past [`MAX_PERMISSIONS_PER_USER`]; nothing was written.
    LimitExceeded { would_hold: usize },
    /// The caller's key already answered this very request: its first answer, nothing written.
    Replayed(StoredAnswer),
    /// The caller's key already answered another request; nothing was written.
    KeyReused,
    /// Another request under the caller's key was still in flight for the whole contention
    /// budget; nothing was written.
    KeyInUse,
}

#[derive(Debug, Clone)]
pub struct Changes {
    client: Client,
    users_table: String,
    audit_table: String,
    /// The API keys, for changes whose caller authenticated with one.
    tokens_table: Option<String>,
    /// The first answers to `Idempotency-Key`s, for changes that carry a claim.
    idempotency_table: Option<String>,
    /// Set where this process's changes to one user must take turns ([`Changes::taking_turns`]).
    turns: Option<Arc<Turns>>,
}

/// Per target user, the change of this process that may send its transactions now.
#[derive(Debug, Default)]
struct Turns {
    users: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A change's turn on its target: held for the whole change, released on drop.
struct Turn<'a> {
    turns: &'a Turns,
    user_id: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Turns {
    async fn take(&self, user_id: &str) -> Turn<'_> {
        let turn = {
            let mut users = self.users.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            users.entry(user_id.to_owned()).or_default().clone()
        };
        Turn { turns: self, user_id: user_id.to_owned(), guard: Some(turn.lock_owned().await) }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut users = self.turns.users.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // The map's and this guard's are the only holders: nobody waits, so the entry goes.
        if users.get(&self.user_id).is_some_and(|turn| Arc::strong_count(turn) <= 2) {
            users.remove(&self.user_id);
        }
        self.guard.take();
    }
}

/// What an attempt assumes about the target, and so what its condition requires.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expectation {
    /// Nothing known. A grant: at least one permission is new, and there is room for all of
    /// them. A revoke: at least one is held.
    Unknown,
    /// The target held `held` of the requested permissions and not `missing`: `held` must still
    /// be there, and for a grant some of `missing` still missing, with room for all of them.
    Holds { held: Vec<String>, missing: Vec<String> },
    /// Nothing would change (a grant's target holds them all, a revoke's none): a no-op, still
    /// audited, that requires it is still so.
    NoChange,
}

impl Expectation {
    fn changes_something(&self) -> bool {
        !matches!(self, Expectation::NoChange)
    }
}

/// Where each condition sits among the transaction's items, to read its cancellation reason.
#[derive(Debug, Clone, Copy)]
struct Layout {
    key: Option<usize>,
    caller: Option<usize>,
    claim: Option<usize>,
    target: usize,
    audit: usize,
}

impl Changes {
    pub fn new(client: Client, users_table: String, audit_table: String) -> Self {
        Self { client, users_table, audit_table, tokens_table: None, idempotency_table: None, turns: None }
    }

    /// This process's changes to one user take turns: for a process that serves many requests
    /// at once over a store that, unlike DynamoDB, runs transactions on one item side by side
    /// (DynamoDB Local, under `local-api`). DynamoDB cancels all but one of them
    /// (`TransactionConflict`), so changes to one user commit one at a time, in about the order
    /// their event ids were made; side by side, they commit in any order, and the audit order
    /// rule turns each overtaking into a failed attempt, cascading under load. A Lambda process
    /// serves one request at a time and has no use for this.
    pub fn taking_turns(mut self) -> Self {
        self.turns = Some(Arc::default());
        self
    }

    /// Changes that carry an `Idempotency-Key` claim write it to this table.
    pub fn with_idempotency(mut self, idempotency_table: String) -> Self {
        self.idempotency_table = Some(idempotency_table);
        self
    }

    /// Changes by API-key callers re-check the key in the transaction.
    pub fn with_tokens(mut self, tokens_table: String) -> Self {
        self.tokens_table = Some(tokens_table);
        self
    }

    /// The items of a change's first attempt, exactly as [`Changes::apply`] sends them: for a
    /// baseline that cannot drift from production (the benchmark's direct SDK call).
    pub fn first_attempt(&self, change: &Change<'_>, event_id: &str) -> Result<Vec<TransactWriteItem>, StoreError> {
        Ok(self.transact_items(change, event_id, &Expectation::Unknown)?.0)
    }

    /// The items of the attempt [`Changes::apply`] sends when the first was cancelled because
    /// nothing would change (a grant's target holds them all, a revoke's none): the audited no-op.
    /// For the benchmark's direct SDK call, as [`Changes::first_attempt`].
    pub fn no_change_attempt(&self, change: &Change<'_>, event_id: &str) -> Result<Vec<TransactWriteItem>, StoreError> {
        Ok(self.transact_items(change, event_id, &Expectation::NoChange)?.0)
    }

    pub async fn apply(&self, change: &Change<'_>) -> Result<ChangeOutcome, StoreError> {
        let _turn = match &self.turns {
            Some(turns) => Some(turns.take(change.target_user_id).await),
            None => None,
        };
        let mut expectation = Expectation::Unknown;
        // The target's last event id, when an attempt found it not before its own.
        let mut floor: Option<String> = None;
        let started = Instant::now();
        let mut throttled = false;
        // The key's own record in another request's transaction: that request is in flight.
        let mut claim_contended = false;
        let mut attempt = 0;
        while attempt < MAX_ATTEMPTS {
            attempt += 1;
            // Each attempt is built afresh, with a new audit event id: a UUIDv7, after the
            // target's last one when an attempt found that it was not (see `event_id_after`).
            // An attempt is only built again once DynamoDB cancelled the last, so that one never
            // committed.
            let event_id = event_id_after(floor.as_deref())?;
            let (items, layout) = self.transact_items(change, &event_id, &expectation)?;
            let result = self.send_until_resolved(items, &event_id).await?;
            let error = match result {
                Ok(_) => return Ok(ChangeOutcome::Applied { changed: expectation.changes_something() }),
                Err(error) => error,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error()
            else {
                return Err(StoreError::sdk("TransactWriteItems", &error));
            };
            let reasons = cancelled.cancellation_reasons();
            let overtaken = target_event_id_not_before(reasons, layout, &event_id)?;
            let was_overtaken = overtaken.is_some();
            if overtaken.is_some() {
                floor = overtaken;
            }
            match classify(reasons, change, layout)? {
                Some(Judged::Answer(outcome)) => return Ok(outcome),
                Some(Judged::Expect(next)) if !was_overtaken => {
                    // The target is not what this attempt assumed: build the next from what it
                    // holds, and send it at once.
                    expectation = next;
                    continue;
                }
                Some(Judged::Expect(next)) => {
                    // Another change to the target committed after this attempt was built: it
                    // is contention, as a TransactionConflict is, and is paced like one. Sent at
                    // once, the attempts of many concurrent changes to one user would keep
                    // overtaking each other where nothing else makes them take turns (DynamoDB
                    // Local, which never cancels for a conflict).
                    expectation = next;
                    let pause = full_jitter(attempt - 1);
                    if started.elapsed() + pause > CONTENTION_BUDGET {
                        break;
                    }
                    tokio::time::sleep(pause).await;
                    continue;
                }
                None => {}
            }
            if !reasons.iter().any(is_transient) {
                return Err(StoreError::sdk("TransactWriteItems", &error));
            }
            throttled |= reasons.iter().any(|reason| reason.code().is_some_and(is_throttling_code));
            claim_contended |= layout
                .claim
                .and_then(|index| reasons.get(index))
                .is_some_and(|reason| reason.code() == Some("TransactionConflict"));
            let pause = full_jitter(attempt - 1);
            if started.elapsed() + pause > CONTENTION_BUDGET {
                break;
            }
            tokio::time::sleep(pause).await;
        }
        if claim_contended && !throttled {
            return Ok(ChangeOutcome::KeyInUse);
        }
        // Contention and throttling both clear by themselves: the caller hears 503 with
        // Retry-After, as for throttling, and nothing was written.
        let cause = if throttled { "throttled" } else { "contended (TransactionConflict)" };
        let detail = format!("still {cause} after {attempt} attempts in {} ms", started.elapsed().as_millis());
        Err(StoreError::throttled("TransactWriteItems", detail))
    }

    /// Sends one attempt under its own `ClientRequestToken` (its event id, unique to it), and
    /// again, the very same items under the same token, for as long as DynamoDB answers
    /// `TransactionInProgressException`: the SDK resends an attempt that outlived its timeout, and
    /// DynamoDB says so while the first is still running. Once that one ends, a resend is answered
    /// as its outcome (a commit is answered as the commit, never applied again), so the change is
    /// answered as what it did. The items are resent, not rebuilt: they carry the attempt's time
    /// (`:now`), and another request under the same token would be refused as a different one.
    /// Past [`IN_PROGRESS_BUDGET`] the outcome is unknown: a 500, as for any lost answer.
    async fn send_until_resolved(&self, items: Vec<TransactWriteItem>, token: &str) -> Result<Sent, StoreError> {
        let started = Instant::now();
        let mut resends = 0;
        loop {
            let request = self.client.transact_write_items().set_transact_items(Some(items.clone()));
            let result = request.client_request_token(token).send().await;
            let in_progress = result
                .as_ref()
                .err()
                .and_then(|error| error.as_service_error())
                .is_some_and(|error| matches!(error, TransactWriteItemsError::TransactionInProgressException(_)));
            if !in_progress {
                return Ok(result);
            }
            let pause = full_jitter(resends);
            if started.elapsed() + pause > IN_PROGRESS_BUDGET {
                let detail = format!(
                    "still in progress after {resends} resends in {} ms: it may yet commit",
                    started.elapsed().as_millis()
                );
                return Err(StoreError::new("TransactWriteItems", detail));
            }
            resends += 1;
            tokio::time::sleep(pause).await;
        }
    }

    /// The transaction's parts, in order: the key check, the caller check, the target's update,
    /// the audit record.
    fn transact_items(
        &self,
        change: &Change<'_>,
        event_id: &str,
        expectation: &Expectation,
    ) -> Result<(Vec<TransactWriteItem>, Layout), StoreError> {
        let self_change = change.caller_id == change.target_user_id;
        let mut items = Vec::with_capacity(4);
        let mut layout = Layout { key: None, caller: None, claim: None, target: 0, audit: 0 };
        if let Some(key_hash) = change.caller_key_hash {
            layout.key = Some(items.len());
            items.push(self.key_check(key_hash, change.caller_id)?);
        }
        let right = RightCondition::of(&change.caller_right);
        let folded_right = if self_change {
            // DynamoDB rejects two operations on one item in a transaction, so a change to the
            // caller's own set folds its right into the update's own condition instead.
            Some(right)
        } else {
            layout.caller = Some(items.len());
            items.push(self.caller_check(change.caller_id, right)?);
            None
        };
        if let Some(claim) = change.idempotency {
            layout.claim = Some(items.len());
            items.push(self.claim_put(claim)?);
        }
        layout.target = items.len();
        items.push(self.target_update(change, expectation, event_id, folded_right)?);
        layout.audit = items.len();
        items.push(self.audit_put(change, event_id)?);
        Ok((items, layout))
    }

    /// The caller's API key still exists, is the caller's, and is unexpired. The read path treats
    /// a NULL expiry as none and any other non-number as expired; so does this.
    fn key_check(&self, key_hash: &str, caller_id: &str) -> Result<TransactWriteItem, StoreError> {
        let table = self.tokens_table.as_deref().ok_or_else(|| {
            StoreError::new("TransactWriteItems (building the request)", "an API-key change needs the tokens table")
        })?;
        let check = ConditionCheck::builder()
            .table_name(table)
            .key(TOKEN_HASH, string_attribute(key_hash))
            .condition_expression(
                "#user_id = :caller AND (attribute_not_exists(#expires_at) \
                 OR attribute_type(#expires_at, :null_type) OR #expires_at > :now)",
            )
            .expression_attribute_names("#user_id", super::tokens::USER_ID)
            .expression_attribute_names("#expires_at", EXPIRES_AT)
            .expression_attribute_values(":caller", string_attribute(caller_id))
            .expression_attribute_values(":null_type", string_attribute("NULL"))
            .expression_attribute_values(":now", AttributeValue::N(epoch_seconds_now()))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// The caller's right rides in the transaction: a right revoked after our read still stops
    /// this write. ALL_OLD tells a deleted caller (no item) from a demoted one.
    fn caller_check(&self, caller_id: &str, right: RightCondition) -> Result<TransactWriteItem, StoreError> {
        let mut check = ConditionCheck::builder()
            .table_name(&self.users_table)
            .key(USER_ID, string_attribute(caller_id))
            .condition_expression(format!("attribute_exists(#user_id) AND {}", right.expression))
            .expression_attribute_names("#user_id", USER_ID)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (name, value) in right.values {
            check = check.expression_attribute_values(name, value);
        }
        for (placeholder, attribute) in right.names {
            check = check.expression_attribute_names(placeholder, attribute);
        }
        Ok(TransactWriteItem::builder().condition_check(check.build().map_err(build_error)?).build())
    }

    /// `ADD` or `DELETE` of the permissions on the target, conditional on what the attempt expects.
    fn target_update(
        &self,
        change: &Change<'_>,
        expectation: &Expectation,
        event_id: &str,
        folded_right: Option<RightCondition>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut target = TargetCondition::new(change, expectation, event_id);
        if let Some(right) = folded_right {
            target.clauses.push(right.expression);
            target.values.extend(right.values);
            target.names.extend(right.names);
        }
        let verb = match change.action {
            Action::Grant => "ADD #p :changed SET #last = :event_id",
            Action::Revoke => "DELETE #p :changed SET #last = :event_id",
        };
        let mut update = Update::builder()
            .table_name(&self.users_table)
            .key(USER_ID, string_attribute(change.target_user_id))
            .update_expression(verb)
            .condition_expression(target.clauses.join(" AND "))
            .expression_attribute_values(":changed", AttributeValue::Ss(change.permissions.as_slice().to_vec()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (name, value) in target.values {
            update = update.expression_attribute_values(name, value);
        }
        for (placeholder, attribute) in target.names {
            update = update.expression_attribute_names(placeholder, attribute);
        }
        Ok(TransactWriteItem::builder().update(update.build().map_err(build_error)?).build())
    }

    /// The key's record, unless the key already has one that has not expired (DynamoDB's TTL
    /// deletes late). ALL_OLD returns that one, to answer from it.
    fn claim_put(&self, claim: &Claim) -> Result<TransactWriteItem, StoreError> {
        let table = self.idempotency_table.as_deref().ok_or_else(|| {
            StoreError::new("TransactWriteItems (building the request)", "an idempotent change needs its table")
        })?;
        let now = SystemTime::now();
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(claim.to_item(now)))
            .condition_expression("attribute_not_exists(#key) OR #expires_at < :now")
            .expression_attribute_names("#key", IDEMPOTENCY_KEY)
            .expression_attribute_names("#expires_at", IDEMPOTENCY_EXPIRES_AT)
            .expression_attribute_values(":now", AttributeValue::N(epoch_seconds(now).to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Audit records are never overwritten: a Put that finds its item is refused.
    fn audit_put(&self, change: &Change<'_>, event_id: &str) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.audit_table)
            .set_item(Some(audit_record(change, event_id).to_item()))
            .condition_expression("attribute_not_exists(#event_id)")
            .expression_attribute_names("#event_id", AUDIT_EVENT_ID)
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

fn build_error(error: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::build("TransactWriteItems (building the request)", &error)
}

/// Seconds since the epoch with milliseconds, as DynamoDB compares numbers exactly: a key
/// expiring within the current second is already refused, as on the read path (`now < expiry`).
fn epoch_seconds_now() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:03}", now.as_secs(), now.subsec_millis())
}

type Values = Vec<(String, AttributeValue)>;
type Names = Vec<(&'static str, &'static str)>;

/// The caller's right as a condition on its user item.
struct RightCondition {
    expression: String,
    values: Values,
    names: Names,
}

impl RightCondition {
    fn of(right: &CallerRight<'_>) -> Self {
        match right {
            CallerRight::OrgEditor { org_uuid, right_uuid } => Self {
                // attribute_type first: on a string, contains() would match a substring.
                expression: "#org_uuid = :caller_org AND attribute_type(#p, :set_type) AND contains(#p, :right)"
                    .to_owned(),
                values: vec![
                    (":caller_org".to_owned(), string_attribute(org_uuid)),
                    (":right".to_owned(), string_attribute(right_uuid)),
                    (":set_type".to_owned(), string_attribute("SS")),
                ],
                names: vec![("#org_uuid", ORG_UUID), ("#p", PERMISSIONS)],
            },
            CallerRight::Admin => Self {
                expression: "#role = :admin".to_owned(),
                values: vec![(":admin".to_owned(), string_attribute(ADMIN_ROLE))],
                names: vec![("#role", ROLE)],
            },
        }
    }
}

/// The target's condition: it exists, is in scope, and is what the attempt's expectation says.
/// DynamoDB allows 300 operators and 4 KB in an expression: with 100 permissions the largest
/// (one `contains` each, joined by AND) stays near 210 operators and 2.5 KB, thanks to short
/// placeholders.
struct TargetCondition {
    clauses: Vec<String>,
    values: Values,
    names: Names,
}

impl TargetCondition {
    fn new(change: &Change<'_>, expectation: &Expectation, event_id: &str) -> Self {
        // The target's last event id before this one: per target user, committed event ids rise
        // in commit order, so the audit trail's order is the order the changes were made in.
        let mut condition = Self {
            clauses: vec![
                "attribute_exists(#user_id)".to_owned(),
                "(attribute_not_exists(#last) OR #last < :event_id)".to_owned(),
            ],
            values: vec![(":event_id".to_owned(), string_attribute(event_id))],
            names: vec![("#user_id", USER_ID), ("#p", PERMISSIONS), ("#last", LAST_EVENT_ID)],
        };
        if let CallerRight::OrgEditor { org_uuid, .. } = change.caller_right {
            condition.clauses.push("#org_uuid = :target_org".to_owned());
            condition.values.push((":target_org".to_owned(), string_attribute(org_uuid)));
            condition.names.push(("#org_uuid", ORG_UUID));
        }
        let requested = change.permissions.as_slice();
        match (change.action, expectation) {
            (Action::Grant, Expectation::Unknown) => {
                // "Not all held", not "any one missing": one NOT instead of 100.
                let all = condition.joined("n", requested, " AND ");
                condition.clauses.push(format!("NOT ({all})"));
                condition.room_for(requested.len());
            }
            (Action::Grant, Expectation::Holds { held, missing }) => {
                if !held.is_empty() {
                    let still_held = condition.joined("h", held, " AND ");
                    condition.clauses.push(still_held);
                }
                let none_added = condition.joined("n", missing, " AND ");
                condition.clauses.push(format!("NOT ({none_added})"));
                condition.room_for(missing.len());
            }
            (Action::Grant, Expectation::NoChange) => {
                let all = condition.joined("h", requested, " AND ");
                condition.clauses.push(all);
            }
            // attribute_type first, for a revoke as for the caller's right: on a string,
            // contains() would match a substring.
            (Action::Revoke, Expectation::Unknown) => {
                let any = condition.joined("h", requested, " OR ");
                condition.clauses.push(format!("attribute_type(#p, :set_type) AND ({any})"));
                condition.values.push((":set_type".to_owned(), string_attribute("SS")));
            }
            (Action::Revoke, Expectation::Holds { held, .. }) => {
                let still_held = condition.joined("h", held, " AND ");
                condition.clauses.push(format!("attribute_type(#p, :set_type) AND {still_held}"));
                condition.values.push((":set_type".to_owned(), string_attribute("SS")));
            }
            (Action::Revoke, Expectation::NoChange) => {
                let any = condition.joined("h", requested, " OR ");
                condition
                    .clauses
                    .push(format!("(attribute_not_exists(#p) OR (attribute_type(#p, :set_type) AND NOT ({any})))"));
                condition.values.push((":set_type".to_owned(), string_attribute("SS")));
            }
        }
        condition
    }

    /// `contains(#p, :<prefix>0)<operator>...`, with the values bound.
    fn joined(&mut self, prefix: &str, permissions: &[String], operator: &str) -> String {
        let mut clauses = Vec::with_capacity(permissions.len());
        for (index, permission) in permissions.iter().enumerate() {
            let placeholder = format!(":{prefix}{index}");
            clauses.push(format!("contains(#p, {placeholder})"));
            self.values.push((placeholder, string_attribute(permission)));
        }
        clauses.join(operator)
    }

    /// Room for `adding` more under the per-user limit. A stored `permissions` of another type
    /// than a String Set fails this (rather than making the ADD a ValidationException).
    fn room_for(&mut self, adding: usize) {
        let room = MAX_PERMISSIONS_PER_USER.saturating_sub(adding);
        self.clauses
            .push("(attribute_not_exists(#p) OR (attribute_type(#p, :set_type) AND size(#p) <= :room))".to_owned());
        self.values.push((":set_type".to_owned(), string_attribute("SS")));
        self.values.push((":room".to_owned(), AttributeValue::N(room.to_string())));
    }
}

/// A new event id: a UUIDv7 of now, or when `floor` (the target's last event id, found not
/// before an attempt's own) is not behind the clock, of the millisecond after it, with random
/// bits: either way after `floor`, since a UUIDv7 sorts by its millisecond first. The clock is
/// behind `floor` when the attempt was resent by the SDK after another change committed (the
/// resend keeps its first event id) or when another function's clock runs ahead of this one's.
/// `uuid`'s `now_v7` is monotonic within the process, so this process's own ids rise anyway.
fn event_id_after(floor: Option<&str>) -> Result<String, StoreError> {
    let now = uuid::Uuid::now_v7();
    let Some(floor) = floor else { return Ok(now.to_string()) };
    let Some(floor_millis) = uuid::Uuid::parse_str(floor).ok().as_ref().and_then(v7_millis) else {
        // Data no request of ours writes, and no event id could pass: an operator must look.
        return Err(StoreError::new(
            "TransactWriteItems",
            format!("the target's {LAST_EVENT_ID} {floor:?} is not an event id"),
        ));
    };
    if v7_millis(&now).is_some_and(|millis| millis > floor_millis) {
        return Ok(now.to_string());
    }
    let millis = floor_millis.saturating_add(1);
    let nanos = u32::try_from((millis % 1_000) * 1_000_000).unwrap_or_default();
    Ok(uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, millis / 1_000, nanos)).to_string())
}

/// The epoch milliseconds of a UUIDv7; `None` for any other UUID.
fn v7_millis(id: &uuid::Uuid) -> Option<u64> {
    if id.get_version_num() != 7 {
        return None;
    }
    let (seconds, nanos) = id.get_timestamp()?.to_unix();
    Some(seconds.saturating_mul(1_000).saturating_add(u64::from(nanos / 1_000_000)))
}

/// The time an event id carries: the audit record's `at`, so that `at` follows the trail's order.
fn event_time(event_id: &str) -> SystemTime {
    let millis = uuid::Uuid::parse_str(event_id).ok().as_ref().and_then(v7_millis);
    millis.map_or_else(SystemTime::now, |millis| UNIX_EPOCH + Duration::from_millis(millis))
}

/// The target's last event id, when the target's condition failed and it is not before this
/// attempt's: the next attempt's must pass it. A stored one that is not a string fails every
/// attempt's condition: a 500, for an operator to look at.
fn target_event_id_not_before(
    reasons: &[CancellationReason],
    layout: Layout,
    event_id: &str,
) -> Result<Option<String>, StoreError> {
    let item = reasons
        .get(layout.target)
        .filter(|reason| reason.code() == Some(CONDITION_FAILED))
        .and_then(CancellationReason::item);
    match item.and_then(|item| item.get(LAST_EVENT_ID)) {
        None => Ok(None),
        Some(AttributeValue::S(last)) => Ok((last.as_str() >= event_id).then(|| last.clone())),
        Some(_) => Err(StoreError::new("TransactWriteItems", format!("the target's {LAST_EVENT_ID} is not a string"))),
    }
}

fn audit_record(change: &Change<'_>, event_id: &str) -> AuditRecord {
    AuditRecord {
        user_id: change.target_user_id.to_owned(),
        event_id: event_id.to_owned(),
        action: change.action,
        actor_id: change.caller_id.to_owned(),
        endpoint: change.endpoint.to_owned(),
        permissions: change.permissions.as_slice().to_vec(),
        at: humantime::format_rfc3339_millis(event_time(event_id)).to_string(),
        request_id: change.request_id.to_owned(),
        org_uuid: match change.caller_right {
            CallerRight::OrgEditor { org_uuid, .. } => Some(org_uuid.to_owned()),
            CallerRight::Admin => None,
        },
    }
}

const CONDITION_FAILED: &str = "ConditionalCheckFailed";

fn is_transient(reason: &CancellationReason) -> bool {
    reason.code().is_some_and(|code| code == "TransactionConflict" || is_throttling_code(code))
}

enum Judged {
    Answer(ChangeOutcome),
    /// The target is there and in scope but not as the attempt assumed: try again expecting this.
    Expect(Expectation),
}

/// Turns failed conditions into answers. The caller's checks win over the target's: a caller
/// without the right learns nothing about the target. `Ok(None)` means no condition failed (the
/// cancellation was transient or unexpected).
fn classify(reasons: &[CancellationReason], change: &Change<'_>, layout: Layout) -> Result<Option<Judged>, StoreError> {
    let failed = |index: Option<usize>| {
        index.and_then(|index| reasons.get(index)).filter(|reason| reason.code() == Some(CONDITION_FAILED))
    };
    if failed(layout.key).is_some() {
        return Ok(Some(Judged::Answer(ChangeOutcome::CallerUnknown)));
    }
    if let Some(reason) = failed(layout.caller) {
        return Ok(Some(Judged::Answer(match reason.item() {
            None => ChangeOutcome::CallerUnknown,
            Some(_) => ChangeOutcome::CallerForbidden,
        })));
    }
    if failed(Some(layout.audit)).is_some() {
        // Every attempt has an event id of its own, and the SDK's resends of one attempt carry
        // its ClientRequestToken (answered as the first, never evaluated again): no attempt of
        // this change can have written the record. Something else did, and nothing of this
        // change committed, so a 200 would be false.
        return Err(StoreError::new(
            "TransactWriteItems",
            format!("an audit record of user {} already has this attempt's event id", change.target_user_id),
        ));
    }
    let self_change = layout.caller.is_none();
    if let Some(reason) = failed(layout.claim) {
        // A caller changing its own set has its right in the target's condition: judged first.
        if self_change && let Some(target) = failed(Some(layout.target)) {
            match target.item().and_then(UserRecord::from_item) {
                None => return Ok(Some(Judged::Answer(ChangeOutcome::CallerUnknown))),
                Some(user) if !change.caller_right.is_held_by(&user) => {
                    return Ok(Some(Judged::Answer(ChangeOutcome::CallerForbidden)));
                }
                Some(_) => {}
            }
        }
        let stored = reason.item().and_then(StoredAnswer::from_item);
        let claimed = change.idempotency.map(|claim| claim.fingerprint.as_str());
        return Ok(Some(Judged::Answer(match stored {
            Some(stored) if Some(stored.fingerprint.as_str()) == claimed => ChangeOutcome::Replayed(stored),
            _ => ChangeOutcome::KeyReused,
        })));
    }
    let Some(reason) = failed(Some(layout.target)) else { return Ok(None) };
    let Some(item) = reason.item() else {
        return Ok(Some(Judged::Answer(if self_change {
            ChangeOutcome::CallerUnknown
        } else {
            ChangeOutcome::TargetNotFound
        })));
    };
    let Some(target) = UserRecord::from_item(item) else {
        return Ok(Some(Judged::Answer(ChangeOutcome::TargetNotFound)));
    };
    if self_change && !change.caller_right.is_held_by(&target) {
        return Ok(Some(Judged::Answer(ChangeOutcome::CallerForbidden)));
    }
    if !in_scope(&change.caller_right, &target) {
        return Ok(Some(Judged::Answer(ChangeOutcome::TargetNotFound)));
    }
    if !matches!(item.get(PERMISSIONS), None | Some(AttributeValue::Ss(_))) {
        // Data no request of ours writes: nothing is changed on top of it, and an operator must
        // look (a 500 with this in the log), rather than a 404 that would send the caller astray.
        return Err(StoreError::new(
            "TransactWriteItems",
            format!("user {}'s stored permissions are not a String Set", change.target_user_id),
        ));
    }
    let (held, missing): (Vec<String>, Vec<String>) =
        change.permissions.as_slice().iter().cloned().partition(|permission| target.permissions.contains(permission));
    match change.action {
        Action::Grant if missing.is_empty() => Ok(Some(Judged::Expect(Expectation::NoChange))),
        Action::Grant => {
            let would_hold = target.permissions.len() + missing.len();
            if would_hold > MAX_PERMISSIONS_PER_USER {
                return Ok(Some(Judged::Answer(ChangeOutcome::LimitExceeded { would_hold })));
            }
            Ok(Some(Judged::Expect(Expectation::Holds { held, missing })))
        }
        Action::Revoke if held.is_empty() => Ok(Some(Judged::Expect(Expectation::NoChange))),
        Action::Revoke => Ok(Some(Judged::Expect(Expectation::Holds { held, missing }))),
    }
}

fn in_scope(right: &CallerRight<'_>, target: &UserRecord) -> bool {
    match right {
        CallerRight::OrgEditor { org_uuid, .. } => target.org_uuid.as_deref() == Some(*org_uuid),
        CallerRight::Admin => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v7_at(millis: u64) -> String {
        let nanos = u32::try_from((millis % 1_000) * 1_000_000).unwrap();
        uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, millis / 1_000, nanos)).to_string()
    }

    fn now_millis() -> u64 {
        u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
    }

    #[test]
    fn an_event_id_passes_its_floor_by_the_clock_or_by_one_millisecond() {
        // A floor behind the clock: the clock's id.
        let behind = v7_at(now_millis() - 60_000);
        let id = event_id_after(Some(&behind)).unwrap();
        assert!(id > behind);
        assert!(event_time(&id) >= SystemTime::now() - Duration::from_secs(1));
        // A floor ahead of the clock, whatever its random bits: the millisecond after it.
        let ahead_millis = now_millis() + 3_600_000;
        for _ in 0..200 {
            let ahead = v7_at(ahead_millis);
            let id = event_id_after(Some(&ahead)).unwrap();
            assert!(id > ahead, "{id} <= {ahead}");
            assert_eq!(event_time(&id), UNIX_EPOCH + Duration::from_millis(ahead_millis + 1));
        }
        // Without a floor, ids of this process still rise.
        let ids: Vec<String> = (0..1_000).map(|_| event_id_after(None).unwrap()).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[tokio::test]
    async fn changes_to_one_user_take_turns_and_leave_nothing_behind() {
        let turns = Turns::default();
        let first = turns.take("u").await;
        let other_user = turns.take("v").await;
        let second = turns.take("u");
        tokio::pin!(second);
        assert!(ready_soon(second.as_mut()).await.is_none(), "the second change to u must wait");
        drop(first);
        let second = second.await;
        drop((second, other_user));
        assert!(turns.users.lock().unwrap().is_empty());
    }

    /// `future`'s output if it is ready within 20 ms; `None` while it waits.
    async fn ready_soon<F: std::future::Future + Unpin>(future: F) -> Option<F::Output> {
        tokio::time::timeout(Duration::from_millis(20), future).await.ok()
    }

    #[test]
    fn a_floor_that_is_not_an_event_id_is_an_error() {
        for floor in ["zzz", "", "00000000-0000-4000-8000-000000000000"] {
            assert!(event_id_after(Some(floor)).is_err(), "{floor}");
        }
    }
}
