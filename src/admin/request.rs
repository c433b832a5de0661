//! The admin API's request bodies, `{"payload": {...}}`:
//! - a change (add, remove): `{"userId": "<ObjectId>", "permissions": ["compass.<module>[.<action>|.*]", ...]}`;
//! - a check: the same, with `userId` optional (absent: the caller itself).

use serde_json::{Map, Value};

use super::errors::AdminError;
use crate::domain::{CompassPermission, MAX_NAME_CHARS, ObjectId, PermissionSet, RequestedPermissions};
use crate::frame::body::ContentType;

/// Items accepted in `payload.permissions`, counted as sent (before deduplication).
pub const MAX_PERMISSIONS: usize = PermissionSet::MAX;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminChangeRequest {
    pub user_id: ObjectId,
    pub permissions: PermissionSet,
}

/// A check: whose permissions (`None`: the caller's own), and which, in the order asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminCheckRequest {
    pub user_id: Option<ObjectId>,
    pub permissions: RequestedPermissions,
}

pub fn parse(content_type: &ContentType, body: &[u8]) -> Result<AdminChangeRequest, AdminError> {
    let payload = payload(content_type, body)?;
    let mut problems = Vec::new();
    let user_id = match payload.get("userId") {
        None => {
            problems.push("payload.userId is required.".to_owned());
            None
        }
        Some(value) => user_id(value, &mut problems),
    };
    let permissions = permissions(payload.get("permissions"), &mut problems).and_then(|items| {
        PermissionSet::new(items).or_else(|| {
            problems.push(too_many_or_none());
            None
        })
    });
    match (user_id, permissions) {
        (Some(user_id), Some(permissions)) if problems.is_empty() => Ok(AdminChangeRequest { user_id, permissions }),
        _ => Err(AdminError::Validation(problems.join(" "))),
    }
}

/// A check's body. A `userId` that is present must be an ObjectId: `""` or `null` is a 400, not
/// the caller.
pub fn parse_check(content_type: &ContentType, body: &[u8]) -> Result<AdminCheckRequest, AdminError> {
    let payload = payload(content_type, body)?;
    let mut problems = Vec::new();
    let user_id = payload.get("userId").map(|value| user_id(value, &mut problems));
    let permissions = permissions(payload.get("permissions"), &mut problems).and_then(|items| {
        RequestedPermissions::new(items).or_else(|| {
            problems.push(too_many_or_none());
            None
        })
    });
    match (user_id, permissions) {
        (None, Some(permissions)) if problems.is_empty() => Ok(AdminCheckRequest { user_id: None, permissions }),
        (Some(Some(user_id)), Some(permissions)) if problems.is_empty() => {
            Ok(AdminCheckRequest { user_id: Some(user_id), permissions })
        }
        _ => Err(AdminError::Validation(problems.join(" "))),
    }
}

/// The `payload` object of a JSON body.
fn payload(content_type: &ContentType, body: &[u8]) -> Result<Map<String, Value>, AdminError> {
    let invalid = |message: &str| AdminError::Validation(message.to_owned());
    if *content_type != ContentType::Json {
        return Err(invalid("Content-Type must be application/json."));
    }
    if body.is_empty() {
        return Err(invalid("Request body is required."));
    }
    let data: Value = serde_json::from_slice(body)
        .map_err(|error| AdminError::Validation(format!("Request body is not valid JSON: {error}.")))?;
    let Value::Object(mut fields) = data else { return Err(invalid("payload is required.")) };
    match fields.remove("payload") {
        None => Err(invalid("payload is required.")),
        Some(Value::Object(payload)) => Ok(payload),
        Some(_) => Err(invalid("payload must be an object.")),
    }
}

fn user_id(value: &Value, problems: &mut Vec<String>) -> Option<ObjectId> {
    let id = value.as_str().and_then(ObjectId::parse);
    if id.is_none() {
        problems.push("payload.userId must be a MongoDB ObjectId (24 hexadecimal characters).".to_owned());
    }
    id
}

fn too_many_or_none() -> String {
    format!("payload.permissions must hold 1 to {MAX_PERMISSIONS} items.")
}

