//! `ROUTE_PERMISSIONS`: which permissions each route of the protected API needs, read and checked
//! once at init, so a typo stops the function from starting (naming the route) instead of
//! denying, or worse allowing, requests later.
//!
//! A JSON object from API Gateway route key (`"GET /reports/{id}"`, `"$default"`) to one
//! permission or a non-empty list of them, all required. A route key absent from the map is
//! denied: the authorizer fails closed.

use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::config::ConfigError;
use crate::domain::{CompassPermission, RequestedPermissions};

const VARIABLE: &str = "ROUTE_PERMISSIONS";

/// Longest route key accepted in the map: API Gateway's own route keys are far shorter.
const MAX_ROUTE_KEY_CHARS: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePermissions(HashMap<String, RequestedPermissions>);

impl RoutePermissions {
    pub fn from_env(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let text = lookup(VARIABLE).filter(|text| !text.trim().is_empty()).ok_or_else(|| ConfigError {
            variable: VARIABLE,
            problem: "is not set (a JSON object from route key to the permissions it needs)".into(),
        })?;
        Self::parse(&text).map_err(|problem| ConfigError { variable: VARIABLE, problem })
    }

    /// The map, or what is wrong with it (naming the route, never echoing a whole value).
    pub fn parse(text: &str) -> Result<Self, String> {
        let Ok(Entries(entries)) = serde_json::from_str::<Entries>(text) else {
            return Err("must be a JSON object from route key to a permission or a list of them".into());
        };
        let mut routes = HashMap::with_capacity(entries.len());
        for (route_key, needed) in entries {
            let problem = |what: &str| format!("route {route_key:?}: {what}");
            if route_key.trim().is_empty() || route_key.chars().count() > MAX_ROUTE_KEY_CHARS {
                return Err(format!("a route key must be 1 to {MAX_ROUTE_KEY_CHARS} characters"));
            }
            if routes.contains_key(&route_key) {
                return Err(problem("is named twice: give each route one entry"));
            }
            let items = match needed {
                Value::String(one) => vec![Value::String(one)],
                Value::Array(many) => many,
                _ => return Err(problem("must be a permission or a list of permissions")),
            };
            if items.is_empty() {
                return Err(problem("an empty list would allow any known user: name a permission"));
            }
            let mut permissions = Vec::with_capacity(items.len());
            for item in items {
                let permission = item.as_str().and_then(CompassPermission::parse).ok_or_else(|| {
                    problem(
                        "every permission must be compass.<module>, compass.<module>.<action> or compass.<module>.*",
                    )
                })?;
                permissions.push(permission);
            }
            let needed = RequestedPermissions::new(permissions)
                .ok_or_else(|| problem(&format!("at most {} permissions", RequestedPermissions::MAX)))?;
            routes.insert(route_key, needed);
        }
        Ok(Self(routes))
    }

    /// What `route_key` needs; `None` for a route the map does not name (deny).
    pub fn needed(&self, route_key: &str) -> Option<&RequestedPermissions> {
        self.0.get(route_key)
    }

    /// The route keys it names, in no particular order.
    pub fn route_keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The map's entries as written, a route named twice included: a JSON object read as a map keeps
/// only the last of them, so a bad or a stricter first entry would pass init unseen.
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;

        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_permission_or_a_list_all_required() {
        let routes = RoutePermissions::parse(
            r#"{"GET /reports/{id}": "compass.reports.view", "$default": ["compass.a", "compass.b.*", "compass.a"]}"#,
        )
        .unwrap();
        let names = |key| routes.needed(key).unwrap().iter().map(|p| p.as_str().to_owned()).collect::<Vec<_>>();
        assert_eq!(names("GET /reports/{id}"), ["compass.reports.view"]);
        assert_eq!(names("$default"), ["compass.a", "compass.b.*"]);
        assert_eq!(routes.needed("GET /reports"), None);
        assert_eq!(routes.needed("get /reports/{id}"), None, "route keys compare exactly");
    }

    #[test]
    fn a_bad_entry_is_refused_naming_its_route() {
        for (text, expected) in [
            (r#"{"GET /a": "compass.A"}"#, "route \"GET /a\": every permission"),
            (r#"{"GET /a": []}"#, "route \"GET /a\": an empty list"),
            (r#"{"GET /a": 5}"#, "route \"GET /a\": must be a permission"),
            (r#"{"GET /a": ["compass.a", null]}"#, "route \"GET /a\": every permission"),
            (r#"["GET /a"]"#, "must be a JSON object"),
            ("{", "must be a JSON object"),
            (r#"{"": "compass.a"}"#, "a route key must be"),
            (r#"{"GET /a": "compass.A", "GET /a": "compass.a"}"#, "route \"GET /a\": every permission"),
            (r#"{"GET /a": "compass.a", "GET /a": "compass.a"}"#, "route \"GET /a\": is named twice"),
            (r#"{"GET /a": ["compass.a", "compass.b"], "GET /a": "compass.a"}"#, "route \"GET /a\": is named twice"),
        ] {
            let problem = RoutePermissions::parse(text).unwrap_err();
            assert!(problem.starts_with(expected), "{text}: {problem}");
        }
        let too_many = format!(r#"{{"GET /a": [{}]}}"#, vec!["\"compass.a\""; 101].join(","));
        assert!(RoutePermissions::parse(&too_many).unwrap_err().contains("at most 100"));
    }

    #[test]
    fn unset_or_blank_fails_init_naming_the_variable() {
        let error = RoutePermissions::from_env(&|_| Some("  ".into())).unwrap_err();
        assert_eq!(error.variable, VARIABLE);
        assert!(RoutePermissions::from_env(&|_| None).is_err());
    }
}
