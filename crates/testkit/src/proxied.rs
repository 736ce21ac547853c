//! [`ProxiedBroker`]: a private broker reachable only through a [`FaultProxy`].

use std::sync::Arc;

use crate::{Broker, BrokerOptions, FaultProxy};

/// A broker that advertises its proxy's port, so every connection a client makes (bootstrap
/// and broker) crosses the proxy. With a TLS config, the proxy terminates TLS.
pub struct ProxiedBroker {
    /// The proxy clients talk to.
    pub proxy: FaultProxy,
    /// The broker behind it.
    pub broker: Broker,
}

impl ProxiedBroker {
    /// Starts a memory-storage broker behind a new proxy.
    pub async fn start(tls: Option<Arc<rustls::ServerConfig>>) -> ProxiedBroker {
        let proxy_port = crate::free_port();
        let broker = tokio::task::spawn_blocking(move || {
            Broker::start_with(BrokerOptions {
                advertised_port: Some(proxy_port),
                ..Default::default()
            })
        })
        .await
        .expect("the broker starts");
        let upstream = format!("127.0.0.1:{}", broker.port());
        let proxy = FaultProxy::start_on(proxy_port, &upstream, tls).await;
        ProxiedBroker { proxy, broker }
    }

    /// The address clients bootstrap from (the proxy's).
    pub fn bootstrap(&self) -> String {
        self.proxy.address()
    }
}
