//! The example's route map is one map wherever a local run reads it: the demo data's constant,
//! `examples/protected-api/route-permissions.json` (what the service stack is deployed with for
//! the example), `local.env` (run-local, cargo lambda) and `events/sam-env.json` (sam local).
//! (scripts/check-example-authorizer holds the example stack's routes to the same file.)

use permissions_service::authorizer::RoutePermissions;
use permissions_service::local::demo;
use serde_json::Value;

use crate::template_policies::repository_file;

fn read(path: &str) -> String {
    std::fs::read_to_string(repository_file(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn parsed(place: &str, text: &str) -> Value {
    RoutePermissions::parse(text).unwrap_or_else(|problem| panic!("{place}: ROUTE_PERMISSIONS {problem}"));
    serde_json::from_str(text).unwrap()
}

#[test]
fn every_local_run_reads_the_examples_route_map() {
    let expected =
        parsed("examples/protected-api/route-permissions.json", &read("examples/protected-api/route-permissions.json"));
    assert_eq!(parsed("src/local/demo.rs", demo::ROUTE_PERMISSIONS), expected, "src/local/demo.rs");
    let local_env = read("local.env");
    let line = local_env.lines().find_map(|line| line.strip_prefix("ROUTE_PERMISSIONS=")).expect("local.env sets it");
    let value =
        line.strip_prefix('\'').and_then(|quoted| quoted.strip_suffix('\'')).expect("single-quoted in local.env");
    assert_eq!(parsed("local.env", value), expected, "local.env");
    let sam_env: Value = serde_json::from_str(&read("events/sam-env.json")).unwrap();
    let value = sam_env["PermissionsAuthorizerFunction"]["ROUTE_PERMISSIONS"].as_str().expect("sam-env.json sets it");
    assert_eq!(parsed("events/sam-env.json", value), expected, "events/sam-env.json");
}
