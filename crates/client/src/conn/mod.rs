//! Connections to brokers: transport (TCP/TLS), the messenger that pipelines requests, the
//! API-version handshake and SASL authentication.
//!
//! [`open`] does everything needed before a connection can carry requests, within the connect
//! timeout: TCP connect, TLS handshake, ApiVersions, then SaslHandshake + SaslAuthenticate.

mod messenger;
pub(crate) mod sasl;
pub(crate) mod tls;
mod transport;
mod versions;

use std::sync::Arc;

use crate::wire::messages::{
    ApiKey, ApiVersionsRequest, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use crate::wire::StrBytes;
use bytes::Bytes;

pub(crate) use messenger::skip_header;
pub(crate) use messenger::MessengerOptions;
pub use messenger::{Connection, PendingResponse};
pub use versions::ApiVersionTable;

use crate::config::{ClientConfig, SaslConfig, SaslMechanism};
use crate::error::{Error, Result};

/// Opens a ready-to-use connection to `addr`: connected, versions known, authenticated.
pub(crate) async fn open(
    addr: &str,
    config: &ClientConfig,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Arc<Connection>> {
    let work = async {
        let server_name = config.tls.as_ref().and_then(|t| t.server_name.as_deref());
        let transport = transport::Transport::connect(addr, tls, server_name).await?;
        let conn = Connection::start(
            addr.to_string(),
            transport,
            &MessengerOptions {
                client_id: config.client_id.clone(),
                max_in_flight: config.max_in_flight,
                request_timeout: config.request_timeout.min(config.connect_timeout),
                max_response_size: config.max_response_size,
            },
        );
        let table = api_versions(&conn).await?;
        conn.set_versions(table);
        if let Some(sasl) = &config.sasl {
            authenticate(&conn, sasl).await?;
        }
        Ok::<_, Error>(conn)
    };
    let conn = match tokio::time::timeout(config.connect_timeout, work).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(Error::ConnectTimeout {
                broker: addr.to_string(),
                after: config.connect_timeout,
            })
        }
    };
    // Handshake requests used the connect timeout; requests from now on use the request timeout.
    Ok(Arc::new(conn.with_request_timeout(config.request_timeout)))
}

async fn api_versions(conn: &Connection) -> Result<ApiVersionTable> {
    let request = ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("kafkit"))
        .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
    // v3 first; a broker that does not know it answers UNSUPPORTED_VERSION in v0 form.
    let response = match conn.send_version(&request, 3).await {
        Ok(r) if r.error_code == 0 => r,
        Ok(_) | Err(Error::Protocol { .. }) => conn.send_version(&request, 0).await?,
        Err(e) => return Err(e),
    };
    crate::error::check_code(response.error_code, ApiKey::ApiVersions, conn.broker())
        .map_err(|b| b.build())?;
    Ok(ApiVersionTable::from_response(&response))
}

async fn authenticate(conn: &Connection, sasl: &SaslConfig) -> Result<()> {
    let mechanism = sasl.mechanism.name();
    let auth_error = |message: String| Error::Auth {
        broker: conn.broker().to_string(),
        mechanism,
        message,
    };
    let closed = |e: Error| match e {
        Error::Disconnected { reason, .. } => auth_error(format!(
            "the broker closed the connection ({reason}); is {mechanism} enabled there?"
        )),
        other => other,
    };
    let handshake =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
    let version = conn.version_for::<SaslHandshakeRequest>(Some(1))?;
    let response = conn
        .send_version(&handshake, version)
        .await
        .map_err(closed)?;
    if response.error_code != 0 {
        let enabled: Vec<String> = response.mechanisms.iter().map(|m| m.to_string()).collect();
        return Err(auth_error(format!(
            "mechanism not enabled on the broker (it offers: {})",
            enabled.join(", ")
        )));
    }
    let step = |token: Vec<u8>| async move {
        let request = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token));
        let response = conn.send(&request).await.map_err(closed)?;
        if response.error_code != 0 {
            let code = crate::wire::ErrorCode::try_from_code(response.error_code);
            return Err(auth_error(format!(
                "{:?}{}",
                code.unwrap_or(crate::wire::ErrorCode::UnknownServerError),
                response
                    .error_message
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )));
        }
        Ok::<_, Error>(response.auth_bytes)
    };
    match sasl.mechanism {
        SaslMechanism::Plain => {
            step(sasl::plain_token(&sasl.username, &sasl.password.0)).await?;
        }
        SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
            let hash = if sasl.mechanism == SaslMechanism::ScramSha256 {
                sasl::ScramHash::Sha256
            } else {
                sasl::ScramHash::Sha512
            };
            let start = sasl::ScramStart::new(hash, &sasl.username, &sasl.password.0);
            let (sent, first) = start.client_first();
            let server_first = step(first).await?;
            let (proven, fin) = sent.client_final(&server_first).map_err(auth_error)?;
            let server_final = step(fin).await?;
            proven.verify(&server_final).map_err(auth_error)?;
        }
    }
    tracing::debug!(broker = conn.broker(), mechanism, "authenticated");
    Ok(())
}
