//! Failures on the wire, injected by the fault proxy: each is a clear error within the
//! configured timeout, nothing hangs, and the client recovers once the fault is gone.

mod common;

use std::time::{Duration, Instant};

use kafkit_client::wire::messages::DescribeClusterRequest;
use kafkit_client::{Client, Error, Target};

fn config(bootstrap: &str) -> kafkit_client::ClientConfig {
    common::config(bootstrap)
        .connect_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(2))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
}

/// Polls `done` until it holds; fails the test after 10 s, naming `what` it waited for.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "waited 10 s for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn describe(client: &Client) -> Result<usize, Error> {
    client
        .send(&Target::LeastLoaded, &DescribeClusterRequest::default())
        .await
        .map(|r| r.brokers.len())
}

#[tokio::test]
async fn a_stalled_broker_times_out_then_recovers() {
    let p = common::Proxied::start(None).await;
    let client = Client::connect(config(&p.bootstrap())).await.unwrap();
    p.proxy.stall(true);
    let start = Instant::now();
    let err = describe(&client).await.unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(err.is_retriable());
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    p.proxy.stall(false);
    assert_eq!(describe(&client).await.unwrap(), 1);
}

#[tokio::test]
async fn a_connection_closed_mid_flight_fails_waiters_at_once_and_reconnects() {
    let p = common::Proxied::start(None).await;
    let client = Client::connect(config(&p.bootstrap()).request_timeout(Duration::from_secs(30)))
        .await
        .unwrap();
    let conn = client.connection(&Target::LeastLoaded).await.unwrap();
    p.proxy.stall(true);
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { describe(&c).await })
        })
        .collect();
    wait_until("five requests in flight", || conn.in_flight() == 5).await;
    let start = Instant::now();
    p.proxy.close_all();
    for w in waiters {
        let err = w.await.unwrap().unwrap_err();
        assert!(matches!(err, Error::Disconnected { .. }), "{err}");
        assert!(err.to_string().contains("DescribeCluster"), "{err}");
    }
    // Failed at once, not after the 30 s request timeout.
    assert!(start.elapsed() < Duration::from_secs(2));
    p.proxy.stall(false);
    assert_eq!(describe(&client).await.unwrap(), 1);
    assert!(p.proxy.accepted_connections() >= 2, "no reconnect happened");
}

#[tokio::test]
async fn a_response_cut_in_the_middle_is_a_clear_error() {
    let p = common::Proxied::start(None).await;
    let client = Client::connect(config(&p.bootstrap())).await.unwrap();
    p.proxy.cut_next_response(9);
    let err = describe(&client).await.unwrap_err();
    assert!(matches!(err, Error::Disconnected { .. }), "{err}");
    assert!(err.to_string().contains("middle of a response"), "{err}");
    assert_eq!(describe(&client).await.unwrap(), 1);
}

#[tokio::test]
async fn a_slow_link_is_only_slower() {
    let p = common::Proxied::start(None).await;
    let client = Client::connect(config(&p.bootstrap())).await.unwrap();
    p.proxy.delay(Duration::from_millis(150));
    let start = Instant::now();
    assert_eq!(describe(&client).await.unwrap(), 1);
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_broker_that_is_down_fails_fast_and_is_reconnected_with_backoff() {
    let p = common::Proxied::start(None).await;
    let client = Client::connect(config(&p.bootstrap())).await.unwrap();
    p.proxy.refuse(true);
    p.proxy.close_all();
    wait_until("the proxy's connections closed", || {
        p.proxy.open_connections() == 0
    })
    .await;
    let start = Instant::now();
    for _ in 0..3 {
        let err = describe(&client).await.unwrap_err();
        assert!(err.is_retriable(), "{err}");
        assert!(err.to_string().contains(&p.bootstrap()), "{err}");
    }
    assert!(start.elapsed() < Duration::from_secs(6));
    p.proxy.refuse(false);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match describe(&client).await {
            Ok(n) => {
                assert_eq!(n, 1);
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "never reconnected: {e}"),
        }
    }
}

#[tokio::test]
async fn a_handshake_that_never_completes_hits_the_connect_timeout() {
    let p = common::Proxied::start(None).await;
    p.proxy.stall(true);
    let start = Instant::now();
    let err = Client::connect(config(&p.bootstrap()).retries(1))
        .await
        .unwrap_err();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_restart_is_survived() {
    let mut p = common::Proxied::start(None).await;
    let client = Client::connect(config(&p.bootstrap())).await.unwrap();
    let topic = common::topic(&client, "restart", 1).await;
    tokio::task::block_in_place(|| p.broker.restart());
    // The cluster answers after reconnecting. Kafka keeps its topics; Tansu's memory storage
    // starts empty again.
    let admin = client.admin();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match admin.list_topics(false).await {
            Ok(topics) => {
                assert_eq!(
                    topics.contains(&topic),
                    kafkit_testkit::on_kafka(),
                    "{topic} in {topics:?}"
                );
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "never recovered: {e}"),
        }
    }
}

#[tokio::test]
async fn requests_in_flight_are_bounded_per_connection() {
    let p = common::Proxied::start(None).await;
    let client = Client::connect(
        config(&p.bootstrap())
            .max_in_flight(2)
            .request_timeout(Duration::from_secs(30)),
    )
    .await
    .unwrap();
    let conn = client.connection(&Target::LeastLoaded).await.unwrap();
    p.proxy.stall(true);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { describe(&c).await })
        })
        .collect();
    // Nothing is answered while stalled: two requests take the connection's two slots,
    // and none of the ten can finish, so eight wait for a slot.
    wait_until("two requests in flight", || conn.in_flight() == 2).await;
    assert!(tasks.iter().all(|t| !t.is_finished()));
    assert_eq!(conn.in_flight(), 2);
    p.proxy.stall(false);
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 1);
    }
    assert_eq!(conn.in_flight(), 0);
}
