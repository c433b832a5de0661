//! `PATCH /organizations/users/permissions/{user_uuid}/`: an organization's user editor adds
//! catalog permissions to a user of the same organization.
//!
//! Checks run in the contract's order: route, body size (413), token (401), request form (400),
//! the caller's `edit_org_users` right (403), catalog membership of the uuids (400), then the
//! one conditional write (404 when the target is missing or in another organization).
//!
//! DynamoDB round trips on success: token GetItem; one BatchGetItem of the caller and, fresh, the
//! catalog entries that carry `edit_org_users`; TransactWriteItems. Cold, the caller's and the
//! requested uuids the catalog cache does not know yet cost a BatchGetItem each. The cache never
//! authorizes alone: the right is judged on catalog entries read in the request, and the
//! transaction re-checks that the caller still holds it and that its key is still live. No item
//! the transaction touches is shared by unrelated requests (see `store::grants`).

pub mod errors;
pub mod request;

use std::future::Future;
use std::time::SystemTime;

use aws_sdk_dynamodb::Client;
use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use self::errors::{FieldErrors, OrgError};
use crate::auth::{Credentials, api_token, credentials};
use crate::config::{ConfigError, process_env, table_name};
use crate::endpoint::Granted;
use crate::lambda_entry::HttpEndpoint;
use crate::metrics::Metrics;
use crate::request_log::GrantSummary;
use crate::store::catalog::Catalog;
use crate::store::grants::{CallerRight, Grant, GrantOutcome, Grants, limit_message};
use crate::store::tokens::{TOKEN_HASH, Tokens};
use crate::store::users::UserRecord;
use crate::store::{self};
use crate::{body, endpoint, routing};

/// The binary's name, used in logs and in audit records.
pub const ENDPOINT: &str = "org-user-permissions";
/// The catalog codename a caller's permissions must include.
pub const EDIT_ORG_USERS: &str = "edit_org_users";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgTables {
    pub users: String,
    pub tokens: String,
    pub permissions: String,
    pub audit: String,
}

impl OrgTables {
    pub fn from_env(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            users: table_name(lookup, "USERS_TABLE")?,
            tokens: table_name(lookup, "TOKENS_TABLE")?,
            permissions: table_name(lookup, "PERMISSIONS_TABLE")?,
            audit: table_name(lookup, "AUDIT_TABLE")?,
        })
    }
}

#[derive(Debug, Serialize)]
pub struct OrgGrantResponse {
    pub user_uuid: String,
    pub permission_uuids: Vec<String>,
}

/// The endpoint's state, built once per process: the stores and the warm catalog cache.
#[derive(Debug)]
pub struct OrgUserPermissions {
    tokens: Tokens,
    users_table: String,
    catalog: Catalog,
    grants: Grants,
    metrics: Metrics,
}

impl OrgUserPermissions {
    pub fn new(client: Client, tables: OrgTables) -> Self {
        Self {
            tokens: Tokens::new(client.clone(), tables.tokens.clone()),
            users_table: tables.users.clone(),
            catalog: Catalog::new(client.clone(), tables.permissions),
            grants: Grants::new(client, tables.users, tables.audit).with_tokens(tables.tokens),
            metrics: Metrics::Off,
        }
    }

