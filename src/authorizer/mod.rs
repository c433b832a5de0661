//! The Lambda authorizer (`permissions-authorizer`) that another team attaches to its own API
//! Gateway HTTP API, so that a grant or a revoke counts on the user's very next request to it.
//!
//! An event (payload format 2.0, simple responses) is decided, in this order, each step failing
//! closed: the route key must be in `ROUTE_PERMISSIONS` ([`routes`]); the `Authorization` header
//! must hold one `Bearer` JWT that the admin API would accept (same keys, rotation, `iss`/`aud`);
//! its `sub` must be a user of the users table, read strongly consistent (one GetItem); and every
//! permission the route needs must be implied (`domain::implies`) by one the user holds. Any
//! other event, however malformed, not an object included, is a denial, never an error: only a
//! backend failure is an error (API Gateway then answers 500; it never allows).
//!
//! The route comes first so that a request for an unprotected route costs neither a signature
//! check nor a read.

pub mod routes;

use aws_sdk_dynamodb::Client;
use serde_json::{Map, Value, json};

pub use self::routes::RoutePermissions;
use crate::auth::jwt::JwtVerifier;
use crate::auth::{Credentials, credential_in};
use crate::config::{ConfigError, process_env, table_name};
use crate::domain::HeldPermissions;
use crate::store::timing::instrumented;
use crate::store::users::{USER_ID, Users};
use crate::store::{self, StoreError};

/// The binary, and the `Endpoint` dimension of its metrics.
pub const BINARY: &str = "permissions-authorizer";

/// The authorizer's state, built once per process.
#[derive(Debug)]
pub struct Authorizer {
    routes: RoutePermissions,
    jwt: JwtVerifier,
    users: Users,
}

/// What the authorizer answers API Gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow {
        user_id: String,
        /// The held permissions that imply what the route needs, each once, in the route's order.
        granted_by: Vec<String>,
    },
    Deny {
        why: Denied,
        /// The user, once its token verified (for the log line).
        user_id: Option<String>,
    },
}

/// Why a request was denied: for the log line and metrics, never for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No `routeKey` string: not an HTTP API authorizer event.
    MalformedEvent,
    /// A route the map does not name.
    UnknownRoute,
    /// No `Authorization` header, or one of another scheme.
    MissingToken,
    /// A header that is not one well-formed bearer token, or a token that does not verify.
    InvalidToken,
    /// A genuine token whose user does not exist.
    UnknownUser,
    /// The user holds nothing that implies some permission the route needs.
    NotGranted,
}

impl Denied {
    pub fn as_str(self) -> &'static str {
        match self {
            Denied::MalformedEvent => "malformed_event",
            Denied::UnknownRoute => "unknown_route",
            Denied::MissingToken => "missing_token",
            Denied::InvalidToken => "invalid_token",
            Denied::UnknownUser => "unknown_user",
            Denied::NotGranted => "not_granted",
        }
    }
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// The user it is about, once known (a genuine token's `sub`).
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Decision::Allow { user_id, .. } => Some(user_id),
            Decision::Deny { user_id, .. } => user_id.as_deref(),
        }
    }

    /// `allowed`, or why not: the log line's outcome.
    pub fn outcome(&self) -> &'static str {
        match self {
            Decision::Allow { .. } => "allowed",
            Decision::Deny { why, .. } => why.as_str(),
        }
    }

    /// The simple response API Gateway reads. The context reaches the integration as
    /// `$context.authorizer.<key>` (and in its event's `requestContext.authorizer.lambda`).
    pub fn to_response(&self) -> Value {
        match self {
            Decision::Allow { user_id, granted_by } => json!({
                "isAuthorized": true,
                "context": { "userId": user_id, "grantedBy": granted_by.join(",") },
            }),
            Decision::Deny { .. } => json!({ "isAuthorized": false }),
        }
    }
}

/// The route key and the `Authorization` value of an event, as far as it has them.
pub struct Request<'a> {
    pub route_key: Option<&'a str>,
    authorization: Authorization<'a>,
}

