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

use axum::http::header::CONTENT_TYPE;

use crate::error::RegistryError;
use crate::model::{Compatibility, Schema, SchemaType, SubjectVersion};
#[allow(unused_imports)] // named by the OpenAPI annotations
use crate::openapi::{
    CompatibilityAnswer, ErrorBody, Health, LevelReading, LevelSetting, Mode, RegisteredId,
    SubjectAndVersion,
};
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
        .route("/health", get(health))
        .route(
            "/openapi.json",
            get(|| async { ([(CONTENT_TYPE, "application/json")], crate::openapi_json()) }),
        )
        .route("/schemas/types", get(schema_types))
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
        .route("/mode/{subject}", get(subject_mode).put(set_subject_mode))
        .with_state(registry)
}

#[utoipa::path(get, path = "/health", tag = "server", security(()),
    responses((status = 200, description = "The server answers", body = Health)))]
pub(crate) async fn health() -> Json<Value> {
    Json(json!({"status": "UP"}))
}

#[utoipa::path(get, path = "/schemas/types", tag = "schemas",
    responses((status = 200, description = "The types held", body = [String])))]
pub(crate) async fn schema_types() -> Json<Value> {
    Json(json!(["JSON", "PROTOBUF", "AVRO"]))
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

#[utoipa::path(
    get, path = "/schemas/ids/{id}", tag = "schemas",
    params(
        ("id" = i32, Path, description = "The schema id"),
        ("format" = Option<String>, Query, description = "`serialized`: Protobuf as a descriptor"),
    ),
    responses(
        (status = 200, description = "The schema", body = Schema),
        (status = 404, description = "Subject, version or schema not found", body = ErrorBody),
    ),
)]
pub(crate) async fn schema_by_id(
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

#[utoipa::path(
    get, path = "/schemas/ids/{id}/schema", tag = "schemas",
    params(
        ("id" = i32, Path, description = "The schema id"),
    ),
    responses(
        (status = 200, description = "The schema text alone", body = String),
        (status = 404, description = "Subject, version or schema not found", body = ErrorBody),
    ),
)]
pub(crate) async fn schema_text_by_id(
    State(r): State<SharedRegistry>,
    Path(id): Path<String>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    match r.read().await.schema(id) {
        Ok(schema) => schema.text.clone().into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

#[utoipa::path(
    get, path = "/schemas/ids/{id}/versions", tag = "schemas",
    params(
        ("id" = i32, Path, description = "The schema id"),
    ),
    responses(
        (status = 200, description = "Where the schema is registered", body = [SubjectAndVersion]),
        (status = 404, description = "Subject, version or schema not found", body = ErrorBody),
    ),
)]
pub(crate) async fn versions_of_id(
    State(r): State<SharedRegistry>,
    Path(id): Path<String>,
) -> Reply {
    let uses = r.read().await.uses_of(parse_id(&id)?)?;
    let list: Vec<Value> = uses
        .into_iter()
        .map(|(subject, version)| json!({"subject": subject, "version": version}))
        .collect();
    Ok(Json(json!(list)))
}

#[utoipa::path(
    get, path = "/schemas/ids/{id}/subjects", tag = "schemas",
    params(
        ("id" = i32, Path, description = "The schema id"),
    ),
    responses(
        (status = 200, description = "Its subjects", body = [String]),
        (status = 404, description = "Subject, version or schema not found", body = ErrorBody),
    ),
)]
pub(crate) async fn subjects_of_id(
    State(r): State<SharedRegistry>,
    Path(id): Path<String>,
) -> Reply {
    let uses = r.read().await.uses_of(parse_id(&id)?)?;
    let mut subjects: Vec<String> = uses.into_iter().map(|(s, _)| s).collect();
    subjects.dedup();
    Ok(Json(json!(subjects)))
}

