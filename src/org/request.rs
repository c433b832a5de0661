//! The org API's write request, shared by add and remove: the `{user_uuid}` path segment and
//! the `{"permission_uuids": [...]}` body. Messages follow Django REST Framework's wording.

use serde_json::Value;

use super::errors::{FieldErrors, OrgError};
use crate::domain::{PermissionSet, PermissionUuid, UserUuid};
use crate::frame::body::{ContentType, python_type_name};

/// Items accepted in `permission_uuids`, counted as sent (before deduplication).
pub const MAX_PERMISSION_UUIDS: usize = PermissionSet::MAX;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgChangeRequest {
    pub target: UserUuid,
    /// The String Set's content, and the response's order.
    pub permission_uuids: PermissionSet,
}

/// Validates the path and body. An empty body is read as `{}` (as DRF does), so it reports the
/// missing field rather than the media type.
pub fn parse(path_user_uuid: &str, content_type: &ContentType, body: &[u8]) -> Result<OrgChangeRequest, OrgError> {
    let data = if body.is_empty() {
        Value::Object(Default::default())
    } else {
        match content_type {
            ContentType::Json => {}
            ContentType::Missing => return Err(OrgError::UnsupportedMediaType(String::new())),
            ContentType::Other(media_type) => return Err(OrgError::UnsupportedMediaType(media_type.clone())),
        }
        serde_json::from_slice(body).map_err(|error| OrgError::MalformedJson(error.to_string()))?
    };
    let Value::Object(fields) = data else {
        return Err(OrgError::NotAnObject(python_type_name(&data)));
    };

    let mut errors = FieldErrors::new();
    let target = UserUuid::parse(path_user_uuid);
    if target.is_none() {
        errors.insert("user_uuid", vec!["Must be a valid UUID.".to_owned()]);
    }
    let permission_uuids = match permission_uuids(fields.get("permission_uuids")) {
        Ok(uuids) => Some(uuids),
        Err(messages) => {
            errors.insert("permission_uuids", messages);
            None
        }
    };
    match (target, permission_uuids) {
        (Some(target), Some(permission_uuids)) => Ok(OrgChangeRequest { target, permission_uuids }),
        _ => Err(OrgError::InvalidFields(errors)),
    }
}

