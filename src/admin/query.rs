//! The admin reads' query string, as API Gateway delivers it (a parameter repeated, encoded,
//! or empty), read from the request's query parameters and never trusted further than parsed.
//! Names are case-sensitive and unknown ones are ignored; each known one may be given once.

use lambda_http::{Request, RequestExt};

use super::cursor::Cursor;
use super::errors::AdminError;
use crate::domain::ObjectId;

/// A history page's size when `limit` is not given, and the largest one may ask for.
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

/// The one value of `name`, `None` when absent; a repeated name is a problem.
fn single<'a>(request: &'a Request, name: &'static str) -> Result<Option<&'a str>, String> {
    let Some(values) = request.query_string_parameters_ref().and_then(|parameters| parameters.all(name)) else {
        return Ok(None);
    };
    match values.as_slice() {
        [] => Ok(None),
        [value] => Ok(Some(value)),
        _ => Err(format!("{name} must be given once.")),
    }
}

/// `userId`: required, a MongoDB ObjectId in any case.
pub fn user_id(request: &Request) -> Result<ObjectId, AdminError> {
    parsed_user_id(request).map_err(AdminError::Validation)
}

fn parsed_user_id(request: &Request) -> Result<ObjectId, String> {
    match single(request, "userId")? {
        None => Err("userId query parameter is required.".to_owned()),
        Some(text) => {
            ObjectId::parse(text).ok_or_else(|| "userId must be a MongoDB ObjectId (24 hexadecimal characters).".into())
        }
    }
}

/// A history request's page: its size and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub user_id: ObjectId,
    pub limit: usize,
    /// The event id to continue after; `None` for the newest page.
    pub after: Option<String>,
}

/// `userId`, `limit` (1 to 100, default 20) and `cursor` (from the previous page's
/// `nextCursor`, for this same `userId`; empty means none). Problems are named together.
pub fn page(request: &Request) -> Result<PageRequest, AdminError> {
    let mut problems = Vec::new();
    let user_id = parsed_user_id(request).map_err(|problem| problems.push(problem)).ok();
    let limit = match single(request, "limit") {
        Ok(None) => Some(DEFAULT_LIMIT),
        Ok(Some(text)) => match text.parse::<usize>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) && !text.starts_with('+') => Some(limit),
            _ => {
                problems.push(format!("limit must be an integer from 1 to {MAX_LIMIT}."));
                None
            }
        },
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    let cursor = match single(request, "cursor") {
        Ok(None | Some("")) => Some(None),
        Ok(Some(text)) => match (Cursor::decode(text), &user_id) {
            (Some(cursor), Some(user_id)) if cursor.user_id == user_id.as_str() => Some(Some(cursor.after)),
            (Some(_), Some(_)) => {
                problems.push("cursor was issued for another userId.".to_owned());
                None
            }
            (Some(_), None) => None,
            (None, _) => {
                problems.push("cursor is not a cursor this service issued.".to_owned());
                None
            }
        },
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    match (user_id, limit, cursor) {
        (Some(user_id), Some(limit), Some(after)) if problems.is_empty() => Ok(PageRequest { user_id, limit, after }),
        _ => Err(AdminError::Validation(problems.join(" "))),
    }
}
