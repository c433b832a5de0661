//! Every place outside the code that lists the service's functions, held against
//! `src/functions.rs` (and the route table it reads): a new function fails here, naming each
//! place that does not know it yet, and a place that lists a function the service does not have
//! fails too. What is generated (template.yaml's per-function resources, the sample events, the
//! local SAM template) is checked where it is generated; local-api's routes in template_routes.

use std::collections::BTreeSet;
use std::path::Path;

use lambda_http::http::Method;
use permissions_service::frame::routes::ROUTES;
use permissions_service::functions::{self, Function};
use permissions_service::local::demo;
use yaml_rust2::YamlLoader;

use crate::template_policies::{repository_file, template};

fn read(path: &str) -> String {
    std::fs::read_to_string(repository_file(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The route (by binary) a method and path name, as API Gateway would route them.
fn routed(method: &str, path: &str) -> Option<&'static str> {
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    ROUTES.iter().find(|route| route.matches_path(&method, path).is_some()).map(|route| route.binary)
}

/// (method, path) of every curl command in `text` that calls `base_url`.
fn curl_calls(text: &str, base_url: &str) -> Vec<(String, String)> {
    let joined = text.replace("\\\n", " ");
    let mut calls = Vec::new();
    for line in joined.lines().filter(|line| line.trim_start().starts_with("curl ")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let method = words.windows(2).find(|pair| pair[0] == "-X").map_or("GET", |pair| pair[1]);
        let Some(url) = words.iter().find_map(|word| word.trim_matches(['"', '\'']).strip_prefix(base_url)) else {
            continue;
        };
        let path = url.split('?').next().unwrap_or_default();
        calls.push((method.to_owned(), path.to_owned()));
    }
    calls
}

/// The binaries the calls reach; a call that reaches none is a documented call to nowhere.
fn reached(calls: &[(String, String)], place: &str) -> BTreeSet<&'static str> {
    calls
        .iter()
        .map(|(method, path)| {
            routed(method, path).unwrap_or_else(|| panic!("{place}: `curl -X {method} …{path}` reaches no route"))
        })
        .collect()
}

fn endpoints() -> impl Iterator<Item = Function> {
    functions::all().filter(|function| function.route().is_some())
}

#[test]
fn the_readme_table_has_a_row_for_every_function() {
    let readme = read("README.md");
    let rows: Vec<&str> = readme.lines().filter(|line| line.starts_with("| ")).collect();
    for function in functions::all() {
        let binary = format!("`{}`", function.binary());
        let row = rows.iter().find(|row| row.contains(&binary));
        let row = row.unwrap_or_else(|| panic!("README.md: the table at the top has no row for {binary}"));
        if let Some(route) = function.route() {
            let route_key = format!("`{} {}", route.method, route.path);
            assert!(row.contains(&route_key), "README.md: the row of {binary} does not name {route_key}…`");
        }
    }
}

#[test]
fn the_readme_and_the_local_guide_call_every_endpoint_and_only_endpoints() {
    let base_url = "http://127.0.0.1:3000";
    let places = [("README.md", read("README.md")), ("the guide local-setup prints", demo::guide(base_url))];
    for (place, text) in places {
        let reached = reached(&curl_calls(&text, base_url), place);
        for function in endpoints() {
            assert!(reached.contains(function.binary()), "{place}: no curl line calls {}", function.binary());
        }
    }
}

#[test]
fn the_readme_invokes_every_function_with_cargo_lambda() {
    let readme = read("README.md");
    for function in functions::all() {
        let invoke = format!("cargo lambda invoke {} --data-file events/{}/", function.binary(), function.binary());
        assert!(readme.contains(&invoke), "README.md: no `{invoke}…` line");
    }
}

#[test]
fn the_api_reference_has_a_section_for_every_endpoint_and_only_endpoints() {
    let api = read("docs/api.md");
    let mut documented = BTreeSet::new();
    for heading in api.lines().filter_map(|line| line.strip_prefix("## `")) {
        let route_key = heading.split('`').next().unwrap_or_default();
        let Some((method, path)) = route_key.split_once(' ') else { continue };
        if method.chars().all(|c| c.is_ascii_uppercase()) {
            let path = path.split('?').next().unwrap_or_default();
            let binary = routed(method, path).unwrap_or_else(|| panic!("docs/api.md: `{route_key}` is no route"));
            assert!(documented.insert(binary), "docs/api.md: two sections for {binary}");
        }
    }
    for function in endpoints() {
        assert!(documented.contains(function.binary()), "docs/api.md: no `## `… section for {}", function.binary());
    }
}

#[test]
fn the_openapi_document_has_an_operation_for_every_endpoint_and_only_endpoints() {
    let document = YamlLoader::load_from_str(&read("docs/openapi.yaml")).unwrap().remove(0);
    let mut documented = BTreeSet::new();
    for (path, operations) in document["paths"].as_hash().expect("docs/openapi.yaml: paths") {
        let path = path.as_str().unwrap();
        for method in operations.as_hash().unwrap().keys().filter_map(|key| key.as_str()) {
            if method == "parameters" {
                continue;
            }
            let method = method.to_ascii_uppercase();
            let binary = routed(&method, path)
                .unwrap_or_else(|| panic!("docs/openapi.yaml: {method} {path} is no route of the service"));
            documented.insert(binary);
        }
    }
    for function in endpoints() {
        assert!(documented.contains(function.binary()), "docs/openapi.yaml: no operation for {}", function.binary());
    }
}

#[test]
fn every_function_has_sample_events_and_only_functions_do() {
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    for function in functions::all() {
        let folder = events.join(function.binary());
        let samples = std::fs::read_dir(&folder).map(|entries| entries.count()).unwrap_or(0);
        assert!(samples > 0, "events/{}/ holds no sample event", function.binary());
    }
    for entry in std::fs::read_dir(&events).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            let name = entry.file_name().into_string().unwrap();
            assert!(functions::by_binary(&name).is_some(), "events/{name}/ belongs to no function");
        }
    }
}

/// The README's alarm count is the template's: the per-function alarms are generated, so the
/// count moves with every function.
#[test]
fn the_readme_counts_the_alarms_the_template_declares() {
    let template = template();
    let alarms = template["Resources"]
        .as_hash()
        .unwrap()
        .values()
        .filter(|resource| resource["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .count();
    let readme = read("README.md");
    let claim = format!("**{alarms} alarms in all**");
    assert!(readme.contains(&claim), "README.md, Alarms: the template declares {alarms} alarms: say `{claim}`");
}
