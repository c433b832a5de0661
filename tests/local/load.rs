//! Load through `local-api`: 64 concurrent writers, each sending several grants over real HTTP,
//! of permissions some writers share and some only one writer sends, to the same few users.
//! Every request succeeds, each user ends with exactly what it had plus the union of what was
//! granted to it, and the audit holds exactly one record per request, under that request's id.

use std::collections::{BTreeMap, BTreeSet};

use permissions_service::local::demo;
use serde_json::json;

use crate::local_api::{Answer, send, start};

use crate::support::TestEnv;

const WRITERS: usize = 64;
const REQUESTS_PER_WRITER: usize = 4;

/// One planned grant: who it targets, what it carries.
struct Planned {
    target: String,
    permissions: Vec<String>,
}

/// Writer `w`'s request `r` goes to one of the targets and carries one permission every writer
/// sends, one that a quarter of the writers send, and one no other request carries.
fn plan(targets: &[&str], shared: &[String], distinct: impl Fn(usize, usize) -> String) -> Vec<Vec<Planned>> {
    (0..WRITERS)
        .map(|w| {
            (0..REQUESTS_PER_WRITER)
                .map(|r| Planned {
                    target: targets[(w + r) % targets.len()].to_owned(),
                    permissions: vec![shared[0].clone(), shared[1 + w % 4].clone(), distinct(w, r)],
                })
                .collect()
        })
        .collect()
}

fn request_id(answer: &Answer) -> String {
    answer
        .head
        .lines()
        .find_map(|line| line.strip_prefix("apigw-requestid: "))
        .expect("every answer names its request")
        .trim()
        .to_owned()
}

/// Sends every writer's requests, the writers all at once; answers (target, answer) pairs.
async fn run(
    address: &str,
    plans: Vec<Vec<Planned>>,
    request: impl Fn(&Planned) -> (&'static str, String, Vec<(&'static str, String)>, String) + Copy + Send + 'static,
) -> Vec<(String, Answer)> {
    let writers: Vec<_> = plans
        .into_iter()
        .map(|planned| {
            let address = address.to_owned();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for grant in planned {
                    let (method, path, headers, body) = request(&grant);
                    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
                    answers.push((grant.target.clone(), send(&address, method, &path, &headers, &body).await));
                }
                answers
            })
        })
        .collect();
    let mut answers = Vec::new();
    for writer in writers {
        answers.extend(writer.await.unwrap());
    }
    answers
}

/// What each target must hold afterwards: what it held before plus everything granted to it.
async fn expected_sets(env: &TestEnv, plans: &[Vec<Planned>]) -> BTreeMap<String, BTreeSet<String>> {
    let mut expected = BTreeMap::<String, BTreeSet<String>>::new();
    for grant in plans.iter().flatten() {
        if !expected.contains_key(&grant.target) {
            let before = env.permissions_of(&grant.target).await.expect("targets exist");
            expected.insert(grant.target.clone(), before.into_iter().collect());
        }
        expected.get_mut(&grant.target).unwrap().extend(grant.permissions.iter().cloned());
    }
    expected
}

async fn assert_all_landed(env: &TestEnv, answers: &[(String, Answer)], expected: BTreeMap<String, BTreeSet<String>>) {
    assert_eq!(answers.len(), WRITERS * REQUESTS_PER_WRITER);
    for (_, answer) in answers {
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    for (target, permissions) in expected {
        let held: BTreeSet<String> = env.permissions_of(&target).await.unwrap().into_iter().collect();
        assert_eq!(held, permissions, "{target} holds exactly the union");

        let audited: BTreeSet<String> =
            env.audit_of(&target).await.iter().map(|record| record.request_id.clone()).collect();
        let answered: BTreeSet<String> =
            answers.iter().filter(|(to, _)| *to == target).map(|(_, answer)| request_id(answer)).collect();
        assert_eq!(audited.len(), env.audit_of(&target).await.len(), "one record per request id");
        assert_eq!(audited, answered, "exactly one audit record per successful request to {target}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_org_writers_lose_nothing() {
    let (address, env) = start().await;
    let second = "5de38a8e-0000-4000-8000-000000000002";
    let third = "5de38a8e-0000-4000-8000-000000000003";
    env.put_user(second, Some(demo::ORG), None, &[]).await;
    env.put_user(third, Some(demo::ORG), None, &[demo::CATALOG[0].0]).await;
    let shared: Vec<String> = (0..5).map(|i| format!("5a000000-0000-4000-8000-{i:012}")).collect();
    let distinct = |w: usize, r: usize| format!("d1000000-0000-4000-8000-{:06}{:06}", w, r);
    for uuid in
        shared.iter().cloned().chain((0..WRITERS).flat_map(|w| (0..REQUESTS_PER_WRITER).map(move |r| distinct(w, r))))
    {
        env.put_permission(&uuid, "load_test").await;
    }
    let plans = plan(&[demo::TARGET, second, third], &shared, distinct);
    let expected = expected_sets(&env, &plans).await;

    let answers = run(&address, plans, |grant| {
        let headers = vec![
            ("Authorization", format!("Token {}", demo::EDITOR_TOKEN)),
            ("Content-Type", "application/json".to_owned()),
        ];
        let path = format!("/organizations/users/permissions/{}/", grant.target);
        ("PATCH", path, headers, json!({ "permission_uuids": grant.permissions }).to_string())
    })
    .await;
    assert_all_landed(&env, &answers, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_admin_writers_lose_nothing() {
    let (address, env) = start().await;
    let third = "68bb46bb4db8c853599f1e03";
    env.put_user(third, None, Some("user"), &["compass.reports.view"]).await;
    let shared: Vec<String> = (0..5).map(|i| format!("compass.shared{i}.*")).collect();
    let plans = plan(&[demo::ADMIN_TARGET, demo::NON_ADMIN, third], &shared, |w, r| format!("compass.w{w}.r{r}"));
    let expected = expected_sets(&env, &plans).await;

    let answers = run(&address, plans, |grant| {
        let headers = vec![
            ("Authorization", format!("Bearer {}", demo::jwt_for(demo::ADMIN))),
            ("Content-Type", "application/json".to_owned()),
        ];
        let body = json!({ "payload": { "userId": grant.target, "permissions": grant.permissions } });
        ("PUT", "/user/add-permissions".to_owned(), headers, body.to_string())
    })
    .await;
    assert_all_landed(&env, &answers, expected).await;
}
