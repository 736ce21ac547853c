//! Producer counters, read with [`Producer::metrics`](super::Producer::metrics).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Live counters, updated with relaxed atomics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub records_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub batches_sent: AtomicU64,
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub records_failed: AtomicU64,
    pub identity_resets: AtomicU64,
    /// Written by `send` on every record: kept off the cache lines the sinks write.
    pub queued_records: Padded<AtomicI64>,
    pub latency_us_total: AtomicU64,
    pub latency_us_max: AtomicU64,
    /// Request latency histogram: bucket `i` counts latencies in `[2^i, 2^(i+1))` µs.
    pub latency_buckets: [AtomicU64; 32],
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn request_latency(&self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.latency_us_total.fetch_add(us, Ordering::Relaxed);
        self.latency_us_max.fetch_max(us, Ordering::Relaxed);
        let bucket = (64 - us.max(1).leading_zeros() - 1).min(31) as usize;
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ProducerMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let requests = get(&self.requests);
        let buckets: Vec<u64> = self.latency_buckets.iter().map(get).collect();
        let quantile = |q: f64| -> Duration {
            let want = (requests as f64 * q).ceil() as u64;
            let mut seen = 0;
            for (i, n) in buckets.iter().enumerate() {
                seen += n;
                if seen >= want && *n > 0 {
                    return Duration::from_micros(2u64 << i); // upper bound of the bucket
                }
            }
            Duration::ZERO
        };
        ProducerMetrics {
            records_sent: get(&self.records_sent),
            bytes_sent: get(&self.bytes_sent),
            batches_sent: get(&self.batches_sent),
            requests,
            retries: get(&self.retries),
            records_failed: get(&self.records_failed),
            identity_resets: get(&self.identity_resets),
            queued_records: self.queued_records.load(Ordering::Relaxed).max(0) as u64,
            request_latency_avg: Duration::from_micros(
                get(&self.latency_us_total)
                    .checked_div(requests)
                    .unwrap_or(0),
            ),
            request_latency_p99: if requests == 0 {
                Duration::ZERO
            } else {
                quantile(0.99).min(Duration::from_micros(get(&self.latency_us_max)))
            },
            request_latency_max: Duration::from_micros(get(&self.latency_us_max)),
        }
    }
}

/// A value alone on its cache line (128 bytes covers adjacent-line prefetching).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A snapshot of the producer's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerMetrics {
    /// Records acknowledged by the broker.
    pub records_sent: u64,
    /// Batch bytes acknowledged (after compression).
    pub bytes_sent: u64,
    /// Batches acknowledged.
    pub batches_sent: u64,
    /// Produce requests answered (or sent, with acks=0).
    pub requests: u64,
    /// Batches sent again after a retriable failure.
    pub retries: u64,
    /// Records that failed for good.
    pub records_failed: u64,
    /// Times the idempotent producer took a new producer id/epoch (after a sequence gap,
    /// a batch failed for good, or a broker that forgot the producer).
    pub identity_resets: u64,
    /// Records enqueued and not yet acknowledged or failed (the queue depth).
    pub queued_records: u64,
    /// Mean Produce round trip.
    pub request_latency_avg: Duration,
    /// 99th percentile Produce round trip (upper bound of its power-of-two bucket).
    pub request_latency_p99: Duration,
    /// Slowest Produce round trip.
    pub request_latency_max: Duration,
}