    /// Where each request's metrics go; none unless set.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Reads the tables' names before anything slower, so a missing one fails init at once; then
    /// opens the DynamoDB connection with a read of the tokens table, the one its IAM policy
    /// allows GetItem on.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let tables = OrgTables::from_env(&process_env)?;
        let client = store::client_from_env(&process_env).await?;
        store::warm_connection(&client, &tables.tokens, TOKEN_HASH).await;
        Ok(Self::new(client, tables).with_metrics(Metrics::emf_from_env(&process_env)))
    }

    /// Answers every request; never fails and never panics on any input.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let request_id = routing::request_id(&request);
        endpoint::answer(ENDPOINT, &request, &request_id, &self.metrics, self.process(&request, &request_id)).await
    }

    async fn process(&self, request: &Request, request_id: &str) -> Result<Granted<OrgGrantResponse>, OrgError> {
        let path_user_uuid = routing::org_user_permissions_target(request).ok_or(OrgError::RouteNotFound)?;
        if body::is_too_large(request.body()) {
            return Err(OrgError::PayloadTooLarge);
        }
        let caller = self.authenticate(request.headers()).await?;
        let wanted =
            request::parse(&path_user_uuid, &body::content_type(request.headers()), body::bytes(request.body()))?;
        let org_uuid = caller.user.org_uuid.as_deref().ok_or(OrgError::PermissionDenied)?;
        // The 403 is decided before any requested uuid is looked up, so a caller without the
        // right learns nothing about the catalog, not even from how long the answer takes.
        let right_uuid = caller.right_uuid.as_deref().ok_or(OrgError::PermissionDenied)?;

        let known = self.catalog.codenames(wanted.permission_uuids.iter().map(String::as_str)).await?;
        let unknown: Vec<String> = wanted
            .permission_uuids
            .iter()
            .filter(|uuid| !known.contains_key(uuid.as_str()))
            .map(|uuid| format!("Invalid pk \"{uuid}\" - object does not exist."))
            .collect();
        if !unknown.is_empty() {
            return Err(OrgError::InvalidFields(FieldErrors::from([("permission_uuids", unknown)])));
        }

        let grant = Grant {
            caller_id: &caller.user.user_id,
            caller_right: CallerRight::OrgEditor { org_uuid, right_uuid },
            caller_key_hash: Some(&caller.key_hash),
            target_user_id: &wanted.target_user_uuid,
            permissions: &wanted.permission_uuids,
            endpoint: ENDPOINT,
            request_id,
        };
        match self.grants.grant(&grant).await? {
            GrantOutcome::Granted { changed } => {
                let summary = GrantSummary {
                    actor: caller.user.user_id.clone(),
                    target: wanted.target_user_uuid.clone(),
                    permissions: wanted.permission_uuids.clone(),
                    changed,
                };
                let body =
                    OrgGrantResponse { user_uuid: wanted.target_user_uuid, permission_uuids: wanted.permission_uuids };
                Ok(Granted { body, summary })
            }
            GrantOutcome::TargetNotFound => Err(OrgError::NotFound),
            GrantOutcome::CallerUnknown => Err(OrgError::InvalidToken),
            GrantOutcome::CallerForbidden => Err(OrgError::PermissionDenied),
            GrantOutcome::LimitExceeded { would_hold } => {
                Err(OrgError::InvalidFields(FieldErrors::from([("permission_uuids", vec![limit_message(would_hold)])])))
            }
        }
    }

    /// The caller behind the `Token` key: unknown, expired, and orphaned keys are all invalid.
    /// Reading the caller also reads, fresh, the catalog entries that could give it its right.
    async fn authenticate(&self, headers: &HeaderMap) -> Result<OrgCaller, OrgError> {
        let key = match credentials(headers, "Token") {
            Credentials::Absent => return Err(OrgError::CredentialsNotProvided),
            Credentials::Malformed => return Err(OrgError::InvalidToken),
            Credentials::Present(key) => key,
        };
        let key_hash = api_token::token_hash(key);
        let token = self
            .tokens
            .find(&key_hash)
            .await?
            .filter(|token| token.is_live_at(SystemTime::now()))
            .ok_or(OrgError::InvalidToken)?;
        let caller = self
            .catalog
            .caller_holding(&self.users_table, &token.user_id, EDIT_ORG_USERS)
            .await?
            .ok_or(OrgError::InvalidToken)?;
        Ok(OrgCaller { user: caller.user, right_uuid: caller.right_uuid, key_hash })
    }
}

impl HttpEndpoint for OrgUserPermissions {
    const NAME: &'static str = ENDPOINT;

    fn handle(&self, request: Request) -> impl Future<Output = Response<Body>> {
        OrgUserPermissions::handle(self, request)
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// An authenticated org caller.
struct OrgCaller {
    user: UserRecord,
    /// The permission that gives it `edit_org_users`, judged on a catalog entry read now.
    right_uuid: Option<String>,
    /// The hash of the key it sent, whose liveness the grant's transaction re-checks.
    key_hash: String,
}
