//! `PUT /user/add-permissions`: an admin adds `compass.*` permissions to any user.
//!
//! Checks run in the contract's order: route, body size (413), JWT (401), request form (400),
//! the caller's admin role (403), then the conditional write (404 when the target is missing).
//!
//! DynamoDB round trips on success: one. The JWT is verified locally and the caller's role is
//! checked inside the grant's transaction (a `ConditionCheck` that returns the caller's item on
//! failure, which tells an unknown caller, 401, from a non-admin, 403). Only a malformed body
//! costs a read, to answer an unknown caller with 401 before any 400.

pub mod errors;
pub mod request;

use std::future::Future;

use aws_sdk_dynamodb::Client;
use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use self::errors::AdminError;
use crate::auth::jwt::JwtVerifier;
use crate::auth::{Credentials, credentials};
use crate::config::{ConfigError, process_env, table_name};
use crate::endpoint::Granted;
use crate::lambda_entry::HttpEndpoint;
use crate::metrics::Metrics;
use crate::request_log::GrantSummary;
use crate::store::grants::{CallerRight, Grant, GrantOutcome, Grants, limit_message};
use crate::store::users::{USER_ID, Users};
use crate::store::{self};
use crate::{body, endpoint, routing};

/// The binary's name, used in logs and in audit records.
pub const ENDPOINT: &str = "user-add-permissions";
pub const SUCCESS_MESSAGE: &str = "Successfully added permissions for this user.";

/// The success body, fields in the documented order.
#[derive(Debug, Serialize)]
struct Success {
    message: &'static str,
    data: Empty,
}

#[derive(Debug, Serialize)]
struct Empty {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTables {
    pub users: String,
    pub audit: String,
}

impl AdminTables {
    pub fn from_env(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self { users: table_name(lookup, "USERS_TABLE")?, audit: table_name(lookup, "AUDIT_TABLE")? })
    }
}

/// The endpoint's state, built once per process.
#[derive(Debug)]
pub struct UserAddPermissions {
    jwt: JwtVerifier,
    users: Users,
    grants: Grants,
    metrics: Metrics,
}

impl UserAddPermissions {
    pub fn new(client: Client, tables: AdminTables, jwt: JwtVerifier) -> Self {
        Self {
            jwt,
            users: Users::new(client.clone(), tables.users.clone()),
            grants: Grants::new(client, tables.users, tables.audit),
            metrics: Metrics::Off,
        }
    }

    /// Where each request's metrics go; none unless set.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Reads and checks every setting before anything slower, so a bad one fails init at once;
    /// then reads the JWT keys (deployed, from Secrets Manager) while it opens the DynamoDB
    /// connection with a read of the users table: two round trips at once, not one after the
    /// other. A key that cannot be read fails init without waiting for DynamoDB.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let tables = AdminTables::from_env(&process_env)?;
        let endpoint = store::dynamodb_endpoint(&process_env)?;
        let sdk = store::sdk_config().await;
        let client = store::dynamodb_client(&sdk, endpoint);
        let jwt = JwtVerifier::from_env(&process_env, || aws_sdk_secretsmanager::Client::new(&sdk));
        let warm_up = async {
            store::warm_connection(&client, &tables.users, USER_ID).await;
            Ok::<_, ConfigError>(())
        };
        let (jwt, ()) = tokio::try_join!(jwt, warm_up)?;
        Ok(Self::new(client, tables, jwt).with_metrics(Metrics::emf_from_env(&process_env)))
    }

    /// Answers every request; never fails and never panics on any input.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let request_id = routing::request_id(&request);
        endpoint::answer(ENDPOINT, &request, &request_id, &self.metrics, self.process(&request, &request_id)).await
    }

    async fn process(&self, request: &Request, request_id: &str) -> Result<Granted<Success>, AdminError> {
        if !routing::is_user_add_permissions(request) {
            return Err(AdminError::RouteNotFound);
        }
        if body::is_too_large(request.body()) {
            return Err(AdminError::PayloadTooLarge);
        }
        let caller_id = self.authenticate(request.headers()).await?;
        let wanted = match request::parse(&body::content_type(request.headers()), body::bytes(request.body())) {
            Ok(wanted) => wanted,
            Err(invalid) => {
                // Authentication precedes validation: an unknown caller hears 401, not 400.
                return Err(match self.users.get(&caller_id).await? {
                    None => AdminError::InvalidToken,
                    Some(_) => invalid,
                });
            }
        };
        let grant = Grant {
            caller_id: &caller_id,
            caller_right: CallerRight::Admin,
            caller_key_hash: None,
            target_user_id: &wanted.user_id,
            permissions: &wanted.permissions,
            endpoint: ENDPOINT,
            request_id,
        };
        match self.grants.grant(&grant).await? {
            GrantOutcome::Granted { changed } => Ok(Granted {
                body: Success { message: SUCCESS_MESSAGE, data: Empty {} },
                summary: GrantSummary {
                    actor: caller_id,
                    target: wanted.user_id,
                    permissions: wanted.permissions,
                    changed,
                },
            }),
            GrantOutcome::TargetNotFound => Err(AdminError::UserNotFound),
            GrantOutcome::CallerUnknown => Err(AdminError::InvalidToken),
            GrantOutcome::CallerForbidden => Err(AdminError::Forbidden),
            GrantOutcome::LimitExceeded { would_hold } => Err(AdminError::Validation(limit_message(would_hold))),
        }
    }

    /// The caller's id from a genuine, current token. Why a token failed is logged at debug
    /// level only as its kind, never with the token.
    async fn authenticate(&self, headers: &HeaderMap) -> Result<String, AdminError> {
        match credentials(headers, "Bearer") {
            Credentials::Absent => Err(AdminError::MissingToken),
            Credentials::Malformed => Err(AdminError::InvalidToken),
            Credentials::Present(token) => self.jwt.verify_current(token).await.map_err(|rejected| {
                tracing::debug!(reason = %rejected.0, "bearer token rejected");
                AdminError::InvalidToken
            }),
        }
    }
}

impl HttpEndpoint for UserAddPermissions {
    const NAME: &'static str = ENDPOINT;

    fn handle(&self, request: Request) -> impl Future<Output = Response<Body>> {
        UserAddPermissions::handle(self, request)
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
