//! Prepares a local DynamoDB for `local-api`: creates the tables exactly as `template.yaml`
//! declares them, loads the demo data, and prints the demo credentials with curl examples.
//! Usage: `local-setup [path/to/template.yaml]`, configured by the same variables as the functions.

use std::time::{Duration, Instant};

use lambda_http::Error;
use permissions_service::config::{ConfigError, optional, process_env, required};
use permissions_service::local::{demo, template};
use permissions_service::org::OrgTables;
use permissions_service::store;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let template_path = std::env::args().nth(1).unwrap_or_else(|| "template.yaml".to_owned());
    // Demo data holds well-known credentials: it must never land in a real AWS account.
    let endpoint = required(&process_env, "DYNAMODB_ENDPOINT")?;
    let host = endpoint.split("://").nth(1).unwrap_or_default();
    if !["localhost", "127.0.0.1", "[::1]"].iter().any(|local| host.starts_with(local)) {
        return Err(ConfigError {
            variable: "DYNAMODB_ENDPOINT",
            problem: "local-setup only writes to a DynamoDB on this machine (localhost)".into(),
        }
        .into());
    }
    let tables = OrgTables::from_env(&process_env)?;
    let client = store::client_from_env(&process_env).await?;

    let deadline = Instant::now() + Duration::from_secs(60);
    while let Err(error) = client.list_tables().send().await {
        if Instant::now() > deadline {
            let error = aws_sdk_dynamodb::error::DisplayErrorContext(error);
            return Err(format!("DynamoDB at {endpoint} did not answer within 60 s: {error}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let definitions = template::parse(&std::fs::read_to_string(&template_path)?)?;
    template::create_tables(&client, &definitions, process_env).await?;
    demo::seed(&client, &tables).await?;
    let port: u16 = optional(&process_env, "PORT").and_then(|port| port.parse().ok()).unwrap_or(3000);
    let base_url = format!("http://127.0.0.1:{port}");
    println!("{}", demo::guide(&base_url));
    if optional(&process_env, "ROUTE_PERMISSIONS").is_some() {
        let protected_port = optional(&process_env, "PROTECTED_PORT").and_then(|port| port.parse().ok());
        let protected_url = format!("http://127.0.0.1:{}", protected_port.unwrap_or(port + 1));
        println!("{}", demo::protected_guide(&base_url, &protected_url));
    }
    Ok(())
}
