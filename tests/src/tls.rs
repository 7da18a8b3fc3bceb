//! HTTPS on loopback for tests: a private CA made on the spot (rcgen) and
//! a router served with it by the runtime's own server.

use std::path::PathBuf;

use audiences_server::runtime::{ServeOptions, serve, tls_config_pem};

/// A certificate authority and a server certificate it signed, for
/// `localhost` and `127.0.0.1`.
pub struct TestCa {
    /// The CA's certificate, PEM: what a client must trust.
    pub ca_pem: String,
    /// The server's certificate, PEM.
    pub server_pem: String,
    /// The server's private key, PEM.
    pub server_key_pem: String,
}

impl TestCa {
    /// A fresh CA and server certificate.
    pub fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "audiences test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        server_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server = server_params.signed_by(&server_key, &ca).unwrap();
        Self {
            ca_pem: ca.pem(),
            server_pem: server.pem(),
            server_key_pem: server_key.serialize_pem(),
        }
    }

    /// Writes the CA certificate to a file (for `SSL_CERT_FILE` or a
    /// `--ca-cert` flag) and returns its path.
    pub fn write_ca(&self, name: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("audiences-{name}-{}.pem", std::process::id()));
        std::fs::write(&path, &self.ca_pem).unwrap();
        path
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

/// `router` served over HTTPS on a free loopback port with a certificate
/// of `ca`, in the background; returns `https://localhost:PORT`.
pub async fn serve_tls(router: axum::Router, ca: &TestCa) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let options = ServeOptions {
        tls: Some(tls_config_pem(ca.server_pem.as_bytes(), ca.server_key_pem.as_bytes()).unwrap()),
        ..ServeOptions::default()
    };
    tokio::spawn(serve(listener, router, options, std::future::pending()));
    format!("https://localhost:{port}")
}
