//! kafkit's test kit: real brokers for integration tests, and tools to break them.
//!
//! - [`Broker`]: a Tansu broker on a free loopback port; [`shared_broker`] gives one per test
//!   binary (tests keep apart by [`unique_topic`] names); [`Broker::start_sasl`] gives one
//!   that demands SCRAM authentication.
//! - [`FaultProxy`]: a TCP proxy between client and broker that closes, stalls, delays or cuts
//!   connections on command, and can terminate TLS (Tansu itself serves plaintext only).
//! - [`ProxiedBroker`]: a private broker that clients reach only through a [`FaultProxy`].
//! - [`TestPki`]: a throwaway CA with server and client certificates.
//!
//! The broker binary is found through `$TANSU`, then `PATH`, then `~/.cargo/bin/tansu`.

mod broker;
mod pki;
mod proxied;
mod proxy;

pub use broker::{shared_broker, tansu_binary, unique_topic, Broker, BrokerOptions, ScramUser};
pub use pki::TestPki;
pub use proxied::ProxiedBroker;
pub use proxy::FaultProxy;

/// A free TCP port on 127.0.0.1 (free when asked; bind it soon).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the loopback interface accepts a bind to port 0")
}
