//! The admin API: HS256 JWT bearer tokens, the caller's `role` = `admin`, any user, the
//! `{"error": {"code": ..., "message": ...}}` shape. Its state is built once per process and
//! shared by its endpoints; each operation is a file.
//!
//! - [`add`]: `PUT /user/add-permissions`.
//! - [`remove`]: `PUT /user/remove-permissions`.
//! - [`list`]: `GET /user/permissions?userId=`.
//! - [`history`]: `GET /user/permission-history?userId=[&limit][&cursor]`.
//! - [`check`]: `POST /user/check-permissions`: may a user do X now.
//!
//! Checks run in the contract's order: route, body size (413), JWT (401), request form (400),
//! the caller's admin role (403), then the conditional write (404 when the target is missing).
//!
//! DynamoDB round trips of a change on success: one. The JWT is verified locally and the
//! caller's role is checked inside the change's transaction (a `ConditionCheck` that returns the
//! caller's item on failure, which tells an unknown caller, 401, from a non-admin, 403). Only a
//! malformed body costs a read, to answer an unknown caller with 401 before any 400.

pub mod add;
pub mod auth;
mod change;
pub mod check;
mod cursor;
pub mod errors;
pub mod history;
pub mod list;
pub mod query;
mod read;
pub mod remove;
pub mod request;

use aws_sdk_dynamodb::Client;

pub use self::add::Add;
pub use self::check::Check;
pub use self::history::History;
pub use self::list::List;
pub use self::remove::Remove;
use crate::auth::jwt::JwtVerifier;
use crate::config::{ConfigError, process_env, table_name};
use crate::store::audit::AuditLog;
use crate::store::change::Changes;
use crate::store::timing::instrumented;
use crate::store::users::{USER_ID, Users};
use crate::store::{self};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTables {
    pub users: String,
    pub audit: String,
    pub idempotency: String,
}

impl AdminTables {
    pub fn from_env(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            users: table_name(lookup, "USERS_TABLE")?,
            audit: table_name(lookup, "AUDIT_TABLE")?,
            idempotency: table_name(lookup, "IDEMPOTENCY_TABLE")?,
        })
    }
}

/// The admin API's state, built once per process.
#[derive(Debug)]
pub struct AdminApi {
    jwt: JwtVerifier,
    users: Users,
    changes: Changes,
    history: AuditLog,
}

impl AdminApi {
    pub fn new(client: &Client, tables: AdminTables, jwt: JwtVerifier) -> Self {
        let client = instrumented(client);
        Self {
            jwt,
            users: Users::new(client.clone(), tables.users.clone()),
            history: AuditLog::new(client.clone(), tables.audit.clone()),
            changes: Changes::new(client, tables.users, tables.audit).with_idempotency(tables.idempotency),
        }
    }

    /// Changes to one user made by this process take turns (see `Changes::taking_turns`): for
    /// `local-api`, which serves every request in one process over DynamoDB Local.
    pub fn taking_turns_per_user(mut self) -> Self {
        self.changes = self.changes.taking_turns();
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
        Ok(Self::new(&client, tables, jwt))
    }
}
