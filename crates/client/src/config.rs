//! Client configuration: bootstrap servers, timeouts, bounds, TLS and SASL.

use std::path::PathBuf;
use std::time::Duration;

/// How to reach and talk to a cluster. Required: the bootstrap list; everything else has a
/// documented default.
///
/// ```
/// use std::time::Duration;
/// let config = kafkit_client::ClientConfig::new(["127.0.0.1:9092"])
///     .client_id("my-app")
///     .request_timeout(Duration::from_secs(10));
/// assert_eq!(config.bootstrap, vec!["127.0.0.1:9092".to_string()]);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// `host:port` addresses tried in order to learn the cluster.
    pub bootstrap: Vec<String>,
    /// Sent in every request header (default `kafkit`).
    pub client_id: String,
    /// Bound on TCP connect + TLS + ApiVersions + SASL (default 10 s).
    pub connect_timeout: Duration,
    /// Bound on each request's round trip (default 30 s).
    pub request_timeout: Duration,
    /// Most requests outstanding on one connection (default 32).
    pub max_in_flight: usize,
    /// Largest response frame accepted (default 256 MiB).
    pub max_response_size: usize,
    /// First wait before reconnecting to a broker that failed (default 50 ms).
    pub reconnect_backoff: Duration,
    /// Longest wait between reconnect attempts (default 1 s).
    pub reconnect_backoff_max: Duration,
    /// Metadata older than this is refreshed in the background (default 5 min).
    pub metadata_max_age: Duration,
    /// Attempts for a retriable admin or metadata call (default 5).
    pub retries: u32,
    /// TLS settings; `None` for plaintext.
    pub tls: Option<TlsConfig>,
    /// SASL settings; `None` for no authentication.
    pub sasl: Option<SaslConfig>,
}

impl ClientConfig {
    /// A configuration with the given bootstrap addresses and defaults for the rest.
    pub fn new<I, S>(bootstrap: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ClientConfig {
            bootstrap: bootstrap.into_iter().map(Into::into).collect(),
            client_id: "kafkit".into(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_in_flight: 32,
            max_response_size: 256 << 20,
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            metadata_max_age: Duration::from_secs(300),
            retries: 5,
            tls: None,
            sasl: None,
        }
    }

    /// Checks every setting (fields can be set directly, bypassing the builders' bounds):
    /// an error names the setting and why it cannot work.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let bad = |what: &str| Err(crate::Error::Config(what.to_string()));
        if self.bootstrap.is_empty() {
            return bad("no bootstrap servers given");
        }
        if self.connect_timeout.is_zero() {
            return bad("connect timeout (socket.connection.setup.timeout.ms) must be above 0");
        }
        if self.request_timeout.is_zero() {
            return bad("request.timeout.ms must be above 0");
        }
        if self.max_in_flight == 0 {
            return bad("max.in.flight.requests.per.connection must be at least 1");
        }
        if self.max_response_size < 1024 {
            return bad("the largest response accepted must be at least 1 KiB");
        }
        if self.reconnect_backoff > self.reconnect_backoff_max {
            return bad("reconnect.backoff.ms must not exceed reconnect.backoff.max.ms");
        }
        if self.metadata_max_age.is_zero() {
            return bad("metadata.max.age.ms must be above 0");
        }
        Ok(())
    }

    /// Sets the client id (default `kafkit`).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// Sets the connect timeout (default 10 s).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Sets the request timeout (default 30 s).
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }

    /// Sets the in-flight bound per connection (default 32, at least 1).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Sets the number of attempts for retriable calls (default 5).
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// Sets the background metadata refresh interval (default 5 min).
    pub fn metadata_max_age(mut self, t: Duration) -> Self {
        self.metadata_max_age = t;
        self
    }

    /// Sets the reconnect backoff range (defaults 50 ms .. 1 s).
    pub fn reconnect_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.reconnect_backoff = first;
        self.reconnect_backoff_max = max.max(first);
        self
    }

    /// Enables TLS.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Enables SASL.
    pub fn sasl(mut self, sasl: SaslConfig) -> Self {
        self.sasl = Some(sasl);
        self
    }

    /// Applies Java-client style properties (`bootstrap.servers`, `client.id`,
    /// `request.timeout.ms`, `security.protocol`, `sasl.mechanism`, `sasl.username`,
    /// `sasl.password`, `ssl.ca.location`, `ssl.certificate.location`, `ssl.key.location`,
    /// `ssl.endpoint.identification.algorithm`, ...). Unknown keys are an error naming the key.
    pub fn set(mut self, key: &str, value: &str) -> Result<Self, crate::Error> {
        use crate::properties::{count, millis};
        let ms = |v: &str| millis(key, v);
        match key {
            "bootstrap.servers" | "metadata.broker.list" => {
                self.bootstrap = value.split(',').map(|s| s.trim().to_string()).collect()
            }
            "client.id" => self.client_id = value.into(),
            "request.timeout.ms" => self.request_timeout = ms(value)?,
            "socket.connection.setup.timeout.ms" | "socket.connection.setup.timeout.max.ms" => {
                self.connect_timeout = ms(value)?
            }
            "reconnect.backoff.ms" => self.reconnect_backoff = ms(value)?,
            "reconnect.backoff.max.ms" => self.reconnect_backoff_max = ms(value)?,
            "metadata.max.age.ms" | "topic.metadata.refresh.interval.ms" => {
                self.metadata_max_age = ms(value)?
            }
            "max.in.flight.requests.per.connection" | "max.in.flight" => {
                self.max_in_flight = count(key, value)?
            }
            "security.protocol" => match value.to_ascii_uppercase().as_str() {
                "PLAINTEXT" => {
                    self.tls = None;
                    self.sasl = None;
                }
                "SSL" => {
                    self.tls.get_or_insert_with(TlsConfig::default);
                }
                "SASL_PLAINTEXT" => {
                    self.sasl.get_or_insert_with(SaslConfig::default);
                }
                "SASL_SSL" => {
                    self.tls.get_or_insert_with(TlsConfig::default);
                    self.sasl.get_or_insert_with(SaslConfig::default);
                }
                other => {
                    return Err(crate::Error::Config(format!(
                        "security.protocol: unknown '{other}'"
                    )))
                }
            },
            "sasl.mechanism" | "sasl.mechanisms" => {
                self.sasl.get_or_insert_with(SaslConfig::default).mechanism = value.parse()?
            }
            "sasl.username" => {
                self.sasl.get_or_insert_with(SaslConfig::default).username = value.into()
            }
            "sasl.password" => {
                self.sasl.get_or_insert_with(SaslConfig::default).password = Secret(value.into())
            }
            "ssl.ca.location" | "ssl.truststore.location" => {
                self.tls.get_or_insert_with(TlsConfig::default).ca_file = Some(value.into())
            }
            "ssl.certificate.location" => {
                self.tls.get_or_insert_with(TlsConfig::default).client_cert = Some(value.into())
            }
            "ssl.key.location" => {
                self.tls.get_or_insert_with(TlsConfig::default).client_key = Some(value.into())
            }
            "ssl.endpoint.identification.algorithm" => {
                self.tls
                    .get_or_insert_with(TlsConfig::default)
                    .verify_hostname = !value.is_empty() && !value.eq_ignore_ascii_case("none")
            }
            "enable.ssl.certificate.verification" => {
                self.tls
                    .get_or_insert_with(TlsConfig::default)
                    .verify_certificates = value.eq_ignore_ascii_case("true")
            }
            other => return Err(crate::Error::UnknownProperty(other.to_string())),
        }
        Ok(self)
    }
}