#[utoipa::path(
    get, path = "/subjects", tag = "subjects",
    params(
        ("deleted" = Option<bool>, Query, description = "Include soft-deleted ones"),
    ),
    responses(
        (status = 200, description = "The subjects", body = [String]),
    ),
)]
pub(crate) async fn subjects(State(r): State<SharedRegistry>, params: Params) -> Reply {
    Ok(Json(json!(r
        .read()
        .await
        .subjects(flag(&params, "deleted")))))
}

#[utoipa::path(
    post, path = "/subjects/{subject}", tag = "subjects",
    params(
        ("subject" = String, Path, description = "The subject"),
        ("deleted" = Option<bool>, Query, description = "Include soft-deleted ones"),
    ),
    request_body(content = Schema, content_type = "application/vnd.schemaregistry.v1+json"),
    responses(
        (status = 200, description = "The version holding this schema", body = SubjectVersion),
        (status = 404, description = "Subject, version or schema not found", body = ErrorBody),
        (status = 422, description = "Invalid schema, version or level", body = ErrorBody),
    ),
)]
pub(crate) async fn lookup(
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

#[utoipa::path(
    delete, path = "/subjects/{subject}", tag = "subjects",
    params(
        ("subject" = String, Path, description = "The subject"),
        ("permanent" = Option<bool>, Query, description = "Delete for good (after a soft delete)"),
    ),
    responses(
        (status = 200, description = "The versions deleted", body = [i32]),
        (status = 404, description = "Subject, version or schema not found", body = ErrorBody),
        (status = 422, description = "Referenced by another schema (42206)", body = ErrorBody),
    ),
)]
pub(crate) async fn delete_subject(
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

#[utoipa::path(
    get, path = "/subjects/{subject}/versions", tag = "subjects",
    params(
        ("subject" = String, Path, description = "The subject"),
        ("deleted" = Option<bool>, Query, description = "Include soft-deleted ones"),
    ),
    responses(
        (status = 200, description = "The subject's versions", body = [i32]),
        (status = 404, description = "Subject, version or schema not found", body = ErrorBody),
    ),
)]
pub(crate) async fn versions(
    State(r): State<SharedRegistry>,
    Path(subject): Path<String>,
    params: Params,
) -> Reply {
    Ok(Json(json!(r
        .read()
        .await
        .versions(&subject, flag(&params, "deleted"))?)))
}

