//! The route table: every endpoint's binary, method and path, in one place that the handlers,
//! local-api, the tests' event builder and the template check all read. A test fails when it and
//! `template.yaml` disagree.
//!
//! Behind API Gateway only the declared route reaches each function; matching here makes a
//! function invoked with a sample event, `cargo lambda watch` or a misconfigured route answer as
//! API Gateway would instead of doing something else.

use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt, Response};

use super::response::json_response;

/// One endpoint's route. `path` is API Gateway's route key: no trailing slash (an HTTP API route
/// cannot end in one), at most one `{parameter}` segment. Both forms of a path, with and without
/// the trailing slash, are served.
#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    /// The Lambda binary (and function) that serves it.
    pub binary: &'static str,
    pub method: Method,
    pub path: &'static str,
}

const ORG_USER_PERMISSIONS: &str = "/organizations/users/permissions/{user_uuid}";

pub const ORG_ADD: Route = Route { binary: "org-user-permissions", method: Method::PATCH, path: ORG_USER_PERMISSIONS };
pub const ORG_REMOVE: Route =
    Route { binary: "org-user-permissions-remove", method: Method::DELETE, path: ORG_USER_PERMISSIONS };
pub const ORG_LIST: Route =
    Route { binary: "org-user-permissions-list", method: Method::GET, path: ORG_USER_PERMISSIONS };
pub const ADMIN_ADD: Route =
    Route { binary: "user-add-permissions", method: Method::PUT, path: "/user/add-permissions" };
pub const ADMIN_REMOVE: Route =
    Route { binary: "user-remove-permissions", method: Method::PUT, path: "/user/remove-permissions" };

pub const ADMIN_LIST: Route = Route { binary: "user-list-permissions", method: Method::GET, path: "/user/permissions" };
pub const ADMIN_HISTORY: Route =
    Route { binary: "user-permission-history", method: Method::GET, path: "/user/permission-history" };

pub const ADMIN_CHECK: Route =
    Route { binary: "user-check-permissions", method: Method::POST, path: "/user/check-permissions" };

/// Every route the service serves.
pub const ROUTES: [&Route; 8] =
    [&ORG_ADD, &ORG_REMOVE, &ORG_LIST, &ADMIN_ADD, &ADMIN_REMOVE, &ADMIN_LIST, &ADMIN_HISTORY, &ADMIN_CHECK];

/// A request matched to its route: the path parameter's value, as sent, when the route has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub parameter: Option<String>,
}

impl Route {
    /// The name of the route's `{parameter}`, if it has one.
    pub fn parameter_name(&self) -> Option<&'static str> {
        self.path.split('/').find_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
    }

    /// Whether a request's method may carry a body the endpoint reads (and so the 413 check).
    pub fn reads_body(&self) -> bool {
        self.method != Method::GET && self.method != Method::HEAD
    }

    /// API Gateway's own match, for local-api: the exact path, one optional trailing slash.
    pub fn matches_path(&self, method: &Method, path: &str) -> Option<Matched> {
        if *method != self.method {
            return None;
        }
        let path = path.strip_suffix('/').unwrap_or(path);
        let sent: Vec<&str> = path.split('/').collect();
        let pattern: Vec<&str> = self.path.split('/').collect();
        (sent.len() == pattern.len()).then_some(())?;
        self.match_segments(&pattern, &sent)
    }

    /// The match a function makes of the request it was given. Matching is on the path's last
    /// segments, so a REST API stage, a custom-domain base path or the `/lambda-url/<function>`
    /// prefix of `cargo lambda watch` all route alike. The path parameter API Gateway extracted
    /// wins; without one (a function URL event) the segment is taken from the path.
    pub fn matches(&self, request: &Request) -> Option<Matched> {
        if *request.method() != self.method {
            return None;
        }
        let path = request.raw_http_path();
        let path = if path.is_empty() { request.uri().path() } else { path };
        let path = path.strip_suffix('/').unwrap_or(path);
        let sent: Vec<&str> = path.split('/').collect();
        let pattern: Vec<&str> = self.path.split('/').skip(1).collect();
        let tail = sent.len().checked_sub(pattern.len())?;
        let mut matched = self.match_segments(&pattern, &sent[tail..])?;
        if let Some(name) = self.parameter_name()
            && let Some(from_gateway) = request.path_parameters_ref().and_then(|params| params.first(name))
        {
            matched.parameter = Some(from_gateway.to_owned());
        }
        Some(matched)
    }

    fn match_segments(&self, pattern: &[&str], sent: &[&str]) -> Option<Matched> {
        let mut parameter = None;
        for (expected, given) in pattern.iter().zip(sent) {
            if expected.starts_with('{') {
                if given.is_empty() {
                    return None;
                }
                parameter = Some((*given).to_owned());
            } else if expected != given {
                return None;
            }
        }
        Some(Matched { parameter })
    }
}

