//! The request body: its size limit, its content type, and its JSON.

use lambda_http::Body;
use lambda_http::http::HeaderMap;
use lambda_http::http::header::CONTENT_TYPE;

/// Bodies over this are refused with 413 before any parsing work.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The body as bytes, however API Gateway delivered it (text, or base64 that lambda_http decoded).
pub fn bytes(body: &Body) -> &[u8] {
    match body {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        // lambda_http's Body is non-exhaustive; an unknown kind is treated as no body.
        _ => &[],
    }
}

pub fn is_too_large(body: &Body) -> bool {
    bytes(body).len() > MAX_BODY_BYTES
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentType {
    /// `application/json`, in any case, with any parameters (`charset=utf-8` and the like).
    Json,
    Missing,
    /// Something else; the media type as sent, shortened for echoing in an error message.
    Other(String),
}

/// Longest media type echoed back in an error message.
const ECHO_LIMIT: usize = 100;

pub fn content_type(headers: &HeaderMap) -> ContentType {
    let Some(value) = headers.get(CONTENT_TYPE) else { return ContentType::Missing };
    let text = String::from_utf8_lossy(value.as_bytes());
    let media_type = text.split(';').next().unwrap_or_default().trim();
    if media_type.eq_ignore_ascii_case("application/json") {
        ContentType::Json
    } else {
        ContentType::Other(media_type.chars().take(ECHO_LIMIT).collect())
    }
}

/// The name Python (and so Django REST Framework) gives a JSON value's type in its messages.
pub fn python_type_name(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "NoneType",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(number) if number.is_f64() => "float",
        serde_json::Value::Number(_) => "int",
        serde_json::Value::String(_) => "str",
        serde_json::Value::Array(_) => "list",
        serde_json::Value::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    fn with_content_type(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn json_with_any_case_and_parameters_is_json() {
        assert_eq!(content_type(&with_content_type("application/json")), ContentType::Json);
        assert_eq!(content_type(&with_content_type("Application/JSON; charset=utf-8")), ContentType::Json);
        assert_eq!(content_type(&with_content_type(" application/json ;charset=latin-1")), ContentType::Json);
    }

    #[test]
    fn other_media_types_are_reported_as_sent() {
        assert_eq!(content_type(&HeaderMap::new()), ContentType::Missing);
        assert_eq!(content_type(&with_content_type("text/plain")), ContentType::Other("text/plain".into()));
        assert_eq!(
            content_type(&with_content_type("application/jsonx")),
            ContentType::Other("application/jsonx".into())
        );
    }

    #[test]
    fn body_size_limit_is_inclusive() {
        assert!(!is_too_large(&Body::Text("x".repeat(MAX_BODY_BYTES))));
        assert!(is_too_large(&Body::Binary(vec![0; MAX_BODY_BYTES + 1])));
    }
}

/// Generated request bodies, for the APIs' parser properties.
#[cfg(test)]
pub(crate) mod generated {
    use proptest::prelude::*;
    use serde_json::Value;

    /// Any JSON value, its leaves drawn also from `likely` (values the parser looks for) and
    /// its objects' keys from `keys`, so generated bodies reach past the first check.
    pub fn json_value(likely: BoxedStrategy<Value>, keys: BoxedStrategy<String>) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            any::<String>().prop_map(Value::from),
            likely,
        ];
        leaf.prop_recursive(4, 32, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(keys.clone(), inner, 0..4)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    /// `good` with `bad` inserted at `position`: the items, and the index `bad` is at.
    pub fn with_bad_item(good: Vec<String>, position: prop::sample::Index, bad: Value) -> (Vec<Value>, usize) {
        let mut items: Vec<Value> = good.into_iter().map(Value::from).collect();
        let index = position.index(items.len() + 1);
        items.insert(index, bad);
        (items, index)
    }
}