#[utoipa::path(
    post, path = "/subjects/{subject}/versions", tag = "subjects",
    params(
        ("subject" = String, Path, description = "The subject"),
    ),
    request_body(content = Schema, content_type = "application/vnd.schemaregistry.v1+json"),
    responses(
        (status = 200, description = "Its id (the same for equal schemas)", body = RegisteredId),
        (status = 409, description = "Incompatible with the subject's level", body = ErrorBody),
        (status = 422, description = "Invalid schema, version or level", body = ErrorBody),
    ),
)]
pub(crate) async fn register(
    State(r): State<SharedRegistry>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Reply {
    let schema = parse_schema(&body)?;
    let id = r
        .write(|reg| reg.plan_register(&subject, schema.clone()))
        .await?;
    Ok(Json(json!({ "id": id })))
}

#[utoipa::path(
    get, path = "/subjects/{subject}/versions/{version}", tag = "subjects",
    params(
        ("subject" = String, Path, description = "The subject"),
        ("version" = String, Path, pattern = "^(latest|-1|[1-9][0-9]{0,8})$",
            description = "A version number, or `latest` (-1)"),
        ("deleted" = Option<bool>, Query, description = "Include soft-deleted ones"),
        ("format" = Option<String>, Query, description = "`serialized`: Protobuf as a descriptor"),
    ),
    responses(
        (status = 200, description = "The version", body = SubjectVersion),
        (status = 404, description = "Subject, version or schema not found", body = ErrorBody),
        (status = 422, description = "Invalid schema, version or level", body = ErrorBody),
    ),
)]
pub(crate) async fn version(
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

#[utoipa::path(
    get, path = "/subjects/{subject}/versions/{version}/schema", tag = "subjects",
    params(
        ("subject" = String, Path, description = "The subject"),
        ("version" = String, Path, pattern = "^(latest|-1|[1-9][0-9]{0,8})$",
            description = "A version number, or `latest` (-1)"),
    ),
    responses(
        (status = 200, description = "The schema text alone", body = String),
        (status = 404, description = "Subject, version or schema not found", body = ErrorBody),
        (status = 422, description = "Invalid schema, version or level", body = ErrorBody),
    ),
)]
pub(crate) async fn version_text(
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

#[utoipa::path(
    delete, path = "/subjects/{subject}/versions/{version}", tag = "subjects",
    params(
        ("subject" = String, Path, description = "The subject"),
        ("version" = String, Path, pattern = "^(latest|-1|[1-9][0-9]{0,8})$",
            description = "A version number, or `latest` (-1)"),
        ("permanent" = Option<bool>, Query, description = "Delete for good (after a soft delete)"),
    ),
    responses(
        (status = 200, description = "The version deleted", body = i32,
            content_type = "application/json"),
        (status = 404, description = "Subject, version or schema not found", body = ErrorBody),
        (status = 422, description = "Invalid schema, version or level", body = ErrorBody),
    ),
)]
pub(crate) async fn delete_version(
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

#[utoipa::path(
    get, path = "/subjects/{subject}/versions/{version}/referencedby", tag = "subjects",
    params(
        ("subject" = String, Path, description = "The subject"),
        ("version" = String, Path, pattern = "^(latest|-1|[1-9][0-9]{0,8})$",
            description = "A version number, or `latest` (-1)"),
    ),
    responses(
        (status = 200, description = "The ids of the schemas referring to this one", body = [i32]),
        (status = 404, description = "Subject, version or schema not found", body = ErrorBody),
        (status = 422, description = "Invalid schema, version or level", body = ErrorBody),
    ),
)]
pub(crate) async fn referenced_by(
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

#[utoipa::path(
    post, path = "/compatibility/subjects/{subject}/versions/{version}", tag = "compatibility",
    params(
        ("subject" = String, Path, description = "The subject"),
        ("version" = String, Path, pattern = "^(latest|-1|[1-9][0-9]{0,8})$",
            description = "A version number, or `latest` (-1)"),
        ("verbose" = Option<bool>, Query, description = "Say why not"),
    ),
    request_body(content = Schema, content_type = "application/vnd.schemaregistry.v1+json"),
    responses(
        (status = 200, description = "Compatible with that version?", body = CompatibilityAnswer),
        (status = 404, description = "Subject, version or schema not found", body = ErrorBody),
        (status = 422, description = "Invalid schema, version or level", body = ErrorBody),
    ),
)]
pub(crate) async fn check_version(
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

#[utoipa::path(
    post, path = "/compatibility/subjects/{subject}/versions", tag = "compatibility",
    params(
        ("subject" = String, Path, description = "The subject"),
        ("verbose" = Option<bool>, Query, description = "Say why not"),
    ),
    request_body(content = Schema, content_type = "application/vnd.schemaregistry.v1+json"),
    responses(
        (status = 200, description = "Compatible under the level?", body = CompatibilityAnswer),
        (status = 404, description = "Subject, version or schema not found", body = ErrorBody),
        (status = 422, description = "Invalid schema, version or level", body = ErrorBody),
    ),
)]
pub(crate) async fn check_all(
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

#[utoipa::path(
    get, path = "/config", tag = "config",
    responses(
        (status = 200, description = "The global compatibility level", body = LevelReading),
    ),
)]
pub(crate) async fn global_level(State(r): State<SharedRegistry>) -> Reply {
    Ok(Json(
        json!({"compatibilityLevel": r.read().await.level(None).name()}),
    ))
}

