//! The byte stream under a connection: plain TCP or TLS over TCP.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::error::{Error, Result};

/// A connected stream, TLS or not.
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Transport {
    /// Connects TCP to `addr` and, when `tls` is given, runs the TLS handshake.
    /// The caller bounds the whole call with the connect timeout.
    pub(crate) async fn connect(
        addr: &str,
        tls: Option<&Arc<rustls::ClientConfig>>,
        server_name: Option<&str>,
    ) -> Result<Transport> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|source| Error::Connect {
                broker: addr.to_string(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let Some(tls) = tls else {
            return Ok(Transport::Plain(tcp));
        };
        let host = server_name.unwrap_or_else(|| host_of(addr));
        let name =
            rustls_pki_types::ServerName::try_from(host.to_string()).map_err(|e| Error::Tls {
                broker: addr.to_string(),
                message: format!("invalid server name '{host}': {e}"),
            })?;
        let connector = tokio_rustls::TlsConnector::from(tls.clone());
        let stream = connector.connect(name, tcp).await.map_err(|e| Error::Tls {
            broker: addr.to_string(),
            message: e.to_string(),
        })?;
        Ok(Transport::Tls(Box::new(stream)))
    }
}

/// The host part of `host:port` (brackets of IPv6 literals removed).
pub(crate) fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(s) => s.is_write_vectored(),
            Transport::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
