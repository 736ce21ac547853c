//! kafkit's Schema Registry: Confluent's REST API over schemas kept by kafkit.
//!
//! - [`Registry`]: subjects, versions and ids with Confluent's rules (ids shared by equal
//!   schemas, soft and hard deletes, references, compatibility levels) and error codes.
//! - [`RegistryService`]: a registry for concurrent requests, its changes kept in a
//!   `_schemas` topic (Confluent's record format) of a Kafka cluster or a local directory.
//! - [`router`]: the REST API over a service, for axum, described by [`openapi_json`];
//!   [`serve`] runs it on a listener, behind basic authentication ([`ServerAuth`]) if asked.
//! - [`RegistryClient`]: a client of any registry with Confluent's REST API.
//! - [`RegistrySchemas`]: the schemas of schema-typed keys and values, from a registry
//!   server or one in this process, for kafkit-store's record formats; the subject a schema
//!   is registered under follows a [`SubjectStrategy`].
//!
//! ```
//! use kafkit_registry::{Registry, Schema};
//!
//! let mut registry = Registry::new();
//! let id = registry.register("orders-value", Schema::avro(r#""string""#)).unwrap();
//! assert_eq!(registry.schema(id).unwrap().text, r#""string""#);
//! // An Avro schema that cannot read the old data is refused under BACKWARD.
//! let err = registry.register("orders-value", Schema::avro(r#""int""#)).unwrap_err();
//! assert_eq!(err.code, 409);
//! ```
#![warn(missing_docs)]

mod carry;
mod client;
mod compat;
mod error;
mod journal;
mod model;
mod openapi;
mod registry;
mod schemas;
mod server;
mod server_auth;
mod service;
mod source;
mod strategy;

pub use carry::{export, import, Exported};
pub use client::{Auth, ClientError, RegistryClient, RegistryClientConfig};
pub use error::RegistryError;
pub use journal::JournalRecord;
pub use model::{Compatibility, Reference, Schema, SchemaType, SubjectVersion};
pub use openapi::openapi_json;
pub use registry::{Planned, Registry, VersionSpec};
pub use schemas::{RegistrySchemas, WriterSchema};
pub use server::{router, ApiError};
pub use server_auth::{with_basic_auth, ServerAuth};
pub use service::RegistryService;
pub use source::SchemaSource;
pub use strategy::SubjectStrategy;

/// Serves the REST API over `registry` on `listener` until the task is dropped, to the
/// users of `auth` only when given (every route but `/health`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    registry: std::sync::Arc<RegistryService>,
    auth: Option<ServerAuth>,
) -> std::io::Result<()> {
    let app = match auth {
        Some(auth) => with_basic_auth(router(registry), auth),
        None => router(registry),
    };
    axum::serve(listener, app).await
}
