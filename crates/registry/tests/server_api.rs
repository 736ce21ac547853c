//! kafkit's registry server as a document and a gate: its OpenAPI document describes what
//! every route answers, and with users configured only they get in.

use std::sync::Arc;

use kafkit_registry::{RegistryClient, RegistryClientConfig, RegistryService, Schema, ServerAuth};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn server(auth: Option<ServerAuth>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let registry = Arc::new(RegistryService::in_memory());
    tokio::spawn(kafkit_registry::serve(listener, registry, auth));
    address
}

/// One HTTP/1.1 request; the status and the body.
async fn request(address: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\
         Content-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

/// The component a `$ref` names.
fn component<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_what_every_route_answers() {
    let address = server(None).await;
    let client =
        RegistryClient::new(RegistryClientConfig::new(format!("http://{address}"))).unwrap();
    client
        .register("s", &Schema::avro(r#""string""#))
        .await
        .unwrap();
    let (status, text) = request(&address, "GET", "/openapi.json", None).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&text).unwrap();
    let paths = doc["paths"].as_object().unwrap();

    // Every method of every path, deletes last so that the reads find what they read.
    let mut operations = Vec::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            operations.push((method.to_uppercase(), path.clone(), operation.clone()));
        }
    }
    assert_eq!(operations.len(), 26, "every handler is documented");
    operations.sort_by_key(|(method, _, _)| method == "DELETE");
    for (method, path, operation) in operations {
        let concrete = path
            .replace("{id}", "1")
            .replace("{subject}", "s")
            .replace("{version}", "1");
        let body = operation["requestBody"]["content"]
            .as_object()
            .map(|content| content.values().next().unwrap()["schema"].clone())
            .map(|schema| match schema["$ref"].as_str() {
                Some("#/components/schemas/Schema") => r#"{"schema":"\"string\""}"#,
                Some("#/components/schemas/LevelSetting") => r#"{"compatibility":"FULL"}"#,
                _ => r#"{"mode":"READWRITE"}"#,
            });
        let (status, text) = request(&address, &method, &concrete, body).await;
        let documented = &operation["responses"][status.to_string()];
        assert!(
            documented.is_object(),
            "{method} {path}: status {status} is not documented ({text})"
        );
        let Some(schema) = documented["content"]["application/json"]["schema"].as_object() else {
            continue; // text/plain: the schema text alone
        };
        let answer: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
        let schema = Value::Object(schema.clone());
        let shape = component(&doc, &schema);
        for field in shape["required"].as_array().into_iter().flatten() {
            let field = field.as_str().unwrap();
            assert!(
                !answer[field].is_null(),
                "{method} {path}: {field} missing from {answer}"
            );
        }
        if shape["type"] == "array" {
            assert!(answer.is_array(), "{method} {path}: {answer}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_users_only_they_get_in_and_health_stays_open() {
    let auth = ServerAuth::parse("# who\nci: s3cret,admin\n", "users").unwrap();
    let address = server(Some(auth)).await;
    let url = format!("http://{address}");

    let anonymous = RegistryClient::new(RegistryClientConfig::new(&url)).unwrap();
    let err = anonymous.subjects(false).await.unwrap_err();
    assert_eq!(err.code(), Some(401), "{err}");
    let wrong = RegistryClientConfig::new(&url)
        .set("basic.auth.user.info", "ci:guess")
        .unwrap();
    let err = RegistryClient::new(wrong)
        .unwrap()
        .subjects(false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(401), "{err}");

    let right = RegistryClientConfig::new(&url)
        .set("basic.auth.user.info", "ci:s3cret")
        .unwrap();
    let client = RegistryClient::new(right).unwrap();
    let id = client
        .register("orders-value", &Schema::avro(r#""long""#))
        .await
        .unwrap();
    assert_eq!(client.subjects(false).await.unwrap(), vec!["orders-value"]);
    assert_eq!(client.schema(id).await.unwrap().text, r#""long""#);

    let (status, text) = request(&address, "GET", "/health", None).await;
    assert_eq!((status, text.as_str()), (200, r#"{"status":"UP"}"#));
    let (status, text) = request(&address, "GET", "/openapi.json", None).await;
    assert_eq!(status, 401, "{text}");
}

/// Schemathesis (PyPI; scripts/test installs it) generates requests from the document —
/// its examples, boundary values, random ones, and sequences — and checks that no answer
/// is a server error and that every status, content type, header and body is documented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_every_answer_documented_and_no_server_error() {
    let address = server(None).await;
    let python = std::env::var("KAFKIT_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = tokio::process::Command::new(python)
        .args(["-m", "schemathesis.cli", "run"])
        .arg(format!("http://{address}/openapi.json"))
        .args(["--max-examples", "20", "--seed", "1", "--no-color"])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,response_headers_conformance",
        ])
        .output()
        .await
        .expect("python with schemathesis (scripts/test installs it)");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("Tested: 26"), "{report}");
}
