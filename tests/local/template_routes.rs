//! The route table and `template.yaml` say the same: every route's binary is a function of the
//! template, built from that binary, whose one HTTP API event is the route's method and path;
//! every function but the authorizer is some route's; every route has its binary in `src/bin` and is served by
//! local-api.

use std::collections::BTreeSet;
use std::path::Path;

use permissions_service::frame::routes::ROUTES;
use permissions_service::functions;

use crate::support::TestEnv;
use crate::template_policies::{functions, template};

/// (binary, method, path) of each function's HTTP API events, as the template declares them.
fn template_routes() -> BTreeSet<(String, String, String)> {
    let template = template();
    let mut routes = BTreeSet::new();
    for (id, function) in functions(&template) {
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} names no binary in Metadata.BuildProperties.Binary"));
        let function_kind = functions::by_binary(binary).unwrap_or_else(|| panic!("{id}: {binary} is no function"));
        let Some(events) = function["Properties"]["Events"].as_hash() else {
            assert!(function_kind.route().is_none(), "{id} has no Events: which route does it serve?");
            continue;
        };
        assert!(function_kind.route().is_some(), "{id} is no endpoint, yet the template routes to it");
        assert_eq!(events.len(), 1, "{id}: one route per function");
        for (_, event) in events {
            assert_eq!(event["Type"].as_str(), Some("HttpApi"), "{id}");
            let method = event["Properties"]["Method"].as_str().unwrap().to_owned();
            let path = event["Properties"]["Path"].as_str().unwrap().to_owned();
            routes.insert((binary.to_owned(), method, path));
        }
    }
    routes
}

#[test]
fn the_route_table_and_the_template_agree() {
    let table: BTreeSet<(String, String, String)> =
        ROUTES.iter().map(|route| (route.binary.to_owned(), route.method.to_string(), route.path.to_owned())).collect();
    assert_eq!(table.len(), ROUTES.len(), "a route is listed twice");
    assert_eq!(table, template_routes());
}

#[test]
fn every_route_has_its_binary() {
    for route in ROUTES {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("src/bin/{}.rs", route.binary));
        assert!(source.is_file(), "{} has no {}", route.binary, source.display());
    }
}

#[tokio::test]
async fn local_api_serves_every_route() {
    let env = TestEnv::with_demo_data().await;
    assert_eq!(env.local_api().routes(), ROUTES.to_vec());
}
