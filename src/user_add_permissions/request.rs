//! Parsing and validating the admin endpoint's body:
//! `{"payload": {"userId": "<ObjectId>", "permissions": ["compass.<module>[.<action>|.*]", ...]}}`.

use serde_json::Value;

use super::errors::AdminError;
use crate::body::ContentType;

/// Items accepted in `payload.permissions`, counted as sent (before deduplication).
pub const MAX_PERMISSIONS: usize = 100;
/// Longest module or action name.
pub const MAX_NAME_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminGrantRequest {
    /// Lowercase 24-hex-digit ObjectId.
    pub user_id: String,
    /// Deduplicated and sorted.
    pub permissions: Vec<String>,
}

pub fn parse(content_type: &ContentType, body: &[u8]) -> Result<AdminGrantRequest, AdminError> {
    let invalid = |message: &str| AdminError::Validation(message.to_owned());
    if *content_type != ContentType::Json {
        return Err(invalid("Content-Type must be application/json."));
    }
    if body.is_empty() {
        return Err(invalid("Request body is required."));
    }
    let data: Value = serde_json::from_slice(body)
        .map_err(|error| AdminError::Validation(format!("Request body is not valid JSON: {error}.")))?;
    let Some(payload) = data.as_object().and_then(|fields| fields.get("payload")) else {
        return Err(invalid("payload is required."));
    };
    let Some(payload) = payload.as_object() else {
        return Err(invalid("payload must be an object."));
    };

    let mut problems = Vec::new();
    let user_id = match payload.get("userId") {
        Some(Value::String(id)) if is_object_id(id) => Some(id.to_ascii_lowercase()),
        None => {
            problems.push("payload.userId is required.".to_owned());
            None
        }
        Some(_) => {
            problems.push("payload.userId must be a MongoDB ObjectId (24 hexadecimal characters).".to_owned());
            None
        }
    };
    let permissions = match permissions(payload.get("permissions")) {
        Ok(permissions) => Some(permissions),
        Err(mut messages) => {
            problems.append(&mut messages);
            None
        }
    };
    match (user_id, permissions) {
        (Some(user_id), Some(permissions)) if problems.is_empty() => Ok(AdminGrantRequest { user_id, permissions }),
        _ => Err(AdminError::Validation(problems.join(" "))),
    }
}

fn permissions(value: Option<&Value>) -> Result<Vec<String>, Vec<String>> {
    let items = match value {
        None => return Err(vec!["payload.permissions is required.".to_owned()]),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(vec!["payload.permissions must be an array of strings.".to_owned()]),
    };
    if items.is_empty() || items.len() > MAX_PERMISSIONS {
        return Err(vec![format!("payload.permissions must hold 1 to {MAX_PERMISSIONS} items.")]);
    }
    let mut permissions = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match item {
            Value::String(permission) if is_permission(permission) => permissions.push(permission.clone()),
            _ => problems.push(format!(
                "payload.permissions[{index}] must be compass.<module>, compass.<module>.<action> or \
                 compass.<module>.*, with names of [a-z][a-z0-9_-]* up to {MAX_NAME_CHARS} characters."
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    permissions.sort_unstable();
    permissions.dedup();
    Ok(permissions)
}

/// A MongoDB ObjectId: exactly 24 hex digits, any case.
pub fn is_object_id(text: &str) -> bool {
    text.len() == 24 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// `compass.<module>`, `compass.<module>.<action>` or `compass.<module>.*`.
pub fn is_permission(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("compass.") else { return false };
    let mut parts = rest.split('.');
    let module_ok = parts.next().is_some_and(is_name);
    let action_ok = match parts.next() {
        None => true,
        Some(action) => action == "*" || is_name(action),
    };
    module_ok && action_ok && parts.next().is_none()
}

fn is_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    text.len() <= MAX_NAME_CHARS
        && bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<AdminGrantRequest, AdminError>) -> String {
        match result {
            Err(AdminError::Validation(message)) => message,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn permission_grammar() {
        for good in ["compass.dashboard", "compass.dashboard.*", "compass.email-meter.stats_v2", "compass.a"] {
            assert!(is_permission(good), "{good}");
        }
        let long = format!("compass.{}", "a".repeat(MAX_NAME_CHARS + 1));
        for bad in [
            "compass",
            "compass.",
            "compass..x",
            "Compass.dashboard",
            "compass.Dashboard",
            "compass.1dash",
            "compass.dash.*.x",
            "compass.dash.view.more",
            "compass.*",
            "other.dash",
            "compass.dash.",
            "compass.dash.v w",
            long.as_str(),
        ] {
            assert!(!is_permission(bad), "{bad}");
        }
        assert!(is_permission(&format!("compass.{}", "a".repeat(MAX_NAME_CHARS))));
    }

    #[test]
    fn object_ids_are_24_hex_digits_in_any_case() {
        assert!(is_object_id("68bb46bb4db8c853599f1ebb"));
        assert!(is_object_id("68BB46BB4DB8C853599F1EBB"));
        assert!(!is_object_id("68bb46bb4db8c853599f1eb"));
        assert!(!is_object_id("68bb46bb4db8c853599f1ebg"));
    }

    #[test]
    fn normalises_the_request() {
        let body = br#"{"payload": {"userId": "68BB46BB4DB8C853599F1EBB", "permissions": ["compass.b", "compass.a.*", "compass.b"]}}"#;
        let request = parse(&ContentType::Json, body).unwrap();
        assert_eq!(request.user_id, "68bb46bb4db8c853599f1ebb");
        assert_eq!(request.permissions, ["compass.a.*", "compass.b"]);
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
