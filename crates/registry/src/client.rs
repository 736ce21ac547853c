//! A client of any Schema Registry with Confluent's REST API (Confluent's, kafkit's own,
//! Karapace, ...): schemas by id (cached), subjects, versions, registration, lookups,
//! deletes, compatibility levels and checks.
//!
//! Every call has a timeout; calls that fail for a reason a retry can help (the registry
//! unreachable, a 5xx answer) are retried a bounded number of times with a growing pause.
//! TLS goes through the same rustls setup as kafkit's Kafka connections, and verifies
//! certificates unless told not to. Credentials never appear in `Debug` output or errors.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kafkit_registry::ClientError> {
//! use kafkit_registry::{RegistryClient, RegistryClientConfig, Schema};
//!
//! let client = RegistryClient::new(RegistryClientConfig::new("http://localhost:8081"))?;
//! let id = client.register("orders-value", &Schema::avro(r#""string""#)).await?;
//! assert_eq!(client.schema(id).await?.text, r#""string""#);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kafkit_client::{Secret, TlsConfig};
use serde_json::{json, Value};

use crate::error::RegistryError;
use crate::model::{Compatibility, Schema, SubjectVersion};
use crate::registry::VersionSpec;

/// How to reach a registry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RegistryClientConfig {
    /// The registry's base URL, e.g. `http://localhost:8081`.
    pub url: String,
    /// Credentials, if the registry wants them.
    pub auth: Option<Auth>,
    /// TLS settings for `https` URLs (default: system roots, full verification).
    pub tls: TlsConfig,
    /// How long one request may take (default 10 s).
    pub timeout: Duration,
    /// How many times a failed call is tried again when a retry can help (default 3).
    pub retries: u32,
}

/// Registry credentials.
#[derive(Debug, Clone)]
pub enum Auth {
    /// HTTP basic authentication (`basic.auth.user.info` = `user:password`).
    Basic {
        /// The user name.
        user: String,
        /// The password (hidden in `Debug`).
        password: Secret,
    },
    /// A bearer token (`bearer.auth.token`, hidden in `Debug`).
    Bearer(Secret),
}

impl RegistryClientConfig {
    /// A registry at `url`, without credentials.
    pub fn new(url: impl Into<String>) -> RegistryClientConfig {
        RegistryClientConfig {
            url: url.into().trim_end_matches('/').to_string(),
            auth: None,
            tls: TlsConfig::default(),
            timeout: Duration::from_secs(10),
            retries: 3,
        }
    }

    /// Sets one property by the name Confluent's clients use: `schema.registry.url`,
    /// `basic.auth.user.info` (`user:password`), `bearer.auth.token`,
    /// `schema.registry.ssl.ca.location`, `schema.registry.ssl.certificate.location`,
    /// `schema.registry.ssl.key.location`, `schema.registry.request.timeout.ms`,
    /// `schema.registry.max.retries`; `basic.auth.credentials.source` is taken and ignored.
    pub fn set(mut self, key: &str, value: &str) -> Result<RegistryClientConfig, ClientError> {
        let bad = |why: &str| ClientError::Config(format!("{key}: {why}"));
        match key {
            "schema.registry.url" | "url" => {
                self.url = value.trim_end_matches('/').to_string();
            }
            "basic.auth.user.info" => {
                let (user, password) = value
                    .split_once(':')
                    .ok_or_else(|| bad("expected user:password"))?;
                self.auth = Some(Auth::Basic {
                    user: user.to_string(),
                    password: Secret(password.to_string()),
                });
            }
            "bearer.auth.token" => self.auth = Some(Auth::Bearer(Secret(value.to_string()))),
            "basic.auth.credentials.source" | "bearer.auth.credentials.source" => {}
            "schema.registry.ssl.ca.location" => self.tls = self.tls.ca_file(value),
            "schema.registry.ssl.certificate.location" => {
                self.tls.client_cert = Some(value.into());
            }
            "schema.registry.ssl.key.location" => self.tls.client_key = Some(value.into()),
            "schema.registry.request.timeout.ms" => {
                let ms: u64 = value.parse().map_err(|_| bad("expected milliseconds"))?;
                self.timeout = Duration::from_millis(ms.max(1));
            }
            "schema.registry.max.retries" => {
                self.retries = value.parse().map_err(|_| bad("expected a count"))?;
            }
            _ => return Err(bad("not a Schema Registry client property")),
        }
        Ok(self)
    }
}

