//! Grants and removals of one user racing, through the conflict emulator (real DynamoDB's
//! `TransactionConflict`): every request is answered 200 (a 503, which the retry budget running
//! out on a loaded machine can give, must carry `Retry-After`; the request is then resent, as a
//! client would, and must not have written anything), each 200 has exactly one audit record,
//! and the final set is what the audit trail says happened: replaying the records in their
//! order (event id, the order the history endpoint lists them in) on the initial set gives the
//! final set. Some serial order of the changes must explain it in any case (each change is one
//! transaction); the trail's own order must be that order, or the history misleads its reader.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use permissions_service::store::audit::{Action, AuditRecord};
use serde_json::json;

use crate::conflict_emulator::ConflictEmulator;
use crate::support::fixtures::{admin, org};
use crate::support::{AdminAdd, AdminRemove, OrgAdd, OrgRemove};
use crate::support::{Event, TestEnv, now};

/// About a transaction's time in AWS, as in concurrency.rs.
const HOLD: Duration = Duration::from_millis(15);
/// Grants, and as many removals, at once.
const EACH: usize = 8;
/// The permissions the requests draw from; the target starts holding the first half.
const UNIVERSE: usize = 6;

/// One request of the race: what it asks, and how it was answered.
#[derive(Debug, Clone)]
struct Sent {
    /// Which API: the org one, or the admin one.
    org: bool,
    action: Action,
    permissions: Vec<String>,
    request_id: String,
}

/// The `index`th request's permissions: two of the universe, overlapping its neighbours' and
/// the other kind's, so that the order of the changes decides the final set.
fn permissions_of_request(universe: &[String], action: Action, index: usize) -> Vec<String> {
    let offset = if action == Action::Grant { 0 } else { 1 };
    let mut picked =
        vec![universe[(index + offset) % UNIVERSE].clone(), universe[(index + offset + 3) % UNIVERSE].clone()];
    picked.sort();
    picked
}

/// How a request was answered in the end, and how many 503s it was sent back with first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Answer {
    status: u16,
    /// 503s with `Retry-After` that the client waited out and sent the request again after.
    retried: u32,
}

/// A 503 is resent this many times at most, as a client told to retry would.
const MAX_SENDS: u32 = 10;

