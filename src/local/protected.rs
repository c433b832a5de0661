//! The example's protected API on this machine (examples/protected-api): its routes, the ones
//! `ROUTE_PERMISSIONS` names, behind API Gateway's authorizer step ([`super::gateway`]) and the
//! authorizer's own entry path, with a stub integration that echoes what the authorizer passed
//! on. So a grant or a revoke through local-api can be seen to count on the very next request.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use lambda_http::Context;

use super::api::LocalServer;
use super::gateway::{Gate, GatewayRequest, ProtectedApi};
use crate::authorizer::Authorizer;
use crate::lambda_entry::authorizer::answer;
use crate::telemetry::metrics::Metrics;

pub struct ProtectedServer {
    api: ProtectedApi,
    authorizer: Authorizer,
    metrics: Metrics,
}

impl ProtectedServer {
    pub fn new<'a>(route_keys: impl IntoIterator<Item = &'a str>, authorizer: Authorizer, metrics: Metrics) -> Self {
        Self { api: ProtectedApi::new(route_keys), authorizer, metrics }
    }
}

impl LocalServer for ProtectedServer {
    async fn answer(&self, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let request_id = uuid::Uuid::now_v7().to_string();
        let method = request.method().as_str().to_owned();
        let path = request.uri().path().to_owned();
        let Some(route_key) = self.api.route_key(&method, &path) else {
            return json(404, &serde_json::json!({ "message": "Not Found" }), &request_id);
        };
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let gateway_request = GatewayRequest::new(&route_key, &method, &path, &headers, &request_id)
            .with_query(request.uri().query().unwrap_or_default());
        let gate = if gateway_request.identity().is_none() {
            Gate::Unauthorized
        } else {
            let mut context = Context::default();
            context.request_id = request_id.clone();
            let answered = answer(&self.authorizer, &self.metrics, gateway_request.authorizer_event(), context).await;
            Gate::of_answer(answered.as_ref())
        };
        let (status, body) = gate.response(&route_key);
        json(status, &body, &request_id)
    }
}

fn json(status: u16, body: &serde_json::Value, request_id: &str) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("apigw-requestid", request_id)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}