/// What a registry call could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The registry answered with one of its errors.
    #[error("schema registry {url}: {error}")]
    Registry {
        /// The request's URL.
        url: String,
        /// Confluent's error code and message.
        error: RegistryError,
    },
    /// No answer: the registry is unreachable, or the request timed out.
    #[error("schema registry {url} did not answer: {message}")]
    Transport {
        /// The request's URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// An answer that is not the registry API's.
    #[error("schema registry {url} answered HTTP {status} with no registry error: {body}")]
    Unexpected {
        /// The request's URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// Settings that cannot work.
    #[error("schema registry client settings: {0}")]
    Config(String),
}

impl ClientError {
    /// True when trying again later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Transport { .. } => true,
            ClientError::Registry { error, .. } => error.status() >= 500,
            ClientError::Unexpected { status, .. } => *status >= 500,
            ClientError::Config(_) => false,
        }
    }

    /// The registry's error code, when it answered with one (40401: no such subject, ...).
    pub fn code(&self) -> Option<u32> {
        match self {
            ClientError::Registry { error, .. } => Some(error.code),
            _ => None,
        }
    }
}

/// A Schema Registry client; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct RegistryClient {
    http: reqwest::Client,
    config: RegistryClientConfig,
    by_id: Mutex<HashMap<i32, Schema>>,
}

/// Schemas kept by id at most; past this the cache starts over.
const CACHE_LIMIT: usize = 10_000;