/// TLS settings. Certificates and host names are verified unless explicitly disabled.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TlsConfig {
    /// PEM file of CA certificates to trust; `None` uses the system roots.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub client_key: Option<PathBuf>,
    /// Check that the certificate names the host connected to (default true).
    pub verify_hostname: bool,
    /// Check the certificate chain at all (default true). Turning this off trusts anyone.
    pub verify_certificates: bool,
    /// Name to verify instead of the host in the address.
    pub server_name: Option<String>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            ca_file: None,
            client_cert: None,
            client_key: None,
            verify_hostname: true,
            verify_certificates: true,
            server_name: None,
        }
    }
}

impl TlsConfig {
    /// Trust the CAs in `path` (PEM) instead of the system roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Present a client certificate and key (PEM files) for mutual TLS.
    pub fn client_auth(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.client_cert = Some(cert.into());
        self.client_key = Some(key.into());
        self
    }

    /// Skip the host-name check (the chain is still verified). Unsafe outside tests.
    pub fn danger_skip_hostname_verification(mut self) -> Self {
        self.verify_hostname = false;
        self
    }

    /// Accept any certificate. Unsafe outside tests.
    pub fn danger_accept_invalid_certificates(mut self) -> Self {
        self.verify_certificates = false;
        self
    }

    /// The rustls configuration these settings make (the one kafkit's connections use), for
    /// other TLS clients of kafkit: the Schema Registry client, for one.
    pub fn rustls_client_config(
        &self,
    ) -> Result<std::sync::Arc<rustls::ClientConfig>, crate::Error> {
        crate::conn::tls::client_config(self)
    }
}

/// A SASL mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SaslMechanism {
    /// PLAIN: user name and password in the clear (use with TLS).
    #[default]
    Plain,
    /// SCRAM-SHA-256 (RFC 5802 / 7677).
    ScramSha256,
    /// SCRAM-SHA-512.
    ScramSha512,
}

impl SaslMechanism {
    /// The name sent in SaslHandshake.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

impl std::str::FromStr for SaslMechanism {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(SaslMechanism::Plain),
            "SCRAM-SHA-256" => Ok(SaslMechanism::ScramSha256),
            "SCRAM-SHA-512" => Ok(SaslMechanism::ScramSha512),
            other => Err(crate::Error::Config(format!(
                "unknown SASL mechanism '{other}' (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"
            ))),
        }
    }
}

/// A string kept out of logs and Debug output.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// SASL credentials. The password never appears in Debug output.
///
/// ```
/// let sasl = kafkit_client::SaslConfig::scram_sha512("alice", "s3cret");
/// assert!(!format!("{sasl:?}").contains("s3cret"));
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SaslConfig {
    /// The mechanism.
    pub mechanism: SaslMechanism,
    /// User name.
    pub username: String,
    /// Password.
    pub password: Secret,
}

impl SaslConfig {
    /// PLAIN credentials.
    pub fn plain(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::new(SaslMechanism::Plain, username, password)
    }

    /// SCRAM-SHA-256 credentials.
    pub fn scram_sha256(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::new(SaslMechanism::ScramSha256, username, password)
    }

    /// SCRAM-SHA-512 credentials.
    pub fn scram_sha512(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::new(SaslMechanism::ScramSha512, username, password)
    }

    /// Credentials for `mechanism`.
    pub fn new(
        mechanism: SaslMechanism,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        SaslConfig {
            mechanism,
            username: username.into(),
            password: Secret(password.into()),
        }
    }
}
