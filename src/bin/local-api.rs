//! Every endpoint on `http://127.0.0.1:$PORT` (default 3000), routed as API Gateway routes them,
//! through the same handlers the Lambda binaries run. Configured like the functions, plus `PORT`.
//!
//! With `ROUTE_PERMISSIONS` set (scripts/run-local sets the example's), it also serves the
//! example's protected API on `http://127.0.0.1:$PROTECTED_PORT` (default `PORT` + 1): those
//! routes behind API Gateway's authorizer step and the authorizer's own entry path, with a stub
//! integration.

use std::sync::Arc;

use lambda_http::Error;
use permissions_service::admin::{AdminApi, AdminTables};
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::authorizer::{Authorizer, RoutePermissions};
use permissions_service::config::{ConfigError, optional, process_env};
use permissions_service::local::api::{LocalApi, LocalServer};
use permissions_service::local::protected::ProtectedServer;
use permissions_service::org::{OrgApi, OrgTables};
use permissions_service::telemetry::metrics::Metrics;
use permissions_service::{store, telemetry};
use tokio::net::TcpListener;

fn port_from_env(variable: &'static str, default: u16) -> Result<u16, ConfigError> {
    match optional(&process_env, variable) {
        None => Ok(default),
        Some(port) => port.parse().map_err(|_| ConfigError { variable, problem: "must be a TCP port number".into() }),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let port = port_from_env("PORT", 3000)?;
    let org_tables = OrgTables::from_env(&process_env)?;
    let admin_tables = AdminTables::from_env(&process_env)?;
    let protected_routes = optional(&process_env, "ROUTE_PERMISSIONS")
        .map(|_| {
            Ok::<_, ConfigError>((
                RoutePermissions::from_env(&process_env)?,
                port_from_env("PROTECTED_PORT", port + 1)?,
            ))
        })
        .transpose()?;
    let endpoint = store::dynamodb_endpoint(&process_env)?;
    let sdk = store::sdk_config().await;
    let jwt = || JwtVerifier::from_env(&process_env, || aws_sdk_secretsmanager::Client::new(&sdk));
    let client = store::dynamodb_client(&sdk, endpoint);
    let metrics = Metrics::emf_from_env(&process_env);
    let api = LocalApi::new(
        OrgApi::new(&client, org_tables.clone()),
        AdminApi::new(&client, admin_tables, jwt().await?),
        metrics.clone(),
    );
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!("local-api listening on http://127.0.0.1:{port}");
    // From the route table itself, so the list a person reads is the list served.
    for route in api.routes() {
        tracing::info!("serving {} {}", route.method, route.path);
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let Some((routes, protected_port)) = protected_routes else {
        Arc::new(api).serve(listener, shutdown).await?;
        return Ok(());
    };
    let route_keys: Vec<String> = routes.route_keys().map(str::to_owned).collect();
    let authorizer = Authorizer::new(&client, org_tables.users, routes, jwt().await?);
    let protected = ProtectedServer::new(route_keys.iter().map(String::as_str), authorizer, metrics);
    let protected_listener = TcpListener::bind(("127.0.0.1", protected_port)).await?;
    tracing::info!("the example's protected API, behind the authorizer, on http://127.0.0.1:{protected_port}");
    for route_key in &route_keys {
        tracing::info!("protecting {route_key}");
    }
    // Both servers stop on Ctrl-C; either failing stops both.
    let servers = async {
        tokio::try_join!(
            Arc::new(api).serve(listener, std::future::pending()),
            Arc::new(protected).serve(protected_listener, std::future::pending())
        )
    };
    tokio::select! {
        served = servers => { served?; }
        () = shutdown => {}
    }
    Ok(())
}