/// The race: all the requests sent at once, each resent after `Retry-After` (with jitter) when
/// answered 503 with one, as the docs tell a client to do. A 503 writes nothing, so a resent
/// request still makes one change at most. Each request's last answer.
async fn race(env: &Arc<TestEnv>, requests: Vec<(Sent, Event)>) -> Vec<(Sent, Answer)> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(sent, event)| {
            let env = env.clone();
            tokio::spawn(async move {
                let mut retried = 0;
                loop {
                    let request = event.http_api();
                    let response = match (sent.org, sent.action) {
                        (true, Action::Grant) => env.call::<OrgAdd>(request).await,
                        (true, Action::Revoke) => env.call::<OrgRemove>(request).await,
                        (false, Action::Grant) => env.call::<AdminAdd>(request).await,
                        (false, Action::Revoke) => env.call::<AdminRemove>(request).await,
                    };
                    let retry_after = response.headers.get("retry-after").and_then(|value| value.to_str().ok());
                    match (response.status, retry_after) {
                        (503, Some("1")) if retried + 1 < MAX_SENDS => {
                            retried += 1;
                            let jitter = Duration::from_millis(fastrand::u64(0..500));
                            tokio::time::sleep(Duration::from_secs(1) + jitter).await;
                        }
                        (status, _) => return (sent, Answer { status, retried }),
                    }
                }
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

/// The changes applied one after the other on `initial`.
fn replay(initial: &BTreeSet<String>, records: &[AuditRecord]) -> BTreeSet<String> {
    let mut held = initial.clone();
    for record in records {
        for permission in &record.permissions {
            match record.action {
                Action::Grant => held.insert(permission.clone()),
                Action::Revoke => held.remove(permission),
            };
        }
    }
    held
}

/// A serial order of `records` that takes `initial` to `fin`, if there is one. Built from the
/// end: a change can come last when, for every permission it names that no later change has
/// decided yet, it leaves that permission as `fin` has it. Choosing such a change only ever
/// removes constraints from the others, so the greedy choice finds an order whenever one exists.
fn some_serial_order(
    initial: &BTreeSet<String>,
    records: &[AuditRecord],
    fin: &BTreeSet<String>,
) -> Option<Vec<AuditRecord>> {
    let mut remaining: Vec<AuditRecord> = records.to_vec();
    let mut decided = BTreeSet::new();
    let mut reversed = Vec::with_capacity(records.len());
    while !remaining.is_empty() {
        let fits = |record: &AuditRecord| {
            record
                .permissions
                .iter()
                .filter(|permission| !decided.contains(*permission))
                .all(|permission| fin.contains(permission) == (record.action == Action::Grant))
        };
        let index = remaining.iter().position(fits)?;
        let record = remaining.remove(index);
        decided.extend(record.permissions.iter().cloned());
        reversed.push(record);
    }
    // Permissions no change touched are as they were.
    let touched: BTreeSet<&String> = records.iter().flat_map(|record| &record.permissions).collect();
    let untouched_agree =
        initial.iter().chain(fin).filter(|p| !touched.contains(p)).all(|p| initial.contains(p) == fin.contains(p));
    untouched_agree.then(|| reversed.into_iter().rev().collect())
}

fn trail(records: &[AuditRecord]) -> Vec<String> {
    records
        .iter()
        .map(|record| {
            format!("{} {} {:?} ({})", record.event_id, record.action.as_str(), record.permissions, record.at)
        })
        .collect()
}

/// A race that ran: the world, what the emulator saw, the target's initial set, every answer.
struct Raced {
    env: Arc<TestEnv>,
    emulator: ConflictEmulator,
    target: &'static str,
    initial: BTreeSet<String>,
    answers: Vec<(Sent, Answer)>,
}

impl Raced {
    async fn records(&self) -> Vec<AuditRecord> {
        self.env.audit_of(self.target).await
    }

    async fn final_set(&self) -> BTreeSet<String> {
        self.env.permissions_of(self.target).await.unwrap().into_iter().collect()
    }

    /// Every request answered 200 in the end (a 503 is resent after its `Retry-After`), one audit
    /// record per request naming it and what it asked, and a serial order of the changes that
    /// explains the final set: no change lost, doubled or half-applied.
    async fn assert_all_landed_and_serializable(&self) {
        let counts = self.emulator.counts();
        let retried: u32 = self.answers.iter().map(|(_, answer)| answer.retried).sum();
        let tally = format!(
            "{retried} 503s resent; {} transactions cancelled, {} forwarded",
            counts.transactions_cancelled, counts.transactions_forwarded
        );
        eprintln!("race on {}: {tally}", self.target);
        for (sent, answer) in &self.answers {
            assert_eq!(answer.status, 200, "{sent:?}: {answer:?} ({tally})");
        }
        assert!(counts.transactions_cancelled > 0, "the race must contend, or it proves nothing: {tally}");

        let records = self.records().await;
        let answered: BTreeMap<&str, &Sent> = self
            .answers
            .iter()
            .filter(|(_, answer)| answer.status == 200)
            .map(|(sent, _)| (sent.request_id.as_str(), sent))
            .collect();
        assert_eq!(records.len(), answered.len(), "exactly one audit record per 200: {:#?}", trail(&records));
        let ids: BTreeSet<&str> = records.iter().map(|record| record.request_id.as_str()).collect();
        assert_eq!(ids.len(), records.len(), "one record per request: {:#?}", trail(&records));
        for record in &records {
            let sent =
                answered.get(record.request_id.as_str()).unwrap_or_else(|| panic!("a record of no 200: {record:?}"));
            assert_eq!((record.action, &record.permissions), (sent.action, &sent.permissions), "{record:?}");
        }
        let fin = self.final_set().await;
        assert!(
            some_serial_order(&self.initial, &records, &fin).is_some(),
            "no serial order of the changes explains the final set {fin:?} from {:?}: {:#?}",
            self.initial,
            trail(&records)
        );
    }

    /// The audit trail, in its own order (event id: the history's order), replays on the initial
    /// set to the final set, and its times run in that order too.
    async fn assert_the_trail_replays_to_the_final_set(&self) {
        let records = self.records().await;
        let fin = self.final_set().await;
        assert_eq!(
            replay(&self.initial, &records),
            fin,
            "replaying the audit trail in its order (event id) on {:?} does not give the final set \
             (every change landed once, and some serial order does explain it): the trail lists the \
             changes in another order than they were applied: {:#?}",
            self.initial,
            trail(&records)
        );
        let times: Vec<&str> = records.iter().map(|record| record.at.as_str()).collect();
        let mut sorted_times = times.clone();
        sorted_times.sort();
        assert_eq!(times, sorted_times, "the records' times are out of the trail's order: {:#?}", trail(&records));
    }
}

/// One admin grants to and removes from one user: `EACH` of each, at once.
async fn admin_race() -> Raced {
    let (env, emulator) = TestEnv::behind_conflict_emulator(HOLD).await;
    let env = Arc::new(env);
    let universe: Vec<String> = (0..UNIVERSE).map(|i| format!("compass.race{i}.*")).collect();
    let initial: BTreeSet<String> = universe[..UNIVERSE / 2].iter().cloned().collect();
    let held: Vec<&str> = initial.iter().map(String::as_str).collect();
    env.put_user(admin::ADMIN, None, Some("admin"), &[]).await;
    env.put_user(admin::TARGET, None, Some("user"), &held).await;

    let mut requests = Vec::with_capacity(2 * EACH);
    for index in 0..EACH {
        for action in [Action::Grant, Action::Revoke] {
            let permissions = permissions_of_request(&universe, action, index);
            let body = json!({ "payload": { "userId": admin::TARGET, "permissions": permissions } });
            let event = match action {
                Action::Grant => Event::admin(),
                Action::Revoke => Event::admin_remove(),
            };
            let event = event.bearer(&admin::jwt_for(admin::ADMIN)).json(&body);
            let sent = Sent { org: false, action, permissions, request_id: event.request_id.clone() };
            requests.push((sent, event));
        }
    }
    let answers = race(&env, requests).await;
    Raced { env, emulator, target: admin::TARGET, initial, answers }
}

/// One org editor grants to and removes from one user of its org: `EACH` of each, at once.
async fn org_race() -> Raced {
    let (env, emulator) = TestEnv::behind_conflict_emulator(HOLD).await;
    let env = Arc::new(env);
    let universe: Vec<String> = (0..UNIVERSE).map(|i| format!("c0000000-0000-4000-8000-{i:012}")).collect();
    for uuid in &universe {
        env.put_permission(uuid, "race").await;
    }
    env.put_permission(org::EDIT_RIGHT, "edit_org_users").await;
    env.put_user(org::EDITOR, Some(org::ORG_A), None, &[org::EDIT_RIGHT]).await;
    env.put_token(org::EDITOR_KEY, org::EDITOR, Some(now() + 3600)).await;
    let initial: BTreeSet<String> = universe[..UNIVERSE / 2].iter().cloned().collect();
    let held: Vec<&str> = initial.iter().map(String::as_str).collect();
    env.put_user(org::TARGET, Some(org::ORG_A), None, &held).await;

    let mut requests = Vec::with_capacity(2 * EACH);
    for index in 0..EACH {
        for action in [Action::Grant, Action::Revoke] {
            let permissions = permissions_of_request(&universe, action, index);
            let event = match action {
                Action::Grant => Event::org(org::TARGET),
                Action::Revoke => Event::org_remove(org::TARGET),
            };
            let event = event.token(org::EDITOR_KEY).json(&json!({ "permission_uuids": permissions }));
            let sent = Sent { org: true, action, permissions, request_id: event.request_id.clone() };
            requests.push((sent, event));
        }
    }
    let answers = race(&env, requests).await;
    Raced { env, emulator, target: org::TARGET, initial, answers }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_grants_and_removals_of_one_user_racing_land_once_each_as_the_audit_trail_says() {
    let raced = admin_race().await;
    raced.assert_all_landed_and_serializable().await;
    raced.assert_the_trail_replays_to_the_final_set().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn org_grants_and_removals_of_one_user_racing_land_once_each_as_the_audit_trail_says() {
    let raced = org_race().await;
    raced.assert_all_landed_and_serializable().await;
    raced.assert_the_trail_replays_to_the_final_set().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_editor_removing_its_own_right_while_granting_never_grants_after_losing_it() {
    // The editor's grants and its removal of its own right race: a grant may land before the
    // removal, never after it. Every request is answered 200 or 403, never anything else.
    let (env, _emulator) = TestEnv::behind_conflict_emulator(HOLD).await;
    let env = Arc::new(env);
    env.put_permission(org::EDIT_RIGHT, "edit_org_users").await;
    let targets: Vec<String> = (0..EACH).map(|i| format!("7a000000-0000-4000-8000-{i:012}")).collect();
    let uuids: Vec<String> = (0..EACH).map(|i| format!("c0000000-0000-4000-8000-{i:012}")).collect();
    for (target, uuid) in targets.iter().zip(&uuids) {
        env.put_permission(uuid, "race").await;
        env.put_user(target, Some(org::ORG_A), None, &[]).await;
    }
    env.put_user(org::EDITOR, Some(org::ORG_A), None, &[org::EDIT_RIGHT]).await;
    env.put_token(org::EDITOR_KEY, org::EDITOR, Some(now() + 3600)).await;

    let mut requests = Vec::new();
    for (index, (target, uuid)) in targets.iter().zip(&uuids).enumerate() {
        let event = Event::org(target).token(org::EDITOR_KEY).json(&json!({ "permission_uuids": [uuid] }));
        let sent = Sent {
            org: true,
            action: Action::Grant,
            permissions: vec![uuid.clone()],
            request_id: event.request_id.clone(),
        };
        requests.push((sent, event));
        if index == EACH / 2 {
            let event = Event::org_remove(org::EDITOR)
                .token(org::EDITOR_KEY)
                .json(&json!({ "permission_uuids": [org::EDIT_RIGHT] }));
            let sent = Sent {
                org: true,
                action: Action::Revoke,
                permissions: vec![org::EDIT_RIGHT.to_owned()],
                request_id: event.request_id.clone(),
            };
            requests.push((sent, event));
        }
    }
    let answers = race(&env, requests).await;
    let removal = answers.iter().find(|(sent, _)| sent.action == Action::Revoke).unwrap();
    assert_eq!(removal.1.status, 200, "the removal of its own right lands");
    assert_eq!(env.permissions_of(org::EDITOR).await, Some(vec![]));
    assert_eq!(env.audit_of(org::EDITOR).await.len(), 1);
    for (sent, answer) in &answers {
        assert!([200, 403].contains(&answer.status), "{sent:?}: {answer:?}");
    }
    // Each grant answered 200 landed with its record; any other left its target alone.
    for ((sent, answer), target) in answers.iter().filter(|(sent, _)| sent.action == Action::Grant).zip(&targets) {
        let records = env.audit_of(target).await;
        match answer.status {
            200 => {
                assert_eq!(env.permissions_of(target).await, Some(sent.permissions.clone()), "{target}");
                assert_eq!(records.len(), 1, "{target}");
            }
            _ => {
                assert_eq!(env.permissions_of(target).await, Some(vec![]), "{target}");
                assert!(records.is_empty(), "{target}");
            }
        }
    }
    // After the race the editor can do nothing.
    let after = Event::org(&targets[0]).token(org::EDITOR_KEY).json(&json!({ "permission_uuids": [uuids[0]] }));
    assert_eq!(env.call::<OrgAdd>(after.http_api()).await.status, 403);
}

/// The checks' own logic: the serial-order search and the replay find what is there, and only
/// that, so a lost or half-applied change fails the race.
#[test]
fn the_serial_order_check_tells_explainable_final_sets_from_others() {
    let record = |action: Action, permissions: &[&str], event_id: &str| AuditRecord {
        user_id: "u".into(),
        event_id: event_id.into(),
        action,
        actor_id: "a".into(),
        endpoint: "e".into(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        at: String::new(),
        request_id: event_id.into(),
        org_uuid: None,
    };
    let set = |items: &[&str]| items.iter().map(|p| (*p).to_owned()).collect::<BTreeSet<String>>();
    let records = [record(Action::Grant, &["a", "b"], "1"), record(Action::Revoke, &["b", "c"], "2")];
    let initial = set(&["c", "d"]);
    assert_eq!(replay(&initial, &records), set(&["a", "d"]));
    // Either order is a serial order: grant then revoke, or revoke then grant.
    assert!(some_serial_order(&initial, &records, &set(&["a", "d"])).is_some());
    assert!(some_serial_order(&initial, &records, &set(&["a", "b", "d"])).is_some());
    // No order gives back c, loses a, or touches d.
    assert!(some_serial_order(&initial, &records, &set(&["a", "c", "d"])).is_none());
    assert!(some_serial_order(&initial, &records, &set(&["d"])).is_none());
    assert!(some_serial_order(&initial, &records, &set(&["a"])).is_none());
    // A grant half-applied (a without b) after the revoke: no order either.
    let crossed = [record(Action::Grant, &["a", "b"], "1"), record(Action::Revoke, &["a", "b"], "2")];
    assert!(some_serial_order(&set(&[]), &crossed, &set(&["a"])).is_none());
}
