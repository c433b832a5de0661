//! Every Lambda function of the service: the one list that `template.yaml`, the docs, the sample
//! events and the local runs are held against (tests fail naming what is missing). The HTTP
//! endpoints are the route table's routes, and the Lambda authorizer stands beside them; each
//! function is its own binary.

use crate::authorizer;
use crate::frame::routes::{ROUTES, Route};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// An HTTP endpoint behind the service's API: one route of the route table.
    Endpoint(&'static Route),
    /// The Lambda authorizer another team's API asks before each request.
    Authorizer,
}

impl Function {
    /// The binary, which is also the deployed function's name after `<stack name>-`.
    pub fn binary(&self) -> &'static str {
        match self {
            Function::Endpoint(route) => route.binary,
            Function::Authorizer => authorizer::BINARY,
        }
    }

    /// The route an endpoint serves; none for a function that is not an HTTP endpoint.
    pub fn route(&self) -> Option<&'static Route> {
        match self {
            Function::Endpoint(route) => Some(route),
            Function::Authorizer => None,
        }
    }

    /// What kind of function it is, as `template.per-function.yaml` names its sections.
    pub fn kind(&self) -> &'static str {
        match self {
            Function::Endpoint(_) => "endpoint",
            Function::Authorizer => "authorizer",
        }
    }
}

/// Every function: the endpoints in the route table's order, then the authorizer.
pub fn all() -> impl Iterator<Item = Function> {
    ROUTES.into_iter().map(Function::Endpoint).chain([Function::Authorizer])
}

/// The function built from `binary`, if the service has one.
pub fn by_binary(binary: &str) -> Option<Function> {
    all().find(|function| function.binary() == binary)
}
