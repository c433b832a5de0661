//! The org API: `Token` API keys, scope to the caller's organization, the `edit_org_users`
//! right, Django REST Framework's error shapes. Its state is built once per process and shared
//! by its endpoints; each operation is a file.
//!
//! - [`add`]: `PATCH /organizations/users/permissions/{user_uuid}/`.
//! - [`remove`]: `DELETE /organizations/users/permissions/{user_uuid}/`.
//! - [`list`]: `GET /organizations/users/permissions/{user_uuid}/`.
//!
//! Checks run in the contract's order: route, body size (413), token (401), request form (400),
//! the caller's right (403), catalog membership of the uuids (400), then the one conditional
//! write (404 when the target is missing or in another organization).
//!
//! DynamoDB round trips of a change on success, warm: one BatchGetItem of the key, the caller
//! (the user the key belonged to when it last authenticated in this process) and, fresh, the
//! catalog entries that carry its right; TransactWriteItems. Cold, the key's GetItem comes
//! first, and the caller's and the requested uuids the catalog cache does not know yet cost a
//! BatchGetItem each. Neither the catalog cache nor the key's known owner authorizes alone: the
//! key, the caller and the right are judged on items read in the request (see `auth`), and the
//! transaction re-checks that the caller still holds the right and that its key is still live.
//! No item the transaction touches is shared by unrelated requests (see `store::change`).

pub mod add;
pub mod auth;
mod change;
pub mod errors;
pub mod list;
pub mod remove;
pub mod request;

pub use self::add::Add;
pub use self::list::List;
pub use self::remove::Remove;

use aws_sdk_dynamodb::Client;

use self::errors::{FieldErrors, OrgError};
use crate::config::{ConfigError, process_env, table_name};
use crate::domain::PermissionSet;
use crate::store::catalog::Catalog;
use crate::store::change::{ChangeOutcome, Changes, limit_message};
use crate::store::idempotency::StoredAnswer;
use crate::store::timing::instrumented;
use crate::store::tokens::{TOKEN_HASH, Tokens};
use crate::store::{self};

/// The catalog codename a caller's permissions must include to change a user's (or read them).
pub const EDIT_ORG_USERS: &str = "edit_org_users";
/// The codename that lets a caller read a user's permissions without changing them.
pub const VIEW_ORG_USERS: &str = "view_org_users";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgTables {
    pub users: String,
    pub tokens: String,
    pub permissions: String,
    pub audit: String,
    pub idempotency: String,
}

impl OrgTables {
    pub fn from_env(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            users: table_name(lookup, "USERS_TABLE")?,
            tokens: table_name(lookup, "TOKENS_TABLE")?,
            permissions: table_name(lookup, "PERMISSIONS_TABLE")?,
            audit: table_name(lookup, "AUDIT_TABLE")?,
            idempotency: table_name(lookup, "IDEMPOTENCY_TABLE")?,
        })
    }
}

/// The org API's state, built once per process: the stores and the warm catalog cache.
#[derive(Debug)]
pub struct OrgApi {
    tokens: Tokens,
    users_table: String,
    catalog: Catalog,
    changes: Changes,
    key_owners: auth::KeyOwners,
}

impl OrgApi {
    pub fn new(client: &Client, tables: OrgTables) -> Self {
        let client = instrumented(client);
        Self {
            tokens: Tokens::new(client.clone(), tables.tokens.clone()),
            users_table: tables.users.clone(),
            catalog: Catalog::new(client.clone(), tables.permissions),
            changes: Changes::new(client, tables.users, tables.audit)
                .with_tokens(tables.tokens)
                .with_idempotency(tables.idempotency),
            key_owners: auth::KeyOwners::default(),
        }
    }

    /// Changes to one user made by this process take turns (see `Changes::taking_turns`): for
    /// `local-api`, which serves every request in one process over DynamoDB Local.
    pub fn taking_turns_per_user(mut self) -> Self {
        self.changes = self.changes.taking_turns();
        self
    }

    /// Reads the tables' names before anything slower, so a missing one fails init at once; then
    /// opens the DynamoDB connection with a read of the tokens table, the one its IAM policy
    /// allows GetItem on.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let tables = OrgTables::from_env(&process_env)?;
        let client = store::client_from_env(&process_env).await?;
        store::warm_connection(&client, &tables.tokens, TOKEN_HASH).await;
        Ok(Self::new(&client, tables))
    }

    /// Refuses uuids the catalog lacks, in DRF's words: a typo must not pass silently.
    async fn require_in_catalog(&self, permission_uuids: &PermissionSet) -> Result<(), OrgError> {
        let known = self.catalog.codenames(permission_uuids.iter()).await?;
        let unknown: Vec<String> = permission_uuids
            .iter()
            .filter(|uuid| !known.contains_key(*uuid))
            .map(|uuid| format!("Invalid pk \"{uuid}\" - object does not exist."))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(OrgError::InvalidFields(FieldErrors::from([("permission_uuids", unknown)])))
    }
}

/// A change that was made: now (and whether it changed anything), or before, under the same
/// `Idempotency-Key` (its first answer).
enum Applied {
    Now(bool),
    Before(StoredAnswer),
}

/// A change's outcome in the org API's terms: applied, or its refusal.
fn changed(outcome: ChangeOutcome) -> Result<Applied, OrgError> {
    Err(match outcome {
        ChangeOutcome::Applied { changed } => return Ok(Applied::Now(changed)),
        ChangeOutcome::Replayed(stored) => return Ok(Applied::Before(stored)),
        ChangeOutcome::KeyReused => OrgError::IdempotencyKeyReused,
        ChangeOutcome::KeyInUse => OrgError::RequestInProgress,
        ChangeOutcome::TargetNotFound => OrgError::NotFound,
        ChangeOutcome::CallerUnknown => OrgError::InvalidToken,
        ChangeOutcome::CallerForbidden => OrgError::PermissionDenied,
        ChangeOutcome::LimitExceeded { would_hold } => {
            OrgError::InvalidFields(FieldErrors::from([("permission_uuids", vec![limit_message(would_hold)])]))
        }
    })
}
