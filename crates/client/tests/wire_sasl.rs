//! SASL against a broker that demands it: Tansu with `--authentication` (SCRAM users on
//! sqlite), or Kafka with a SASL_PLAINTEXT listener (PLAIN and SCRAM).

mod common;

use std::time::Duration;

use kafkit_client::{Client, Error, SaslConfig};
use kafkit_testkit::{Broker, ScramUser};

fn start() -> Broker {
    Broker::start_sasl(&[
        ScramUser {
            name: "alice".into(),
            password: "alice-secret".into(),
            mechanism: "scram256",
        },
        ScramUser {
            name: "bob".into(),
            password: "bob-secret".into(),
            mechanism: "scram512",
        },
    ])
}

fn config(broker: &Broker, sasl: SaslConfig) -> kafkit_client::ClientConfig {
    common::config(&broker.bootstrap())
        .connect_timeout(Duration::from_secs(5))
        .retries(1)
        .sasl(sasl)
}

#[tokio::test(flavor = "multi_thread")]
async fn scram_sha256_and_sha512_authenticate() {
    let broker = tokio::task::spawn_blocking(start).await.unwrap();
    let client = Client::connect(config(
        &broker,
        SaslConfig::scram_sha256("alice", "alice-secret"),
    ))
    .await
    .unwrap();
    let topic = common::topic(&client, "sasl", 1).await;
    assert!(client
        .admin()
        .list_topics(false)
        .await
        .unwrap()
        .contains(&topic));
    let client = Client::connect(config(
        &broker,
        SaslConfig::scram_sha512("bob", "bob-secret"),
    ))
    .await
    .unwrap();
    assert!(client
        .admin()
        .list_topics(false)
        .await
        .unwrap()
        .contains(&topic));

    // Wrong password: a clear authentication error naming the mechanism, not a retry loop.
    let err = Client::connect(config(&broker, SaslConfig::scram_sha256("alice", "wrong")))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("SCRAM-SHA-256 authentication"), "{text}");
    assert!(
        !text.contains("wrong"),
        "the password leaked into the error: {text}"
    );

    // Unknown user.
    let err = Client::connect(config(&broker, SaslConfig::scram_sha512("mallory", "x")))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("SCRAM-SHA-512 authentication"),
        "{err}"
    );

    // No credentials at all: the broker refuses requests.
    let err = Client::connect(common::config(&broker.bootstrap()).retries(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoBrokers(_)), "{err}");

    let plain = Client::connect(config(&broker, SaslConfig::plain("alice", "alice-secret"))).await;
    if kafkit_testkit::on_kafka() {
        // Kafka enables PLAIN: it authenticates, and a wrong password is a clear error.
        let client = plain.unwrap();
        assert!(client
            .admin()
            .list_topics(false)
            .await
            .unwrap()
            .contains(&topic));
        let err = Client::connect(config(&broker, SaslConfig::plain("alice", "wrong")))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("PLAIN authentication"), "{text}");
        assert!(!text.contains("wrong"), "the password leaked: {text}");
    } else {
        // PLAIN is not enabled on Tansu: the error says so.
        let err = plain.unwrap_err();
        assert!(err.to_string().contains("PLAIN authentication"), "{err}");
    }
}

#[test]
fn credentials_never_show_in_debug_output() {
    let config =
        kafkit_client::ClientConfig::new(["h:1"]).sasl(SaslConfig::scram_sha256("u", "hunter2"));
    assert!(!format!("{config:?}").contains("hunter2"));
}
