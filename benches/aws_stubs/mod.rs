//! What the cold-start runs talk to besides DynamoDB Local: a TLS endpoint in front of a plain
//! TCP server (DynamoDB Local is HTTP only, AWS is HTTPS only), and a Secrets Manager that answers
//! GetSecretValue as AWS does for a secret never rotated.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// Where the binaries' rustls-native-certs looks when it is set: the bench's CA, then the
/// system's bundle, so that the binaries parse a root store the size of the one they parse in
/// Lambda (Amazon Linux 2023's bundle, about 140 roots), neither one certificate nor, as they
/// would here without it, Debian's bundle and then every file of /etc/ssl/certs again.
pub const TRUST_VARIABLE: &str = "SSL_CERT_FILE";

const SYSTEM_BUNDLES: [&str; 2] = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

/// A throwaway CA and a server certificate it signed for 127.0.0.1 and localhost, made with the
/// `openssl` CLI in a temporary folder removed on drop. A chain rather than one self-signed
/// certificate: webpki refuses a CA certificate as a server's, and AWS serves a chain too. RSA
/// 2048, as DynamoDB's certificate is.
pub struct Certificates {
    dir: PathBuf,
    /// The file to point [`TRUST_VARIABLE`] at.
    pub trust_file: PathBuf,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Certificates {
    pub fn generate() -> Self {
        let dir = std::env::temp_dir().join(format!("permissions-service-bench-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let extensions = "subjectAltName = IP:127.0.0.1, DNS:localhost\n\
                          basicConstraints = critical, CA:FALSE\n\
                          keyUsage = critical, digitalSignature, keyEncipherment\n\
                          extendedKeyUsage = serverAuth\n";
        std::fs::write(dir.join("server.ext"), extensions).unwrap();
        openssl(
            &dir,
            &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"],
            &["-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=permissions-service bench CA"],
        );
        openssl(
            &dir,
            &["req", "-new", "-newkey", "rsa:2048", "-nodes"],
            &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
        );
        openssl(
            &dir,
            &["x509", "-req", "-days", "2", "-set_serial", "1"],
            &["-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-extfile", "server.ext", "-out", "server.pem"],
        );

        let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
        let (ca, server) = (read("ca.pem"), read("server.pem"));
        let mut trusted = ca.clone();
        if let Some(bundle) = SYSTEM_BUNDLES.iter().find_map(|path| std::fs::read(path).ok()) {
            trusted.extend_from_slice(&bundle);
        }
        let trust_file = dir.join("trusted.pem");
        std::fs::write(&trust_file, trusted).unwrap();

        let chain = CertificateDer::pem_slice_iter(&server)
            .chain(CertificateDer::pem_slice_iter(&ca))
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(&read("server.key")).unwrap();
        Self { dir, trust_file, chain, key }
    }

    fn server_config(&self) -> Arc<ServerConfig> {
        // The provider the SDK's rustls is built with: no second crypto library in the bench.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .unwrap();
        Arc::new(config)
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, head: &[&str], tail: &[&str]) {
    let output = Command::new("openssl")
        .args(head)
        .args(tail)
        .current_dir(dir)
        .output()
        .expect("the bench needs the `openssl` CLI to make its TLS certificates");
    assert!(output.status.success(), "openssl {head:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// Terminates TLS on loopback and relays the plain bytes to `upstream`, one upstream connection
/// per client connection, so keep-alive behaves end to end as it would without the proxy.
pub struct TlsProxy {
    pub url: String,
    task: JoinHandle<()>,
}

impl TlsProxy {
    pub async fn start(certificates: &Certificates, upstream: SocketAddr) -> Self {
        let acceptor = TlsAcceptor::from(certificates.server_config());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = client.set_nodelay(true);
                    let Ok(mut client) = acceptor.accept(client).await else { return };
                    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
                    let _ = server.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
        Self { url, task }
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// GetSecretValue, as the admin binary's init calls it: `AWSCURRENT` holds `secret`, and
/// `AWSPREVIOUS` does not exist (a secret never rotated), which Secrets Manager answers with a 400.
pub struct SecretsManagerStub {
    pub url: String,
    pub address: SocketAddr,
    answered: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl SecretsManagerStub {
    pub async fn start(secret: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let answered = Arc::new(AtomicUsize::new(0));
        let count = answered.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let count = count.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let count = count.clone();
                        async move { Ok::<_, Infallible>(answer_get_secret_value(request, secret, &count).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        });
        Self { url: format!("http://{address}"), address, answered, task }
    }

    /// GetSecretValue calls answered so far.
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::Relaxed)
    }
}

impl Drop for SecretsManagerStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer_get_secret_value(
    request: hyper::Request<hyper::body::Incoming>,
    secret: &str,
    answered: &AtomicUsize,
) -> hyper::Response<Full<Bytes>> {
    let body = request.into_body().collect().await.map(|body| body.to_bytes()).unwrap_or_default();
    let asked: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let id = asked["SecretId"].as_str().unwrap_or_default();
    answered.fetch_add(1, Ordering::Relaxed);
    let (status, answer) = if asked["VersionStage"] == "AWSCURRENT" {
        let answer = serde_json::json!({ "Name": id, "SecretString": secret, "VersionId": "v1",
                                         "VersionStages": ["AWSCURRENT"] });
        (200, answer)
    } else {
        let answer = serde_json::json!({ "__type": "ResourceNotFoundException",
                                         "message": "Secrets Manager can't find the specified secret value" });
        (400, answer)
    };
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(Bytes::from(answer.to_string())))
        .unwrap()
}