/// API Gateway's own answer for an unknown route or method.
pub fn not_found() -> Response<Body> {
    json_response(404, &serde_json::json!({"message": "Not Found"}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(method: Method, path: &str) -> Option<String> {
        ROUTES.iter().find_map(|route| {
            let matched = route.matches_path(&method, path)?;
            Some(format!("{}:{}", route.binary, matched.parameter.unwrap_or_default()))
        })
    }

    #[test]
    fn routes_like_the_http_api() {
        let org = |uuid: &str| Some(format!("org-user-permissions:{uuid}"));
        assert_eq!(routed(Method::PATCH, "/organizations/users/permissions/abc/"), org("abc"));
        assert_eq!(routed(Method::PATCH, "/organizations/users/permissions/abc"), org("abc"));
        assert_eq!(routed(Method::PUT, "/user/add-permissions").as_deref(), Some("user-add-permissions:"));
        assert_eq!(routed(Method::PUT, "/user/add-permissions/").as_deref(), Some("user-add-permissions:"));
        assert_eq!(
            routed(Method::DELETE, "/organizations/users/permissions/abc/"),
            Some("org-user-permissions-remove:abc".to_owned())
        );
        assert_eq!(routed(Method::PUT, "/user/remove-permissions").as_deref(), Some("user-remove-permissions:"));
        let org_remove = Some("org-user-permissions-remove:abc".to_owned());
        assert_eq!(routed(Method::DELETE, "/organizations/users/permissions/abc/"), org_remove);
        assert_eq!(routed(Method::PUT, "/user/remove-permissions").as_deref(), Some("user-remove-permissions:"));
        let org_list = Some("org-user-permissions-list:abc".to_owned());
        assert_eq!(routed(Method::GET, "/organizations/users/permissions/abc/"), org_list);
        assert_eq!(routed(Method::GET, "/user/permissions/").as_deref(), Some("user-list-permissions:"));
        assert_eq!(routed(Method::GET, "/user/permission-history").as_deref(), Some("user-permission-history:"));
        assert_eq!(routed(Method::POST, "/organizations/users/permissions/abc/"), None);
        assert_eq!(routed(Method::PATCH, "/organizations/users/permissions/"), None);
        assert_eq!(routed(Method::PATCH, "/organizations/users/permissions/a/b"), None);
        assert_eq!(routed(Method::PUT, "/x/user/add-permissions"), None);
        assert_eq!(routed(Method::POST, "/user/add-permissions"), None);
        assert_eq!(routed(Method::POST, "/user/check-permissions/").as_deref(), Some("user-check-permissions:"));
        assert_eq!(routed(Method::GET, "/user/check-permissions"), None);
    }

    #[test]
    fn parameters_are_named_by_the_path() {
        assert_eq!(ORG_ADD.parameter_name(), Some("user_uuid"));
        assert_eq!(ADMIN_ADD.parameter_name(), None);
    }
}