enum Authorization<'a> {
    Absent,
    /// Not a string, or named twice (`Authorization` and `authorization`): no single value.
    Ambiguous,
    Value(&'a str),
}

impl<'a> Request<'a> {
    /// Reads an event of any shape. API Gateway sends header names lowercase; another case is
    /// read too, but two names for one header deny.
    pub fn of(event: &'a Value) -> Self {
        let route_key = event.get("routeKey").and_then(Value::as_str);
        let headers = event.get("headers").and_then(Value::as_object);
        let authorization = headers.map_or(Authorization::Absent, authorization_header);
        Self { route_key, authorization }
    }
}

fn authorization_header(headers: &Map<String, Value>) -> Authorization<'_> {
    let mut found = headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case("authorization"));
    match (found.next(), found.next()) {
        (None, _) => Authorization::Absent,
        (Some((_, Value::String(value))), None) => Authorization::Value(value),
        _ => Authorization::Ambiguous,
    }
}

impl Authorizer {
    pub fn new(client: &Client, users_table: String, routes: RoutePermissions, jwt: JwtVerifier) -> Self {
        Self { routes, jwt, users: Users::new(instrumented(client), users_table) }
    }

    /// Reads and checks every setting first (the route map, the table), so a bad one fails init
    /// at once, naming it; then reads the JWT keys (deployed, from Secrets Manager) while it opens
    /// the DynamoDB connection: two round trips at once, as the admin API does.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let routes = RoutePermissions::from_env(&process_env)?;
        let users_table = table_name(&process_env, "USERS_TABLE")?;
        let endpoint = store::dynamodb_endpoint(&process_env)?;
        let sdk = store::sdk_config().await;
        let client = store::dynamodb_client(&sdk, endpoint);
        let jwt = JwtVerifier::from_env(&process_env, || aws_sdk_secretsmanager::Client::new(&sdk));
        let warm_up = async {
            store::warm_connection(&client, &users_table, USER_ID).await;
            Ok::<_, ConfigError>(())
        };
        let (jwt, ()) = tokio::try_join!(jwt, warm_up)?;
        if routes.is_empty() {
            tracing::warn!("ROUTE_PERMISSIONS names no route: every request will be denied");
        }
        Ok(Self::new(&client, users_table, routes, jwt))
    }

    /// Decides one event. `Err` only when DynamoDB failed: the caller must not be allowed, and
    /// API Gateway must not cache a denial that may be wrong.
    pub async fn decide(&self, request: &Request<'_>) -> Result<Decision, StoreError> {
        let deny = |why| Ok(Decision::Deny { why, user_id: None });
        let Some(route_key) = request.route_key else { return deny(Denied::MalformedEvent) };
        let Some(needed) = self.routes.needed(route_key) else { return deny(Denied::UnknownRoute) };
        let token = match &request.authorization {
            Authorization::Absent => return deny(Denied::MissingToken),
            Authorization::Ambiguous => return deny(Denied::InvalidToken),
            Authorization::Value(value) => match credential_in(value, "Bearer") {
                Credentials::Absent => return deny(Denied::MissingToken),
                Credentials::Malformed => return deny(Denied::InvalidToken),
                Credentials::Present(token) => token,
            },
        };
        let user_id = match self.jwt.verify_current(token).await {
            Ok(user_id) => user_id,
            Err(rejected) => {
                tracing::debug!(reason = %rejected.0, "bearer token rejected");
                return deny(Denied::InvalidToken);
            }
        };
        let Some(user) = self.users.get(&user_id).await? else {
            return Ok(Decision::Deny { why: Denied::UnknownUser, user_id: Some(user_id) });
        };
        let held = HeldPermissions::new(user.permissions.iter().map(String::as_str));
        let mut granted_by: Vec<String> = Vec::with_capacity(needed.len());
        for permission in needed.iter() {
            let Some(held) = held.granting(permission) else {
                return Ok(Decision::Deny { why: Denied::NotGranted, user_id: Some(user_id) });
            };
            if !granted_by.iter().any(|already| already == held) {
                granted_by.push(held.to_owned());
            }
        }
        Ok(Decision::Allow { user_id, granted_by })
    }
}