/// The items of `payload.permissions`, each in the grammar, as sent; every problem is named.
fn permissions(value: Option<&Value>, problems: &mut Vec<String>) -> Option<Vec<CompassPermission>> {
    let items = match value {
        None => {
            problems.push("payload.permissions is required.".to_owned());
            return None;
        }
        Some(Value::Array(items)) => items,
        Some(_) => {
            problems.push("payload.permissions must be an array of strings.".to_owned());
            return None;
        }
    };
    if items.is_empty() || items.len() > MAX_PERMISSIONS {
        problems.push(too_many_or_none());
        return None;
    }
    let before = problems.len();
    let mut permissions = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match item.as_str().and_then(CompassPermission::parse) {
            Some(permission) => permissions.push(permission),
            None => problems.push(format!(
                "payload.permissions[{index}] must be compass.<module>, compass.<module>.<action> or \
                 compass.<module>.*, with names of [a-z][a-z0-9_-]* up to {MAX_NAME_CHARS} characters."
            )),
        }
    }
    (problems.len() == before).then_some(permissions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<AdminChangeRequest, AdminError>) -> String {
        match result {
            Err(AdminError::Validation(message)) => message,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn normalises_the_request() {
        let body = br#"{"payload": {"userId": "68BB46BB4DB8C853599F1EBB", "permissions": ["compass.b", "compass.a.*", "compass.b"]}}"#;
        let request = parse(&ContentType::Json, body).unwrap();
        assert_eq!(request.user_id.as_str(), "68bb46bb4db8c853599f1ebb");
        assert_eq!(request.permissions.as_slice(), ["compass.a.*", "compass.b"]);
    }

    #[test]
    fn a_check_names_its_user_or_none_and_keeps_the_order_asked() {
        let body = br#"{"payload": {"permissions": ["compass.b", "compass.a.*", "compass.b"]}}"#;
        let check = parse_check(&ContentType::Json, body).unwrap();
        assert_eq!(check.user_id, None);
        let asked: Vec<&str> = check.permissions.iter().map(CompassPermission::as_str).collect();
        assert_eq!(asked, ["compass.b", "compass.a.*"]);
        let body = br#"{"payload": {"userId": "68BB46BB4DB8C853599F1EBB", "permissions": ["compass.a"]}, "x": 1}"#;
        assert_eq!(
            parse_check(&ContentType::Json, body).unwrap().user_id.unwrap().as_str(),
            "68bb46bb4db8c853599f1ebb"
        );
        for user_id in [r#""""#, "null", "5", r#""68bb46bb4db8c853599f1eb""#] {
            let body = format!(r#"{{"payload": {{"userId": {user_id}, "permissions": ["compass.a"]}}}}"#);
            let text = message(parse_check(&ContentType::Json, body.as_bytes()).map(|_| unreachable_change()));
            assert!(text.starts_with("payload.userId must be"), "{user_id}: {text}");
        }
        let text = message(parse_check(&ContentType::Json, br#"{"payload": {}}"#).map(|_| unreachable_change()));
        assert_eq!(text, "payload.permissions is required.");
    }

    /// A check that parsed where a refusal was expected.
    fn unreachable_change() -> AdminChangeRequest {
        panic!("expected a validation error")
    }

    #[test]
    fn names_every_problem() {
        let body = br#"{"payload": {"userId": 5, "permissions": ["compass.ok", "nope"]}}"#;
        let text = message(parse(&ContentType::Json, body));
        assert!(text.contains("payload.userId must be"), "{text}");
        assert!(text.contains("payload.permissions[1]"), "{text}");
        assert!(!text.contains("payload.permissions[0]"), "{text}");
        assert_eq!(message(parse(&ContentType::Missing, b"{}")), "Content-Type must be application/json.");
        assert_eq!(message(parse(&ContentType::Json, b"[1]")), "payload is required.");
    }
}

/// Properties over generated input: the parser never panics, accepts only what the grammar
/// allows (and then in normal form), and rejects any single bad permission.
#[cfg(test)]
mod properties {
    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::domain::{is_compass_permission, is_object_id};
    use crate::frame::body::generated;

    fn permission() -> impl Strategy<Value = String> {
        "compass\\.[a-z][a-z0-9_-]{0,63}(\\.([a-z][a-z0-9_-]{0,63}|\\*))?"
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let likely = prop_oneof![permission().prop_map(Value::from), "[0-9a-fA-F]{24}".prop_map(Value::from)];
        let keys = prop_oneof![Just("payload".to_owned()), Just("userId".to_owned()), Just("permissions".to_owned())];
        generated::json_value(likely.boxed(), keys.boxed())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn whatever_it_accepts_is_in_normal_form(
            body in prop_oneof![
                json_value().prop_map(|value| value.to_string().into_bytes()),
                ("[0-9a-fA-F]{24}", prop::collection::vec(prop_oneof![permission(), any::<String>()], 0..120))
                    .prop_map(|(id, permissions)| {
                        json!({ "payload": { "userId": id, "permissions": permissions } }).to_string().into_bytes()
                    }),
                prop::collection::vec(any::<u8>(), 0..256),
            ],
        ) {
            if let Ok(request) = parse(&ContentType::Json, &body) {
                prop_assert!(is_object_id(request.user_id.as_str()));
                prop_assert!(!request.user_id.as_str().bytes().any(|byte| byte.is_ascii_uppercase()));
                prop_assert!((1..=MAX_PERMISSIONS).contains(&request.permissions.len()));
                prop_assert!(request.permissions.iter().all(is_compass_permission));
                prop_assert!(request.permissions.as_slice().windows(2).all(|pair| pair[0] < pair[1]), "sorted, unique");
            }
        }

        #[test]
        fn a_valid_request_is_accepted_as_the_set_it_names(
            user_id in "[0-9a-fA-F]{24}",
            permissions in prop::collection::vec(permission(), 1..=MAX_PERMISSIONS),
        ) {
            let body = json!({ "payload": { "userId": user_id, "permissions": permissions } }).to_string();
            let request = parse(&ContentType::Json, body.as_bytes()).unwrap();
            prop_assert_eq!(request.user_id.as_str(), user_id.to_ascii_lowercase());
            let expected: BTreeSet<String> = permissions.into_iter().collect();
            prop_assert_eq!(request.permissions.into_vec(), expected.into_iter().collect::<Vec<_>>());
        }

        #[test]
        fn a_bad_permission_is_named_by_its_index(
            permissions in prop::collection::vec(permission(), 1..50),
            position in any::<prop::sample::Index>(),
            bad in json_value().prop_filter("not a permission", |value| !value.as_str().is_some_and(is_compass_permission)),
        ) {
            let (items, index) = generated::with_bad_item(permissions, position, bad);
            let body = json!({ "payload": { "userId": "68bb46bb4db8c853599f1ebb", "permissions": items } }).to_string();
            let message = match parse(&ContentType::Json, body.as_bytes()) {
                Err(AdminError::Validation(message)) => message,
                other => return Err(TestCaseError::fail(format!("expected a validation error, got {other:?}"))),
            };
            let expected = format!("payload.permissions[{index}] must be");
            prop_assert!(message.starts_with(&expected), "{}", message);
        }
    }
}
