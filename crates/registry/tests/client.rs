//! The registry client against kafkit's registry server: every call, Confluent's error codes
//! as typed errors, and bounded retries when nothing answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafkit_registry::{
    Compatibility, RegistryClient, RegistryClientConfig, RegistryService, Schema, ServerAuth,
    VersionSpec,
};

async fn server() -> String {
    server_with(None).await
}

async fn server_with(auth: Option<ServerAuth>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let registry = Arc::new(RegistryService::in_memory());
    tokio::spawn(kafkit_registry::serve(listener, registry, auth));
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_gets_the_registrys_answer() {
    let client = RegistryClient::new(RegistryClientConfig::new(server().await)).unwrap();
    let v1 = Schema::avro(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#);
    let v2 = Schema::avro(
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}]}"#,
    );
    let bad =
        Schema::avro(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}"#);
    let subject = "weird/subject name";
    let id1 = client.register(subject, &v1).await.unwrap();
    assert_eq!(client.register(subject, &v1).await.unwrap(), id1);
    let id2 = client.register(subject, &v2).await.unwrap();
    assert_ne!(id1, id2);
    assert_eq!(client.schema(id1).await.unwrap(), v1);
    assert_eq!(client.subjects(false).await.unwrap(), [subject]);
    assert_eq!(client.versions(subject, false).await.unwrap(), [1, 2]);
    let latest = client.version(subject, VersionSpec::Latest).await.unwrap();
    assert_eq!((latest.version, latest.id), (2, id2));
    let found = client.lookup(subject, &v1).await.unwrap();
    assert_eq!((found.version, found.id), (1, id1));

    let err = client.register(subject, &bad).await.unwrap_err();
    assert_eq!(err.code(), Some(409), "{err}");
    assert!(!err.is_retriable());
    let (ok, why) = client
        .check(subject, VersionSpec::Latest, &bad)
        .await
        .unwrap();
    assert!(!ok);
    assert!(!why.is_empty());
    assert!(
        client
            .check(subject, VersionSpec::Latest, &v2)
            .await
            .unwrap()
            .0
    );

    assert_eq!(
        client.compatibility(Some(subject)).await.unwrap(),
        Compatibility::Backward
    );
    client
        .set_compatibility(Some(subject), Compatibility::None)
        .await
        .unwrap();
    assert_eq!(
        client.compatibility(Some(subject)).await.unwrap(),
        Compatibility::None
    );
    assert_eq!(
        client.compatibility(None).await.unwrap(),
        Compatibility::Backward
    );
    client.register(subject, &bad).await.unwrap();

    let err = client
        .version("nope", VersionSpec::Latest)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(40401));
    assert!(
        err.to_string().contains("Subject 'nope' not found"),
        "{err}"
    );
    assert_eq!(client.schema(9999).await.unwrap_err().code(), Some(40403));

    assert_eq!(
        client
            .delete_version(subject, VersionSpec::Number(1), false)
            .await
            .unwrap(),
        1
    );
    assert_eq!(client.delete_subject(subject, false).await.unwrap(), [2, 3]);
    assert_eq!(
        client
            .delete_subject(subject, false)
            .await
            .unwrap_err()
            .code(),
        Some(40404)
    );
    assert_eq!(
        client.delete_subject(subject, true).await.unwrap(),
        [1, 2, 3]
    );
    assert!(client.subjects(true).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_and_json_schemas_are_held_to_the_subjects_compatibility_level() {
    let client = RegistryClient::new(RegistryClientConfig::new(server().await)).unwrap();
    let proto = |body: &str| Schema::protobuf(format!("syntax = \"proto3\"; package shop; {body}"));
    let subject = "orders-value";
    client
        .register(
            subject,
            &proto("message Order { int32 id = 1; string note = 2; }"),
        )
        .await
        .unwrap();
    // A wider integer and a new field: wire-compatible, registered.
    client
        .register(
            subject,
            &proto("message Order { int64 id = 1; string note = 2; bool paid = 3; }"),
        )
        .await
        .unwrap();
    let err = client
        .register(
            subject,
            &proto("message Order { string id = 1; bool paid = 3; }"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(409), "{err}");
    assert!(
        err.to_string()
            .contains("field Order.id (1) changed from int64 to string"),
        "{err}"
    );
    let (ok, why) = client
        .check(
            subject,
            VersionSpec::Latest,
            &proto("message Renamed { int64 id = 1; }"),
        )
        .await
        .unwrap();
    assert!(!ok);
    assert!(
        why.iter().any(|w| w.contains("message Order was removed")),
        "{why:?}"
    );

    // JSON Schema, FORWARD: the older schema must accept what the new one allows.
    let subject = "events-value";
    client
        .set_compatibility(Some(subject), Compatibility::Forward)
        .await
        .unwrap();
    let object = |props: &str| {
        Schema::json(format!(
            r#"{{"type": "object", "properties": {{{props}}}, "additionalProperties": false}}"#
        ))
    };
    client
        .register(
            subject,
            &object(r#""n": {"type": "number"}, "s": {"type": "string"}"#),
        )
        .await
        .unwrap();
    // Narrower, and a property dropped from the closed model: older readers accept it all.
    client
        .register(subject, &object(r#""n": {"type": "integer"}"#))
        .await
        .unwrap();
    let err = client
        .register(
            subject,
            &object(r#""n": {"type": "integer"}, "t": {"type": "string"}"#),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(409), "{err}");
    assert!(
        err.to_string()
            .contains("an older schema cannot read data written with the new one: at $: the writer's property t is not in the reader's closed content model"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_registry_is_retried_a_bounded_number_of_times() {
    let port = kafkit_testkit::free_port(); // nothing listens there
    let mut config = RegistryClientConfig::new(format!("http://127.0.0.1:{port}"));
    config = config.set("schema.registry.max.retries", "2").unwrap();
    let client = RegistryClient::new(config).unwrap();
    let started = Instant::now();
    let err = client.schema(1).await.unwrap_err();
    assert!(err.is_retriable(), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    // Two retries: pauses of 200 and 400 ms, then it gives up.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn credentials_stay_out_of_debug_output_and_bad_properties_are_named() {
    let config = RegistryClientConfig::new("http://localhost:8081")
        .set("basic.auth.user.info", "alice:s3cret")
        .unwrap();
    assert!(!format!("{config:?}").contains("s3cret"));
    let err = RegistryClientConfig::new("http://x")
        .set("basic.auth.user.info", "no-colon")
        .unwrap_err();
    assert!(err.to_string().contains("basic.auth.user.info"), "{err}");
    assert!(RegistryClientConfig::new("http://x")
        .set("nonsense", "1")
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_verifies_the_registrys_certificate() {
    // kafkit's registry serves plain HTTP; a TLS-terminating proxy puts it behind https.
    let pki = kafkit_testkit::TestPki::new(&["localhost", "127.0.0.1"]);
    let upstream = server().await.trim_start_matches("http://").to_string();
    let port = kafkit_testkit::free_port();
    let _proxy =
        kafkit_testkit::FaultProxy::start_on(port, &upstream, Some(pki.server_config(false))).await;
    let url = format!("https://localhost:{port}");
    let trusted = RegistryClientConfig::new(&url)
        .set(
            "schema.registry.ssl.ca.location",
            pki.ca_file().to_str().unwrap(),
        )
        .unwrap();
    let client = RegistryClient::new(trusted).unwrap();
    assert!(client.subjects(false).await.unwrap().is_empty());
    // Another CA: the certificate is refused, and the error says so.
    let untrusted = RegistryClientConfig::new(&url)
        .set(
            "schema.registry.ssl.ca.location",
            pki.other_ca_file().to_str().unwrap(),
        )
        .unwrap()
        .set("schema.registry.max.retries", "0")
        .unwrap();
    let err = RegistryClient::new(untrusted)
        .unwrap()
        .subjects(false)
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
}
