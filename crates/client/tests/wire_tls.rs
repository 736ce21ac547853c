//! TLS: verified by default, CA files, host names, client certificates. On Kafka, straight to
//! the broker's SSL listener; Tansu serves only plaintext, so there the fault proxy terminates
//! TLS in front of it (see docs/TESTING.md).

mod common;

use std::time::Duration;

use kafkit_client::{Client, Error, TlsConfig};
use kafkit_testkit::TestPki;

/// A broker that clients reach over TLS with the test PKI's server certificate.
enum TlsBroker {
    /// Kafka's own SSL listener.
    Kafka(kafkit_testkit::Broker),
    /// Tansu behind a proxy that terminates TLS.
    Proxied(common::Proxied),
}

impl TlsBroker {
    /// With `require_client_cert`, clients must present a certificate signed by the CA.
    async fn start(pki: &TestPki, require_client_cert: bool) -> TlsBroker {
        if !kafkit_testkit::on_kafka() {
            let p = common::Proxied::start(Some(pki.server_config(require_client_cert))).await;
            return TlsBroker::Proxied(p);
        }
        let (chain, key) = pki.server_files();
        let client_ca = require_client_cert.then(|| pki.ca_file());
        let options = kafkit_testkit::BrokerOptions {
            kafka: kafkit_testkit::KafkaOptions {
                security: kafkit_testkit::KafkaSecurity::Ssl {
                    chain,
                    key,
                    client_ca,
                },
                ..Default::default()
            },
            ..Default::default()
        };
        let broker =
            tokio::task::spawn_blocking(move || kafkit_testkit::Broker::start_with(options))
                .await
                .unwrap();
        TlsBroker::Kafka(broker)
    }

    fn bootstrap(&self) -> String {
        match self {
            TlsBroker::Kafka(b) => b.bootstrap(),
            TlsBroker::Proxied(p) => p.bootstrap(),
        }
    }
}

fn config(bootstrap: &str, tls: TlsConfig) -> kafkit_client::ClientConfig {
    common::config(bootstrap)
        .connect_timeout(Duration::from_secs(3))
        .retries(1)
        .tls(tls)
}

#[tokio::test]
async fn tls_with_a_trusted_ca_works() {
    let pki = TestPki::new(&["localhost", "127.0.0.1"]);
    let p = TlsBroker::start(&pki, false).await;
    let client = Client::connect(config(
        &p.bootstrap(),
        TlsConfig::default().ca_file(pki.ca_file()),
    ))
    .await
    .unwrap();
    let topic = common::topic(&client, "tls", 1).await;
    assert!(client
        .admin()
        .list_topics(false)
        .await
        .unwrap()
        .contains(&topic));
    assert_eq!(client.cached_view().brokers.len(), 1);
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let pki = TestPki::new(&["localhost", "127.0.0.1"]);
    let p = TlsBroker::start(&pki, false).await;
    // Trusting an unrelated CA.
    let err = Client::connect(config(
        &p.bootstrap(),
        TlsConfig::default().ca_file(pki.other_ca_file()),
    ))
    .await
    .unwrap_err();
    assert!(err.to_string().contains("TLS handshake"), "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    // System roots do not know the test CA either.
    let err = Client::connect(config(&p.bootstrap(), TlsConfig::default()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("TLS handshake"), "{err}");
    // Only an explicit opt-out accepts it.
    Client::connect(config(
        &p.bootstrap(),
        TlsConfig::default().danger_accept_invalid_certificates(),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn the_host_name_is_verified_unless_disabled() {
    let pki = TestPki::new(&["kafka.example.test"]);
    let p = TlsBroker::start(&pki, false).await;
    let err = Client::connect(config(
        &p.bootstrap(),
        TlsConfig::default().ca_file(pki.ca_file()),
    ))
    .await
    .unwrap_err();
    assert!(err.to_string().contains("TLS handshake"), "{err}");
    assert!(
        err.to_string().contains("NotValidForName") || err.to_string().contains("not valid for"),
        "{err}"
    );
    Client::connect(config(
        &p.bootstrap(),
        TlsConfig::default()
            .ca_file(pki.ca_file())
            .danger_skip_hostname_verification(),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn client_certificates_for_mutual_tls() {
    let pki = TestPki::new(&["localhost", "127.0.0.1"]);
    let p = TlsBroker::start(&pki, true).await;
    let (cert, key) = pki.client_files();
    Client::connect(config(
        &p.bootstrap(),
        TlsConfig::default()
            .ca_file(pki.ca_file())
            .client_auth(cert, key),
    ))
    .await
    .unwrap();
    let err = Client::connect(config(
        &p.bootstrap(),
        TlsConfig::default().ca_file(pki.ca_file()),
    ))
    .await
    .unwrap_err();
    // TLS 1.3: the server's rejection arrives after the handshake, as a closed connection.
    assert!(matches!(err, Error::NoBrokers(_)), "{err}");
}

#[tokio::test]
async fn a_missing_ca_file_is_a_config_error_naming_it() {
    let err = Client::connect(config(
        "127.0.0.1:1",
        TlsConfig::default().ca_file("/nonexistent/ca.pem"),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}
