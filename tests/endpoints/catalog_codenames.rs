//! A catalog entry without a codename (or with one that is not a string) exists, but has no
//! codename: the org list shows `null` for it, cold and from the warm catalog cache alike, never
//! an empty string that no entry holds; and a grant of it is still accepted.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use permissions_service::store::catalog::{CODENAME, PERMISSION_UUID};
use serde_json::json;

use crate::support::fixtures::org::*;
use crate::support::{Event, OrgAdd, OrgList, s};

const NAMELESS: &str = "c0000000-0000-4000-8000-00000000000c";
const NUMBERED: &str = "c0000000-0000-4000-8000-00000000000d";
const EMPTY_NAMED: &str = "c0000000-0000-4000-8000-00000000000e";

#[tokio::test]
async fn an_entry_without_a_string_codename_lists_as_null_cold_and_warm() {
    let env = org_world().await;
    let entry = |uuid: &str, codename: Option<AttributeValue>| {
        let mut item = HashMap::from([(PERMISSION_UUID.to_owned(), s(uuid))]);
        item.extend(codename.map(|codename| (CODENAME.to_owned(), codename)));
        item
    };
    env.put(&env.tables.permissions, entry(NAMELESS, None)).await;
    env.put(&env.tables.permissions, entry(NUMBERED, Some(AttributeValue::N("7".into())))).await;
    env.put(&env.tables.permissions, entry(EMPTY_NAMED, Some(s("")))).await;
    // They exist in the catalog, so a grant of them is accepted.
    let grant =
        Event::org(TARGET).token(EDITOR_KEY).json(&json!({ "permission_uuids": [NAMELESS, NUMBERED, EMPTY_NAMED] }));
    env.changes::<OrgAdd>(grant.http_api()).await;
    let expected = json!({
        "user_uuid": TARGET,
        "permissions": [
            { "uuid": P3, "codename": "view_users" },
            { "uuid": NAMELESS, "codename": null },
            { "uuid": NUMBERED, "codename": null },
            // A string, even an empty one, is what is stored: shown as it is.
            { "uuid": EMPTY_NAMED, "codename": "" },
        ],
    });
    // The first read may fill the cache from the grant's lookups; a fresh process reads them cold.
    for (case, env) in [("warm", &env), ("cold", &env.recorded().0)] {
        for round in 0..2 {
            let response = env.reads::<OrgList>(Event::org_list(TARGET).token(EDITOR_KEY).http_api()).await;
            assert_eq!(response.body, expected, "{case}, read {round}");
        }
    }
}
