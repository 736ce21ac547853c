//! Where an object storage is: an S3 bucket or an Azure Blob container, a prefix inside it,
//! and the credentials to reach it. Built into an `object_store` client whose HTTP goes
//! through reqwest with kafkit's rustls setup (certificates verified unless told not to).

use std::sync::Arc;
use std::time::Duration;

use object_store::client::{ClientOptions, HttpClient, HttpConnector};
use object_store::ObjectStore;

use crate::error::{Result, StoreError};

/// Bound of one HTTP request to the object store (object_store retries within its own
/// bound: 10 attempts, 3 minutes).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Bound of connecting to the object store.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An S3 bucket (AWS, or any S3-compatible server) and a prefix in it.
///
/// What is not given comes from the usual environment variables (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`/`AWS_DEFAULT_REGION`,
/// `AWS_ENDPOINT_URL`).
///
/// ```
/// let at = kafkit_store::S3Location::new("backups", "kafka/prod")
///     .endpoint("http://127.0.0.1:5000")
///     .credentials("AKIA...", "wJalrXUtnFEMI-example");
/// assert_eq!(at.describe(), "s3:backups/kafka/prod");
/// assert!(!format!("{at:?}").contains("wJalrXUtnFEMI"));
/// ```
#[derive(Clone, Default)]
pub struct S3Location {
    bucket: String,
    prefix: String,
    endpoint: Option<String>,
    region: Option<String>,
    access_key: Option<String>,
    secret_key: Option<String>,
    tls: kafkit_client::TlsConfig,
}

impl std::fmt::Debug for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Location")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

impl S3Location {
    /// The bucket `bucket`, objects under `prefix` (may be empty).
    pub fn new(bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        S3Location {
            bucket: bucket.into(),
            prefix: prefix.into().trim_matches('/').to_string(),
            tls: kafkit_client::TlsConfig::default(),
            ..Default::default()
        }
    }