impl RegistryClient {
    /// A client of the registry `config` names.
    pub fn new(config: RegistryClientConfig) -> Result<RegistryClient, ClientError> {
        // reqwest is built without a crypto provider of its own: it always gets a rustls
        // configuration — kafkit's, for https; one that trusts no one, for plain http.
        let tls = if config.url.starts_with("https:") {
            let tls = config
                .tls
                .rustls_client_config()
                .map_err(|e| ClientError::Config(e.to_string()))?;
            (*tls).clone()
        } else {
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| ClientError::Config(e.to_string()))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        };
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| ClientError::Config(e.to_string()))?;
        Ok(RegistryClient {
            http,
            config,
            by_id: Mutex::new(HashMap::new()),
        })
    }

    /// The schema with `id` (asked once, then cached: ids never change meaning).
    pub async fn schema(&self, id: i32) -> Result<Schema, ClientError> {
        if let Some(s) = self.cached(id) {
            return Ok(s);
        }
        let v = self
            .call("GET", &format!("/schemas/ids/{id}"), None)
            .await?;
        let schema: Schema = parse(&self.url(&format!("/schemas/ids/{id}")), v)?;
        let mut cache = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(id, schema.clone());
        Ok(schema)
    }

    fn cached(&self, id: i32) -> Option<Schema> {
        self.by_id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// The (subject, version) pairs that hold the schema with `id`.
    pub async fn uses_of(&self, id: i32) -> Result<Vec<(String, i32)>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Use {
            subject: String,
            version: i32,
        }
        let path = format!("/schemas/ids/{id}/versions");
        let v = self.call("GET", &path, None).await?;
        let uses: Vec<Use> = parse(&self.url(&path), v)?;
        Ok(uses.into_iter().map(|u| (u.subject, u.version)).collect())
    }

    /// Registers `schema` under `subject`; returns its id.
    pub async fn register(&self, subject: &str, schema: &Schema) -> Result<i32, ClientError> {
        let path = format!("/subjects/{}/versions", encode(subject));
        let v = self.call("POST", &path, Some(json!(schema))).await?;
        let id = v["id"].as_i64().and_then(|i| i32::try_from(i).ok());
        id.ok_or_else(|| self.unexpected(&path, &v))
    }

    /// The version of `subject` that holds `schema`.
    pub async fn lookup(
        &self,
        subject: &str,
        schema: &Schema,
    ) -> Result<SubjectVersion, ClientError> {
        let path = format!("/subjects/{}", encode(subject));
        let v = self.call("POST", &path, Some(json!(schema))).await?;
        parse(&self.url(&path), v)
    }

    /// A version of `subject`.
    pub async fn version(
        &self,
        subject: &str,
        version: VersionSpec,
    ) -> Result<SubjectVersion, ClientError> {
        let path = format!("/subjects/{}/versions/{}", encode(subject), spec(version));
        let v = self.call("GET", &path, None).await?;
        parse(&self.url(&path), v)
    }

    /// Every subject (soft-deleted ones too with `deleted`).
    pub async fn subjects(&self, deleted: bool) -> Result<Vec<String>, ClientError> {
        let path = format!("/subjects?deleted={deleted}");
        let v = self.call("GET", &path, None).await?;
        parse(&self.url(&path), v)
    }

    /// The versions of `subject`.
    pub async fn versions(&self, subject: &str, deleted: bool) -> Result<Vec<i32>, ClientError> {
        let path = format!("/subjects/{}/versions?deleted={deleted}", encode(subject));
        let v = self.call("GET", &path, None).await?;
        parse(&self.url(&path), v)
    }

    /// Deletes every version of `subject` (softly, or for good once soft-deleted).
    pub async fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Vec<i32>, ClientError> {
        let path = format!("/subjects/{}?permanent={permanent}", encode(subject));
        let v = self.call("DELETE", &path, None).await?;
        parse(&self.url(&path), v)
    }

    /// Deletes one version of `subject`.
    pub async fn delete_version(
        &self,
        subject: &str,
        version: VersionSpec,
        permanent: bool,
    ) -> Result<i32, ClientError> {
        let path = format!(
            "/subjects/{}/versions/{}?permanent={permanent}",
            encode(subject),
            spec(version)
        );
        let v = self.call("DELETE", &path, None).await?;
        parse(&self.url(&path), v)
    }

    /// The compatibility level of `subject` (falling back to the global one), or the global
    /// one.
    pub async fn compatibility(&self, subject: Option<&str>) -> Result<Compatibility, ClientError> {
        let path = match subject {
            Some(s) => format!("/config/{}?defaultToGlobal=true", encode(s)),
            None => "/config".to_string(),
        };
        let v = self.call("GET", &path, None).await?;
        v["compatibilityLevel"]
            .as_str()
            .and_then(Compatibility::parse)
            .ok_or_else(|| self.unexpected(&path, &v))
    }

    /// Sets the compatibility level of `subject`, or the global one.
    pub async fn set_compatibility(
        &self,
        subject: Option<&str>,
        level: Compatibility,
    ) -> Result<(), ClientError> {
        let path = match subject {
            Some(s) => format!("/config/{}", encode(s)),
            None => "/config".to_string(),
        };
        self.call("PUT", &path, Some(json!({"compatibility": level.name()})))
            .await?;
        Ok(())
    }

    /// Whether `schema` could be registered under `subject`, judged against `version`; the
    /// registry's reasons when not.
    pub async fn check(
        &self,
        subject: &str,
        version: VersionSpec,
        schema: &Schema,
    ) -> Result<(bool, Vec<String>), ClientError> {
        let path = format!(
            "/compatibility/subjects/{}/versions/{}?verbose=true",
            encode(subject),
            spec(version)
        );
        let v = self.call("POST", &path, Some(json!(schema))).await?;
        let ok = v["is_compatible"]
            .as_bool()
            .ok_or_else(|| self.unexpected(&path, &v))?;
        let messages = v["messages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|x| x.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default();
        Ok((ok, messages))
    }

    /// The registry's base URL.
    pub fn base_url(&self) -> &str {
        &self.config.url
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.url)
    }

    fn unexpected(&self, path: &str, v: &Value) -> ClientError {
        ClientError::Unexpected {
            url: self.url(path),
            status: 200,
            body: v.to_string().chars().take(200).collect(),
        }
    }

    /// One call, retried while a retry can help.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ClientError> {
        let mut attempt = 0;
        loop {
            match self.call_once(method, path, body.as_ref()).await {
                Err(e) if e.is_retriable() && attempt < self.config.retries => {
                    attempt += 1;
                    let pause = Duration::from_millis(100 << attempt.min(5));
                    tracing::debug!(error = %e, attempt, "schema registry call retried");
                    tokio::time::sleep(pause).await;
                }
                other => return other,
            }
        }
    }

    async fn call_once(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let url = self.url(path);
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| ClientError::Config(e.to_string()))?;
        let mut request = self.http.request(method, &url).header(
            "Accept",
            "application/vnd.schemaregistry.v1+json, application/json",
        );
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                .body(body.to_string());
        }
        request = match &self.config.auth {
            Some(Auth::Basic { user, password }) => request.basic_auth(user, Some(&password.0)),
            Some(Auth::Bearer(token)) => request.bearer_auth(&token.0),
            None => request,
        };
        let response = request.send().await.map_err(|e| ClientError::Transport {
            url: url.clone(),
            message: without_url(e),
        })?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| ClientError::Transport {
            url: url.clone(),
            message: without_url(e),
        })?;
        let value: Option<Value> = serde_json::from_str(&text).ok();
        if (200..300).contains(&status) {
            // Some answers are bare JSON strings or numbers; all are JSON.
            return value.ok_or_else(|| ClientError::Unexpected {
                url,
                status,
                body: text.chars().take(200).collect(),
            });
        }
        match value
            .as_ref()
            .and_then(|v| Some((v["error_code"].as_u64()?, v["message"].as_str()?)))
        {
            Some((code, message)) => Err(ClientError::Registry {
                url,
                error: RegistryError {
                    code: code as u32,
                    message: message.to_string(),
                },
            }),
            None => Err(ClientError::Unexpected {
                url,
                status,
                body: text.chars().take(200).collect(),
            }),
        }
    }
}

/// reqwest's error without the URL it repeats (the error names it already).
fn without_url(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

fn parse<T: serde::de::DeserializeOwned>(url: &str, v: Value) -> Result<T, ClientError> {
    serde_json::from_value(v.clone()).map_err(|_| ClientError::Unexpected {
        url: url.to_string(),
        status: 200,
        body: v.to_string().chars().take(200).collect(),
    })
}

fn spec(v: VersionSpec) -> String {
    match v {
        VersionSpec::Latest => "latest".into(),
        VersionSpec::Number(n) => n.to_string(),
    }
}

/// A subject name as one URL path segment.
fn encode(subject: &str) -> String {
    let mut out = String::with_capacity(subject.len());
    for b in subject.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
