//! Every endpoint on `http://127.0.0.1:$PORT` (default 3000), routed as API Gateway routes them,
//! through the same handlers the Lambda binaries run. Configured like the functions, plus `PORT`.

use std::sync::Arc;

use lambda_http::Error;
use permissions_service::admin::{AdminApi, AdminTables};
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::config::{ConfigError, optional, process_env};
use permissions_service::local::api::LocalApi;
use permissions_service::org::{OrgApi, OrgTables};
use permissions_service::telemetry::metrics::Metrics;
use permissions_service::{store, telemetry};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let port: u16 = match optional(&process_env, "PORT") {
        None => 3000,
        Some(port) => {
            port.parse().map_err(|_| ConfigError { variable: "PORT", problem: "must be a TCP port number".into() })?
        }
    };
    let org_tables = OrgTables::from_env(&process_env)?;
    let admin_tables = AdminTables::from_env(&process_env)?;
    let endpoint = store::dynamodb_endpoint(&process_env)?;
    let sdk = store::sdk_config().await;
    let jwt = JwtVerifier::from_env(&process_env, || aws_sdk_secretsmanager::Client::new(&sdk)).await?;
    let client = store::dynamodb_client(&sdk, endpoint);
    let metrics = Metrics::emf_from_env(&process_env);
    let api = LocalApi::new(OrgApi::new(&client, org_tables), AdminApi::new(&client, admin_tables, jwt), metrics);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!("local-api listening on http://127.0.0.1:{port}");
    // From the route table itself, so the list a person reads is the list served.
    for route in api.routes() {
        tracing::info!("serving {} {}", route.method, route.path);
    }
    Arc::new(api)
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