    /// The server's URL (an S3-compatible server; AWS's when not given).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into()).filter(|u| !u.is_empty());
        self
    }

    /// The region (default: from the environment, else `us-east-1`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into()).filter(|r| !r.is_empty());
        self
    }

    /// The access key and its secret.
    pub fn credentials(mut self, access_key: impl Into<String>, secret: impl Into<String>) -> Self {
        self.access_key = Some(access_key.into());
        self.secret_key = Some(secret.into());
        self
    }

    /// TLS settings for an `https` endpoint (CA file, verification).
    pub fn tls(mut self, tls: kafkit_client::TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// `s3:BUCKET/PREFIX`.
    pub fn describe(&self) -> String {
        describe("s3", &self.bucket, &self.prefix)
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The bucket as an `object_store` client (for files kept next to topics).
    pub fn object_store(&self) -> Result<Arc<dyn ObjectStore>> {
        self.build()
    }

    pub(super) fn build(&self) -> Result<Arc<dyn ObjectStore>> {
        use object_store::aws::AmazonS3Builder;
        let mut b = AmazonS3Builder::from_env().with_bucket_name(&self.bucket);
        if let Some(e) = &self.endpoint {
            b = b.with_endpoint(e);
        }
        let endpoint = self
            .endpoint
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT").ok());
        if endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"))
        {
            b = b.with_allow_http(true);
        }
        let region = self
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .unwrap_or_else(|| "us-east-1".to_string());
        b = b.with_region(region);
        if let (Some(k), Some(s)) = (&self.access_key, &self.secret_key) {
            b = b.with_access_key_id(k).with_secret_access_key(s);
        }
        let store = b
            .with_http_connector(Connector::new(&self.tls, endpoint.as_deref())?)
            .build()
            .map_err(|e| config_err(&self.describe(), e))?;
        Ok(Arc::new(store))
    }
}

/// An Azure Blob Storage container and a prefix in it.
///
/// Credentials from a connection string (`DefaultEndpointsProtocol=...;AccountName=...;
/// AccountKey=...;BlobEndpoint=...`, also `UseDevelopmentStorage=true` for Azurite), else
/// `AZURE_STORAGE_CONNECTION_STRING`, else the other `AZURE_STORAGE_*` variables.
///
/// ```
/// let at = kafkit_store::AzureLocation::new("backups", "")
///     .connection_string("AccountName=acct;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net");
/// assert_eq!(at.describe(), "azure:backups");
/// assert!(!format!("{at:?}").contains("c2VjcmV0"));
/// ```
#[derive(Clone, Default)]
pub struct AzureLocation {
    container: String,
    prefix: String,
    connection_string: Option<String>,
    tls: kafkit_client::TlsConfig,
}

impl std::fmt::Debug for AzureLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureLocation")
            .field("container", &self.container)
            .field("prefix", &self.prefix)
            .field(
                "connection_string",
                &self.connection_string.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}

/// The well-known account and key of the Azure Storage emulators (Azurite).
const EMULATOR_ACCOUNT: &str = "devstoreaccount1";
const EMULATOR_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// What a connection string says.
#[derive(Debug, Default, PartialEq, Eq)]
struct ConnectionString {
    account: Option<String>,
    key: Option<String>,
    sas: Option<String>,
    endpoint: Option<String>,
}

fn parse_connection_string(text: &str) -> Result<ConnectionString> {
    let mut out = ConnectionString::default();
    let (mut protocol, mut suffix) = ("https".to_string(), "core.windows.net".to_string());
    let mut emulator = false;
    let parts = text.split(';').map(str::trim).filter(|p| !p.is_empty());
    for (i, part) in parts.enumerate() {
        // The part itself is not shown: it may be a secret.
        let Some((k, v)) = part.split_once('=') else {
            return Err(StoreError::Invalid(format!(
                "the Azure connection string's part {} is not KEY=VALUE",
                i + 1
            )));
        };
        match k {
            "AccountName" => out.account = Some(v.to_string()),
            "AccountKey" => out.key = Some(v.to_string()),
            "SharedAccessSignature" => out.sas = Some(v.to_string()),
            "BlobEndpoint" => out.endpoint = Some(v.trim_end_matches('/').to_string()),
            "DefaultEndpointsProtocol" => protocol = v.to_string(),
            "EndpointSuffix" => suffix = v.to_string(),
            "UseDevelopmentStorage" => emulator = v.eq_ignore_ascii_case("true"),
            // Other services' endpoints (queues, tables, files) do not matter here.
            _ => {}
        }
    }
    if emulator {
        out.account
            .get_or_insert_with(|| EMULATOR_ACCOUNT.to_string());
        out.key.get_or_insert_with(|| EMULATOR_KEY.to_string());
        out.endpoint
            .get_or_insert_with(|| format!("http://127.0.0.1:10000/{EMULATOR_ACCOUNT}"));
    }
    if out.endpoint.is_none() {
        if let Some(a) = &out.account {
            out.endpoint = Some(format!("{protocol}://{a}.blob.{suffix}"));
        }
    }
    if out.account.is_none() {
        return Err(StoreError::Invalid(
            "the Azure connection string names no AccountName".into(),
        ));
    }
    Ok(out)
}

impl AzureLocation {
    /// The container `container`, blobs under `prefix` (may be empty).
    pub fn new(container: impl Into<String>, prefix: impl Into<String>) -> Self {
        AzureLocation {
            container: container.into(),
            prefix: prefix.into().trim_matches('/').to_string(),
            connection_string: None,
            tls: kafkit_client::TlsConfig::default(),
        }
    }

    /// The storage account's connection string.
    pub fn connection_string(mut self, text: impl Into<String>) -> Self {
        self.connection_string = Some(text.into()).filter(|t| !t.is_empty());
        self
    }

    /// TLS settings for an `https` endpoint (CA file, verification).
    pub fn tls(mut self, tls: kafkit_client::TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// `azure:CONTAINER/PREFIX`.
    pub fn describe(&self) -> String {
        describe("azure", &self.container, &self.prefix)
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The container as an `object_store` client (for files kept next to topics).
    pub fn object_store(&self) -> Result<Arc<dyn ObjectStore>> {
        self.build()
    }

    pub(super) fn build(&self) -> Result<Arc<dyn ObjectStore>> {
        use object_store::azure::MicrosoftAzureBuilder;
        let text = self
            .connection_string
            .clone()
            .or_else(|| std::env::var("AZURE_STORAGE_CONNECTION_STRING").ok());
        let mut b = MicrosoftAzureBuilder::from_env().with_container_name(&self.container);
        let mut endpoint = None;
        if let Some(text) = text {
            let c = parse_connection_string(&text)?;
            if let Some(a) = &c.account {
                b = b.with_account(a);
            }
            if let Some(k) = &c.key {
                b = b.with_access_key(k);
            }
            if let Some(sas) = &c.sas {
                b = b.with_config(object_store::azure::AzureConfigKey::SasKey, sas);
            }
            if let Some(e) = &c.endpoint {
                b = b.with_endpoint(e.clone());
                if e.starts_with("http://") {
                    b = b.with_allow_http(true);
                }
            }
            endpoint = c.endpoint;
        }
        let store = b
            .with_http_connector(Connector::new(&self.tls, endpoint.as_deref())?)
            .build()
            .map_err(|e| config_err(&self.describe(), e))?;
        Ok(Arc::new(store))
    }
}

fn describe(scheme: &str, container: &str, prefix: &str) -> String {
    match prefix.is_empty() {
        true => format!("{scheme}:{container}"),
        false => format!("{scheme}:{container}/{prefix}"),
    }
}

fn config_err(at: &str, e: object_store::Error) -> StoreError {
    StoreError::Invalid(format!("{at}: {e}"))
}

/// Makes object_store's HTTP clients: reqwest with kafkit's rustls configuration (for a plain
/// `http` endpoint, one that trusts no one: it is never used).
#[derive(Debug)]
struct Connector {
    tls: rustls::ClientConfig,
}

impl Connector {
    fn new(tls: &kafkit_client::TlsConfig, endpoint: Option<&str>) -> Result<Self> {
        let plain = endpoint.is_some_and(|e| e.starts_with("http://"));
        let tls = if plain {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| StoreError::Invalid(format!("TLS: {e}")))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        } else {
            let config = tls
                .rustls_client_config()
                .map_err(|e| StoreError::Invalid(format!("TLS: {e}")))?;
            (*config).clone()
        };
        Ok(Connector { tls })
    }
}

impl HttpConnector for Connector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .tls_backend_preconfigured(self.tls.clone())
            .build()
            .map_err(|e| object_store::Error::Generic {
                store: "http",
                source: Box::new(e),
            })?;
        Ok(HttpClient::new(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_give_account_key_and_endpoint() {
        let c = parse_connection_string(
            "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/acct/;",
        )
        .unwrap();
        assert_eq!(c.account.as_deref(), Some("acct"));
        assert_eq!(c.key.as_deref(), Some("a2V5"));
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:10000/acct"));
        let c = parse_connection_string("AccountName=acct;AccountKey=a2V5").unwrap();
        assert_eq!(
            c.endpoint.as_deref(),
            Some("https://acct.blob.core.windows.net")
        );
        let c = parse_connection_string("UseDevelopmentStorage=true").unwrap();
        assert_eq!(c.account.as_deref(), Some(EMULATOR_ACCOUNT));
        assert!(c.endpoint.unwrap().starts_with("http://127.0.0.1:10000/"));
        let e = parse_connection_string("AccountName=a;secretwithoutequals").unwrap_err();
        assert!(e.to_string().contains("KEY=VALUE"), "{e}");
        assert!(parse_connection_string("AccountKey=a2V5").is_err());
    }
}
