//! What the admin reads share: the caller and the target read together, judged in the
//! contract's order.

use lambda_http::Request;

use super::AdminApi;
use super::errors::AdminError;
use crate::domain::ObjectId;
use crate::store::users::UserRecord;

impl AdminApi {
    /// The caller behind the bearer token, and the query it sent. Authentication precedes
    /// validation: a query that fails to parse is answered 401 when its caller does not exist.
    pub(super) async fn authenticated_query<Q>(
        &self,
        request: &Request,
        parse: impl FnOnce(&Request) -> Result<Q, AdminError>,
    ) -> Result<(String, Q), AdminError> {
        let caller_id = self.authenticate(request.headers()).await?;
        match parse(request) {
            Ok(query) => Ok((caller_id, query)),
            Err(invalid) => Err(self.unknown_caller_first(&caller_id, invalid).await),
        }
    }

    /// The target, once the caller is known to exist (401) and to be an admin (403); 404 when the
    /// target does not exist. One BatchGetItem reads both.
    pub(super) async fn target_for_admin(
        &self,
        caller_id: &str,
        target: &ObjectId,
        what: &'static str,
    ) -> Result<UserRecord, AdminError> {
        let (caller, target) = self.users.get_pair(caller_id, target.as_str()).await?;
        judged(caller, target, what)
    }
}

fn judged(
    caller: Option<UserRecord>,
    target: Option<UserRecord>,
    what: &'static str,
) -> Result<UserRecord, AdminError> {
    match caller {
        None => Err(AdminError::InvalidToken),
        Some(caller) if !caller.is_admin() => Err(AdminError::Forbidden(what)),
        Some(_) => target.ok_or(AdminError::UserNotFound),
    }
}