#[utoipa::path(
    put, path = "/config", tag = "config",
    request_body(content = LevelSetting, content_type = "application/vnd.schemaregistry.v1+json"),
    responses(
        (status = 200, description = "The level set", body = LevelSetting),
        (status = 422, description = "Invalid schema, version or level", body = ErrorBody),
    ),
)]
pub(crate) async fn set_global_level(State(r): State<SharedRegistry>, body: Bytes) -> Reply {
    let level = parse_level(&body)?;
    r.write(|reg| Ok(reg.plan_set_level(None, level))).await?;
    Ok(Json(json!({"compatibility": level.name()})))
}

#[utoipa::path(
    get, path = "/config/{subject}", tag = "config",
    params(
        ("subject" = String, Path, description = "The subject"),
        ("defaultToGlobal" = Option<bool>, Query, description = "Else the global level"),
    ),
    responses(
        (status = 200, description = "The subject's level", body = LevelReading),
        (status = 404, description = "No level of its own (40408)", body = ErrorBody),
    ),
)]
pub(crate) async fn subject_level(
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

#[utoipa::path(
    put, path = "/config/{subject}", tag = "config",
    params(
        ("subject" = String, Path, description = "The subject"),
    ),
    request_body(content = LevelSetting, content_type = "application/vnd.schemaregistry.v1+json"),
    responses(
        (status = 200, description = "The level set", body = LevelSetting),
        (status = 422, description = "Invalid schema, version or level", body = ErrorBody),
    ),
)]
pub(crate) async fn set_subject_level(
    State(r): State<SharedRegistry>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Reply {
    let level = parse_level(&body)?;
    r.write(|reg| Ok(reg.plan_set_level(Some(&subject), level)))
        .await?;
    Ok(Json(json!({"compatibility": level.name()})))
}

#[utoipa::path(
    delete, path = "/config/{subject}", tag = "config",
    params(
        ("subject" = String, Path, description = "The subject"),
    ),
    responses(
        (status = 200, description = "The level removed", body = LevelReading),
        (status = 404, description = "No level of its own (40408)", body = ErrorBody),
    ),
)]
pub(crate) async fn clear_subject_level(
    State(r): State<SharedRegistry>,
    Path(subject): Path<String>,
) -> Reply {
    let level = r.write(|reg| reg.plan_clear_level(&subject)).await?;
    Ok(Json(json!({"compatibilityLevel": level.name()})))
}

#[utoipa::path(
    get, path = "/mode", tag = "mode",
    responses(
        (status = 200, description = "Always READWRITE", body = Mode),
    ),
)]
pub(crate) async fn mode() -> Json<Value> {
    Json(json!({"mode": "READWRITE"}))
}

#[utoipa::path(
    put, path = "/mode", tag = "mode",
    request_body(content = Mode, content_type = "application/vnd.schemaregistry.v1+json"),
    responses(
        (status = 200, description = "READWRITE, the only mode", body = Mode),
        (status = 422, description = "Any other mode (42204)", body = ErrorBody),
    ),
)]
pub(crate) async fn set_mode(body: Bytes) -> Reply {
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match value["mode"].as_str() {
        Some("READWRITE") => Ok(Json(json!({"mode": "READWRITE"}))),
        other => Err(ApiError(RegistryError {
            code: 42204,
            message: format!("Invalid mode {other:?}: this registry is always READWRITE"),
        })),
    }
}

#[utoipa::path(get, path = "/mode/{subject}", tag = "mode",
    params(("subject" = String, Path, description = "The subject")),
    responses((status = 200, description = "Always READWRITE", body = Mode)))]
pub(crate) async fn subject_mode() -> Json<Value> {
    mode().await
}

#[utoipa::path(put, path = "/mode/{subject}", tag = "mode",
    params(("subject" = String, Path, description = "The subject")),
    request_body(content = Mode, content_type = "application/vnd.schemaregistry.v1+json"),
    responses((status = 200, description = "READWRITE, the only mode", body = Mode),
        (status = 422, description = "Any other mode (42204)", body = ErrorBody)))]
pub(crate) async fn set_subject_mode(body: Bytes) -> Reply {
    set_mode(body).await
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
