//! The Confluent Schema Registry REST API over a [`Registry`], with axum.
//!
//! Bodies are read as JSON whatever their content type (Confluent's clients send
//! `application/vnd.schemaregistry.v1+json`); errors are Confluent's
//! `{"error_code": ..., "message": ...}` with the matching HTTP status.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::error::RegistryError;
use crate::model::{Compatibility, Schema, SchemaType};
use crate::registry::VersionSpec;
use crate::service::RegistryService;

type SharedRegistry = Arc<RegistryService>;

type Params = Query<HashMap<String, String>>;
type Reply = Result<Json<Value>, ApiError>;

/// How long a request may take before it is answered with Confluent's "operation timed
/// out" (50002): a change waits on its journal's storage, which may be a slow cluster.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Answers requests that outlast `timeout` with error 50002 (the work is dropped with it).
pub fn with_request_timeout(router: Router, timeout: std::time::Duration) -> Router {
    router.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| async move {
            match tokio::time::timeout(timeout, next.run(request)).await {
                Ok(response) => response,
                Err(_) => ApiError(RegistryError {
                    code: 50002,
                    message: format!("Operation timed out after {timeout:?}"),
                })
                .into_response(),
            }
        },
    ))
}

/// The REST API's routes over `registry`, each request bounded by [`REQUEST_TIMEOUT`];
/// bodies are limited to axum's default 2 MB.
pub fn router(registry: Arc<RegistryService>) -> Router {
    with_request_timeout(routes(registry), REQUEST_TIMEOUT)
}

fn routes(registry: Arc<RegistryService>) -> Router {
    Router::new()
        .route("/", get(|| async { Json(json!({})) }))
        .route("/health", get(|| async { Json(json!({"status": "UP"})) }))
        .route(
            "/schemas/types",
            get(|| async { Json(json!(["JSON", "PROTOBUF", "AVRO"])) }),
        )
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(schema_text_by_id))
        .route("/schemas/ids/{id}/versions", get(versions_of_id))
        .route("/schemas/ids/{id}/subjects", get(subjects_of_id))
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route(
            "/subjects/{subject}/versions/{version}",
            get(version).delete(delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(version_text),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(referenced_by),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(check_version),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(check_all),
        )
        .route("/config", get(global_level).put(set_global_level))
        .route(
            "/config/{subject}",
            get(subject_level)
                .put(set_subject_level)
                .delete(clear_subject_level),
        )
        .route("/mode", get(mode).put(set_mode))
        .route("/mode/{subject}", get(mode).put(set_mode))
        .with_state(registry)
}

/// A [`RegistryError`] as an HTTP response.
pub struct ApiError(RegistryError);

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> ApiError {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = Json(json!({"error_code": self.0.code, "message": self.0.message}));
        (status, body).into_response()
    }
}

fn flag(params: &Params, name: &str) -> bool {
    params
        .get(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn parse_schema(body: &[u8]) -> Result<Schema, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError(RegistryError {
            code: 42201,
            message: format!("Invalid schema request: {e}"),
        })
    })
}

fn parse_id(id: &str) -> Result<i32, ApiError> {
    id.parse().map_err(|_| {
        ApiError(RegistryError {
            code: 40403,
            message: format!("Schema not found: id {id}."),
        })
    })
}

/// A schema as `/schemas/ids/{id}` shows it: no `schemaType` for Avro, as Confluent does.
fn schema_json(schema: &Schema) -> Value {
    let mut out = json!({"schema": schema.text});
    if schema.schema_type != SchemaType::Avro {
        out["schemaType"] = json!(schema.schema_type.name());
    }
    if !schema.references.is_empty() {
        out["references"] = json!(schema.references);
    }
    out
}

async fn schema_by_id(
    State(r): State<SharedRegistry>,
    Path(id): Path<String>,
    params: Params,
) -> Reply {
    let id = parse_id(&id)?;
    let registry = r.read().await;
    let schema = registry.formatted(registry.schema(id)?, format_of(&params))?;
    Ok(Json(schema_json(&schema)))
}

