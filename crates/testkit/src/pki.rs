//! Throwaway certificates for TLS tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA, a server certificate for `localhost` / `127.0.0.1`, and a client certificate, all
/// written as PEM files in a temp dir.
pub struct TestPki {
    dir: tempfile::TempDir,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
    ca_der: CertificateDer<'static>,
}

fn issue(
    names: &[&str],
    common_name: &str,
    ca: Option<(&rcgen::Certificate, &KeyPair)>,
) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().expect("key generation works");
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("the names are valid");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let cert = match ca {
        None => {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.self_signed(&key).expect("self-signing works")
        }
        Some((ca_cert, ca_key)) => params
            .signed_by(&key, ca_cert, ca_key)
            .expect("signing works"),
    };
    (cert, key)
}

impl TestPki {
    /// Generates a CA and a server certificate valid for `server_names`
    /// (e.g. `["localhost", "127.0.0.1"]`), plus a client certificate.
    pub fn new(server_names: &[&str]) -> TestPki {
        let dir = tempfile::tempdir().expect("a temp dir can be created");
        let (ca, ca_key) = issue(&[], "kafkit test CA", None);
        let (server, server_key) = issue(server_names, "kafkit test broker", Some((&ca, &ca_key)));
        let (client, client_key) = issue(&["client"], "kafkit test client", Some((&ca, &ca_key)));
        let write = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text).expect("the temp dir is writable")
        };
        write("ca.pem", ca.pem());
        write("server.pem", server.pem());
        write("server.key", server_key.serialize_pem());
        write("client.pem", client.pem());
        write("client.key", client_key.serialize_pem());
        // A second, unrelated CA: a client trusting only it must reject the server.
        let (other, _) = issue(&[], "unrelated CA", None);
        write("other-ca.pem", other.pem());
        TestPki {
            server_chain: vec![server.der().clone()],
            server_key: server_key.serialize_der(),
            ca_der: ca.der().clone(),
            dir,
        }
    }

    /// Directory holding the PEM files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// PEM file of the CA that signed everything.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// PEM file of a CA that signed nothing here.
    pub fn other_ca_file(&self) -> PathBuf {
        self.dir.path().join("other-ca.pem")
    }

    /// Server certificate chain and PKCS#8 key PEM files (for a broker's own TLS listener).
    pub fn server_files(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().join("server.pem"),
            self.dir.path().join("server.key"),
        )
    }

    /// Client certificate and key PEM files.
    pub fn client_files(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().join("client.pem"),
            self.dir.path().join("client.key"),
        )
    }

    /// A rustls server config presenting the server certificate; with `require_client_cert`
    /// clients must present a certificate signed by the CA.
    pub fn server_config(&self, require_client_cert: bool) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("default protocol versions are supported");
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca_der.clone()).expect("the CA is valid");
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("the client verifier builds");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        Arc::new(
            builder
                .with_single_cert(self.server_chain.clone(), key)
                .expect("the server certificate and key match"),
        )
    }
}
