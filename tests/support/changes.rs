//! The change endpoints as one kind, for test bodies written once and run for add and for
//! remove: what a change does to a user's set, and the words its log lines and stored audit
//! records use for it. All of it follows from the endpoint's own `ACTIVITY`, so a new change
//! endpoint needs nothing here.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;
use permissions_service::frame::Endpoint;
use permissions_service::store::audit::{Action, AuditRecord};
use permissions_service::telemetry::log::Activity;

use super::events::Event;
use super::logs::{assert_has, lines_of};
use super::world::TestEnv;

/// What the change endpoint `E` does to a set.
pub fn action<E: Endpoint>() -> Action {
    match E::ACTIVITY {
        Activity::Change(action) => action,
        Activity::Read => panic!("{} is a read, not a change", E::ROUTE.binary),
    }
}

/// The set `held` becomes when `E` changes it by `requested` (both as stored): sorted, each
/// permission once.
pub fn after<E: Endpoint>(held: &[&str], requested: &[&str]) -> Vec<String> {
    let mut set: Vec<&str> = match action::<E>() {
        Action::Grant => held.iter().chain(requested).copied().collect(),
        Action::Revoke => held.iter().filter(|held| !requested.contains(held)).copied().collect(),
    };
    set.sort();
    set.dedup();
    set.into_iter().map(str::to_owned).collect()
}

/// The request line's outcome of a change that changed the set, and of one that did not.
pub fn outcomes(action: Action) -> (&'static str, &'static str) {
    match action {
        Action::Grant => ("granted", "already_held"),
        Action::Revoke => ("revoked", "not_held"),
    }
}

/// The message of a change's audit log line.
pub fn audit_line(action: Action) -> &'static str {
    match action {
        Action::Grant => "permissions granted",
        Action::Revoke => "permissions revoked",
    }
}

/// The attribute a stored audit record keeps its time under.
pub fn time_attribute(action: Action) -> &'static str {
    match action {
        Action::Grant => "granted_at",
        Action::Revoke => "revoked_at",
    }
}

/// The other action: what a change must never be logged or stored as.
pub fn opposite(action: Action) -> Action {
    match action {
        Action::Grant => Action::Revoke,
        Action::Revoke => Action::Grant,
    }
}

/// What a change's audit record says besides its own id and time.
pub struct Audited<'a> {
    pub target: &'a str,
    pub actor: &'a str,
    /// As the request named them, sorted and each once.
    pub permissions: &'a [&'a str],
    pub request_id: &'a str,
    pub org_uuid: Option<&'a str>,
}

impl TestEnv {
    /// Proves that `audited.target` has exactly one audit record, written by `E` and saying
    /// `audited`, with a version 7 event id and a time of the last minute, stored under `E`'s
    /// action with its time under that action's attribute. Returns the item as stored.
    pub async fn audited_once<E: Endpoint>(&self, audited: Audited<'_>) -> HashMap<String, AttributeValue> {
        let records = self.audit_of(audited.target).await;
        assert_eq!(records.len(), 1, "{records:?}");
        let record = &records[0];
        let expected = AuditRecord {
            user_id: audited.target.to_owned(),
            event_id: record.event_id.clone(),
            action: action::<E>(),
            actor_id: audited.actor.to_owned(),
            endpoint: E::ROUTE.binary.to_owned(),
            permissions: audited.permissions.iter().map(|permission| (*permission).to_owned()).collect(),
            at: record.at.clone(),
            request_id: audited.request_id.to_owned(),
            org_uuid: audited.org_uuid.map(str::to_owned),
        };
        assert_eq!(record, &expected);
        assert_eq!(uuid::Uuid::parse_str(&record.event_id).unwrap().get_version_num(), 7);
        assert!(record.at.ends_with('Z'), "{record:?}");
        let at = humantime::parse_rfc3339(&record.at).expect("an RFC 3339 time");
        assert!(SystemTime::now().duration_since(at).unwrap() < Duration::from_secs(60), "{record:?}");
        let item = self.audit_items_of(audited.target).await.remove(0);
        let stored = |name: &str| item.get(name).and_then(|value| value.as_s().ok()).cloned();
        let action = action::<E>();
        assert_eq!(stored("action").as_deref(), Some(action.as_str()), "{item:?}");
        assert_eq!(stored(time_attribute(action)).as_ref(), Some(&record.at), "{item:?}");
        assert!(!item.contains_key(time_attribute(opposite(action))), "{item:?}");
        item
    }
}

/// A log test's three requests to a change endpoint, in order: one that changed the set, one
/// that changed nothing, and one refused with `refused_status` and `refused_outcome`.
pub struct Logged<'a> {
    pub changed: &'a Event,
    pub no_op: &'a Event,
    pub refused: &'a Event,
    pub refused_status: u16,
    pub refused_outcome: &'a str,
    pub actor: &'a str,
    pub target: &'a str,
    /// The changed request's two permissions as its audit line lists them.
    pub permissions: &'a str,
}

/// Proves what `E` logged in `text` about `logged`'s requests: each a request line with its
/// endpoint, status, outcome and latency; the change and the no-op an audit line each, as `E`'s
/// action; the refusal none; and nothing logged as the opposite action.
pub fn assert_logged<E: Endpoint>(text: &str, logged: Logged<'_>) {
    let action = action::<E>();
    let (changed_outcome, no_op_outcome) = outcomes(action);
    let endpoint = format!("endpoint=\"{}\"", E::ROUTE.binary);
    let target = format!("target=\"{}\"", logged.target);
    let actor = format!("actor=\"{}\"", logged.actor);
    let audit = [audit_line(action), "log_type=\"audit\"", &format!("action=\"{}\"", action.as_str())];

    let lines = lines_of(text, &logged.changed.request_id);
    assert_eq!(lines.len(), 2, "a request line and an audit line: {text}");
    let outcome = format!("outcome=\"{changed_outcome}\"");
    assert_has(lines[0], &["request completed", &endpoint, "status=200", &outcome, &target]);
    assert_has(lines[0], &["latency_us=", "permissions_requested=2"]);
    assert_has(lines[1], &audit);
    let permissions = format!("permissions=\"{}\"", logged.permissions);
    assert_has(lines[1], &[&endpoint, &actor, &target, &permissions, "changed=true"]);

    let lines = lines_of(text, &logged.no_op.request_id);
    assert_eq!(lines.len(), 2, "a no-op is logged and audited too: {text}");
    assert_has(lines[0], &["request completed", "status=200", &format!("outcome=\"{no_op_outcome}\"")]);
    assert_has(lines[1], &audit);
    assert_has(lines[1], &["changed=false"]);

    let lines = lines_of(text, &logged.refused.request_id);
    assert_eq!(lines.len(), 1, "a refusal has no audit line: {text}");
    let status = format!("status={}", logged.refused_status);
    assert_has(lines[0], &["request completed", &status, &format!("outcome=\"{}\"", logged.refused_outcome)]);
    assert!(!text.contains(audit_line(opposite(action))), "{text}");
}