/// The `format` a client asks schemas in (`serialized`: Protobuf as a base64 descriptor).
fn format_of(params: &Params) -> Option<&str> {
    params.get("format").map(String::as_str)
}

async fn schema_text_by_id(State(r): State<SharedRegistry>, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    match r.read().await.schema(id) {
        Ok(schema) => schema.text.clone().into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

async fn versions_of_id(State(r): State<SharedRegistry>, Path(id): Path<String>) -> Reply {
    let uses = r.read().await.uses_of(parse_id(&id)?)?;
    let list: Vec<Value> = uses
        .into_iter()
        .map(|(subject, version)| json!({"subject": subject, "version": version}))
        .collect();
    Ok(Json(json!(list)))
}

async fn subjects_of_id(State(r): State<SharedRegistry>, Path(id): Path<String>) -> Reply {
    let uses = r.read().await.uses_of(parse_id(&id)?)?;
    let mut subjects: Vec<String> = uses.into_iter().map(|(s, _)| s).collect();
    subjects.dedup();
    Ok(Json(json!(subjects)))
}

async fn subjects(State(r): State<SharedRegistry>, params: Params) -> Reply {
    Ok(Json(json!(r
        .read()
        .await
        .subjects(flag(&params, "deleted")))))
}

async fn lookup(
    State(r): State<SharedRegistry>,
    Path(subject): Path<String>,
    params: Params,
    body: Bytes,
) -> Reply {
    let schema = parse_schema(&body)?;
    let found = r
        .read()
        .await
        .lookup(&subject, &schema, flag(&params, "deleted"))?;
    Ok(Json(json!(found)))
}

async fn delete_subject(
    State(r): State<SharedRegistry>,
    Path(subject): Path<String>,
    params: Params,
) -> Reply {
    let permanent = flag(&params, "permanent");
    let versions = r
        .write(|reg| reg.plan_delete_subject(&subject, permanent))
        .await?;
    Ok(Json(json!(versions)))
}

async fn versions(
    State(r): State<SharedRegistry>,
    Path(subject): Path<String>,
    params: Params,
) -> Reply {
    Ok(Json(json!(r
        .read()
        .await
        .versions(&subject, flag(&params, "deleted"))?)))
}

async fn register(
    State(r): State<SharedRegistry>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Reply {
    let schema = parse_schema(&body)?;
    let id = r.write(|reg| reg.plan_register(&subject, schema)).await?;
    Ok(Json(json!({ "id": id })))
}

async fn version(
    State(r): State<SharedRegistry>,
    Path((subject, version)): Path<(String, String)>,
    params: Params,
) -> Reply {
    let spec = VersionSpec::parse(&version)?;
    let registry = r.read().await;
    let mut found = registry.version(&subject, spec, flag(&params, "deleted"))?;
    found.schema = registry.formatted(&found.schema, format_of(&params))?;
    Ok(Json(json!(found)))
}

async fn version_text(
    State(r): State<SharedRegistry>,
    Path((subject, version)): Path<(String, String)>,
) -> Response {
    let found = match VersionSpec::parse(&version) {
        Ok(spec) => r.read().await.version(&subject, spec, false),
        Err(e) => Err(e),
    };
    match found {
        Ok(v) => v.schema.text.into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

async fn delete_version(
    State(r): State<SharedRegistry>,
    Path((subject, version)): Path<(String, String)>,
    params: Params,
) -> Reply {
    let spec = VersionSpec::parse(&version)?;
    let permanent = flag(&params, "permanent");
    let deleted = r
        .write(|reg| reg.plan_delete_version(&subject, spec, permanent))
        .await?;
    Ok(Json(json!(deleted)))
}

async fn referenced_by(
    State(r): State<SharedRegistry>,
    Path((subject, version)): Path<(String, String)>,
) -> Reply {
    let spec = VersionSpec::parse(&version)?;
    Ok(Json(json!(r.read().await.referenced_by(&subject, spec)?)))
}

fn compatibility_answer(problems: Vec<String>, params: &Params) -> Json<Value> {
    let mut out = json!({"is_compatible": problems.is_empty()});
    if flag(params, "verbose") {
        out["messages"] = json!(problems);
    }
    Json(out)
}

async fn check_version(
    State(r): State<SharedRegistry>,
    Path((subject, version)): Path<(String, String)>,
    params: Params,
    body: Bytes,
) -> Reply {
    let spec = VersionSpec::parse(&version)?;
    let schema = parse_schema(&body)?;
    let problems = r.read().await.check(&subject, spec, &schema)?;
    Ok(compatibility_answer(problems, &params))
}

async fn check_all(
    State(r): State<SharedRegistry>,
    Path(subject): Path<String>,
    params: Params,
    body: Bytes,
) -> Reply {
    let schema = parse_schema(&body)?;
    let problems = r
        .read()
        .await
        .check(&subject, VersionSpec::Latest, &schema)?;
    Ok(compatibility_answer(problems, &params))
}

fn parse_level(body: &[u8]) -> Result<Compatibility, ApiError> {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let name = value["compatibility"].as_str().unwrap_or_default();
    Compatibility::parse(name).ok_or_else(|| ApiError(RegistryError::invalid_compatibility(name)))
}

async fn global_level(State(r): State<SharedRegistry>) -> Reply {
    Ok(Json(
        json!({"compatibilityLevel": r.read().await.level(None).name()}),
    ))
}

async fn set_global_level(State(r): State<SharedRegistry>, body: Bytes) -> Reply {
    let level = parse_level(&body)?;
    r.write(|reg| Ok(reg.plan_set_level(None, level))).await?;
    Ok(Json(json!({"compatibility": level.name()})))
}

async fn subject_level(
    State(r): State<SharedRegistry>,
    Path(subject): Path<String>,
    params: Params,
) -> Reply {
    let registry = r.read().await;
    let level = match registry.own_level(&subject) {
        Some(level) => level,
        None if flag(&params, "defaultToGlobal") => registry.level(None),
        None => {
            return Err(ApiError(RegistryError {
                code: 40408,
                message: format!(
                    "Subject '{subject}' does not have subject-level compatibility configured"
                ),
            }))
        }
    };
    Ok(Json(json!({"compatibilityLevel": level.name()})))
}

async fn set_subject_level(
    State(r): State<SharedRegistry>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Reply {
    let level = parse_level(&body)?;
    r.write(|reg| Ok(reg.plan_set_level(Some(&subject), level)))
        .await?;
    Ok(Json(json!({"compatibility": level.name()})))
}

async fn clear_subject_level(
    State(r): State<SharedRegistry>,
    Path(subject): Path<String>,
) -> Reply {
    let level = r.write(|reg| reg.plan_clear_level(&subject)).await?;
    Ok(Json(json!({"compatibilityLevel": level.name()})))
}

async fn mode() -> Json<Value> {
    Json(json!({"mode": "READWRITE"}))
}

async fn set_mode(body: Bytes) -> Reply {
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match value["mode"].as_str() {
        Some("READWRITE") => Ok(Json(json!({"mode": "READWRITE"}))),
        other => Err(ApiError(RegistryError {
            code: 42204,
            message: format!("Invalid mode {other:?}: this registry is always READWRITE"),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_that_outlasts_the_timeout_gets_50002() {
        let slow = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                "late"
            }),
        );
        let app = with_request_timeout(slow, std::time::Duration::from_millis(50));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let started = std::time::Instant::now();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 500"), "{response}");
        let body: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["error_code"], 50002);
        assert!(started.elapsed() < std::time::Duration::from_secs(4));
    }
}
