//! The registry server's OpenAPI document (served at `/openapi.json`): the routes of
//! [`crate::server`], each described where its handler is, and the bodies they take and give.

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::model::{Compatibility, Reference, Schema, SchemaType, SubjectVersion};
use crate::server;

/// The id a schema was registered under.
#[derive(Serialize, ToSchema)]
pub(crate) struct RegisteredId {
    id: i32,
}

/// Confluent's error body.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// Confluent's error code, e.g. 40401 (subject not found) or 409 (incompatible).
    error_code: i32,
    message: String,
}

/// Where a schema id is registered.
#[derive(Serialize, ToSchema)]
pub(crate) struct SubjectAndVersion {
    subject: String,
    version: i32,
}

/// The answer of a compatibility check.
#[derive(Serialize, ToSchema)]
pub(crate) struct CompatibilityAnswer {
    is_compatible: bool,
    /// Why not, with `verbose=true`.
    messages: Option<Vec<String>>,
}

/// A compatibility level as read.
#[derive(Serialize, ToSchema)]
#[allow(non_snake_case)]
pub(crate) struct LevelReading {
    compatibilityLevel: Compatibility,
}

/// A compatibility level as set.
#[derive(Serialize, ToSchema)]
pub(crate) struct LevelSetting {
    compatibility: Compatibility,
}

/// The registry's mode (always `READWRITE`).
#[derive(Serialize, ToSchema)]
pub(crate) struct Mode {
    #[schema(pattern = "^READWRITE$")]
    mode: String,
}

/// The server's health.
#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    status: String,
}

/// Basic authentication, when the server has users.
struct BasicAuth;

impl Modify for BasicAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build());
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("basic", scheme);
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kafkit Schema Registry",
        description = "Confluent's Schema Registry REST API, served by kafkit"
    ),
    paths(
        server::health,
        server::schema_types,
        server::schema_by_id,
        server::schema_text_by_id,
        server::versions_of_id,
        server::subjects_of_id,
        server::subjects,
        server::lookup,
        server::delete_subject,
        server::versions,
        server::register,
        server::version,
        server::version_text,
        server::delete_version,
        server::referenced_by,
        server::check_version,
        server::check_all,
        server::global_level,
        server::set_global_level,
        server::subject_level,
        server::set_subject_level,
        server::clear_subject_level,
        server::mode,
        server::set_mode,
        server::subject_mode,
        server::set_subject_mode,
    ),
    components(schemas(
        Schema,
        SchemaType,
        Reference,
        SubjectVersion,
        Compatibility,
        RegisteredId,
        ErrorBody,
        SubjectAndVersion,
        CompatibilityAnswer,
        LevelReading,
        LevelSetting,
        Mode,
        Health
    )),
    modifiers(&BasicAuth),
    security((), ("basic" = []))
)]
struct ApiDoc;

/// The OpenAPI document of the registry server, as JSON.
///
/// ```
/// let doc: serde_json::Value = serde_json::from_str(&kafkit_registry::openapi_json()).unwrap();
/// assert!(doc["paths"]["/subjects/{subject}/versions"]["post"].is_object());
/// ```
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_json()
        .expect("an OpenAPI document always serializes")
}