fn permission_uuids(value: Option<&Value>) -> Result<PermissionSet, Vec<String>> {
    let items = match value {
        None => return Err(vec!["This field is required.".to_owned()]),
        Some(Value::Null) => return Err(vec!["This field may not be null.".to_owned()]),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(vec![format!("Expected a list of items but got type \"{}\".", python_type_name(other))]);
        }
    };
    if items.is_empty() {
        return Err(vec!["This list may not be empty.".to_owned()]);
    }
    if items.len() > MAX_PERMISSION_UUIDS {
        return Err(vec![format!("Ensure this field has no more than {MAX_PERMISSION_UUIDS} elements.")]);
    }
    let mut uuids = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match item.as_str().and_then(PermissionUuid::parse) {
            Some(uuid) => uuids.push(uuid),
            None => problems.push(format!("Item {index}: Must be a valid UUID.")),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // Never None: 1..=100 items were counted above.
    PermissionSet::new(uuids).ok_or_else(|| vec!["This list may not be empty.".to_owned()])
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "5de38a8e-800e-4cba-84c5-ee6c27f304d8";

    fn fields(result: Result<OrgChangeRequest, OrgError>) -> FieldErrors {
        match result {
            Err(OrgError::InvalidFields(fields)) => fields,
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn normalises_case_order_and_duplicates() {
        let body = br#"{"permission_uuids": ["BBBBBBBB-0000-4000-8000-000000000000", "aaaaaaaa-0000-4000-8000-000000000000", "bbbbbbbb-0000-4000-8000-000000000000"], "extra": 1}"#;
        let request = parse(&USER.to_uppercase(), &ContentType::Json, body).unwrap();
        assert_eq!(request.target.as_str(), USER);
        assert_eq!(
            request.permission_uuids.as_slice(),
            ["aaaaaaaa-0000-4000-8000-000000000000", "bbbbbbbb-0000-4000-8000-000000000000"]
        );
    }

    #[test]
    fn limits_count_items_as_sent() {
        let uuid = "\"aaaaaaaa-0000-4000-8000-000000000000\"";
        let at_limit = format!("{{\"permission_uuids\": [{}]}}", vec![uuid; 100].join(","));
        assert_eq!(parse(USER, &ContentType::Json, at_limit.as_bytes()).unwrap().permission_uuids.len(), 1);
        let over = format!("{{\"permission_uuids\": [{}]}}", vec![uuid; 101].join(","));
        let errors = fields(parse(USER, &ContentType::Json, over.as_bytes()));
        assert_eq!(errors["permission_uuids"], ["Ensure this field has no more than 100 elements."]);
    }

    #[test]
    fn reports_path_and_body_problems_together() {
        let errors = fields(parse("nope", &ContentType::Json, br#"{"permission_uuids": [1, "x"]}"#));
        assert_eq!(errors["user_uuid"], ["Must be a valid UUID."]);
        assert_eq!(errors["permission_uuids"], ["Item 0: Must be a valid UUID.", "Item 1: Must be a valid UUID."]);
    }

    #[test]
    fn body_shape_errors_come_before_field_errors() {
        assert!(matches!(parse("nope", &ContentType::Json, b"{"), Err(OrgError::MalformedJson(_))));
        assert!(matches!(parse(USER, &ContentType::Json, b"[]"), Err(OrgError::NotAnObject("list"))));
        assert!(matches!(parse(USER, &ContentType::Json, b"null"), Err(OrgError::NotAnObject("NoneType"))));
        assert!(matches!(
            parse(USER, &ContentType::Other("text/plain".into()), b"{}"),
            Err(OrgError::UnsupportedMediaType(media)) if media == "text/plain"
        ));
        let empty = fields(parse(USER, &ContentType::Missing, b""));
        assert_eq!(empty["permission_uuids"], ["This field is required."]);
    }
}

/// Properties over generated input: the parser never panics, accepts only what the contract
/// allows (and then in normal form), and names the item that is wrong.
#[cfg(test)]
mod properties {
    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::domain::is_hyphenated_uuid;
    use crate::frame::body::generated;

    fn uuid_any_case() -> impl Strategy<Value = String> {
        (any::<u128>(), any::<u128>()).prop_map(|(bits, upper_mask)| {
            let text = uuid::Uuid::from_u128(bits).hyphenated().to_string();
            text.chars()
                .enumerate()
                .map(|(index, c)| if upper_mask >> index & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect()
        })
    }

    fn content_type() -> impl Strategy<Value = ContentType> {
        prop_oneof![
            4 => Just(ContentType::Json),
            1 => Just(ContentType::Missing),
            1 => any::<String>().prop_map(ContentType::Other),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let keys = prop_oneof![Just("permission_uuids".to_owned()), any::<String>()];
        generated::json_value(uuid_any_case().prop_map(Value::from).boxed(), keys.boxed())
    }

    fn is_normal_uuid(text: &str) -> bool {
        is_hyphenated_uuid(text) && !text.bytes().any(|byte| byte.is_ascii_uppercase())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn whatever_it_accepts_is_in_normal_form(
            path in prop_oneof![uuid_any_case(), any::<String>()],
            content_type in content_type(),
            body in prop_oneof![
                json_value().prop_map(|value| value.to_string().into_bytes()),
                prop::collection::vec(uuid_any_case(), 0..120)
                    .prop_map(|uuids| json!({ "permission_uuids": uuids }).to_string().into_bytes()),
                prop::collection::vec(any::<u8>(), 0..256),
            ],
        ) {
            if let Ok(request) = parse(&path, &content_type, &body) {
                prop_assert_eq!(request.target.as_str(), path.to_ascii_lowercase());
                prop_assert!(is_normal_uuid(request.target.as_str()));
                prop_assert!((1..=MAX_PERMISSION_UUIDS).contains(&request.permission_uuids.len()));
                prop_assert!(request.permission_uuids.iter().all(is_normal_uuid));
                prop_assert!(request.permission_uuids.as_slice().windows(2).all(|pair| pair[0] < pair[1]), "sorted, unique");
            }
        }

        #[test]
        fn a_valid_request_is_accepted_as_the_set_it_names(
            path in uuid_any_case(),
            uuids in prop::collection::vec(uuid_any_case(), 1..=MAX_PERMISSION_UUIDS),
            extra in prop::collection::btree_map("[a-z_]{1,10}", json_value(), 0..3),
        ) {
            let mut body: serde_json::Map<String, Value> = extra.into_iter().collect();
            body.insert("permission_uuids".to_owned(), json!(uuids));
            let request = parse(&path, &ContentType::Json, Value::Object(body).to_string().as_bytes()).unwrap();
            let expected: BTreeSet<String> = uuids.iter().map(|uuid| uuid.to_ascii_lowercase()).collect();
            prop_assert_eq!(request.permission_uuids.into_vec(), expected.into_iter().collect::<Vec<_>>());
        }

        #[test]
        fn a_bad_item_is_named_by_its_index(
            uuids in prop::collection::vec(uuid_any_case(), 1..50),
            position in any::<prop::sample::Index>(),
            bad in json_value().prop_filter("not a UUID", |value| !value.as_str().is_some_and(is_hyphenated_uuid)),
        ) {
            let (items, index) = generated::with_bad_item(uuids, position, bad);
            let body = json!({ "permission_uuids": items }).to_string();
            match parse("5de38a8e-800e-4cba-84c5-ee6c27f304d8", &ContentType::Json, body.as_bytes()) {
                Err(OrgError::InvalidFields(fields)) => {
                    prop_assert_eq!(&fields["permission_uuids"], &vec![format!("Item {index}: Must be a valid UUID.")]);
                }
                other => prop_assert!(false, "expected the item to be named, got {:?}", other),
            }
        }
    }
}
