//! Choosing a partition: explicit wins, then a custom [`Partitioner`], then the default —
//! murmur2 of the key exactly as the Java client and librdkafka's `murmur2_random` do, and
//! sticky partitioning (KIP-480) for keyless records.

use std::sync::atomic::{AtomicI32, Ordering};

/// A custom partitioner. Return `None` to fall back to the default for this record.
///
/// ```
/// use kafkit_client::Partitioner;
/// /// Everything with a key starting with "vip-" goes to partition 0.
/// struct Vip;
/// impl Partitioner for Vip {
///     fn partition(&self, _topic: &str, key: Option<&[u8]>, _partitions: i32) -> Option<i32> {
///         key.filter(|k| k.starts_with(b"vip-")).map(|_| 0)
///     }
/// }
/// assert_eq!(Vip.partition("t", Some(b"vip-1"), 6), Some(0));
/// ```
pub trait Partitioner: Send + Sync + 'static {
    /// The partition in `0..partitions` for a record with this key, or `None` for the
    /// default choice.
    fn partition(&self, topic: &str, key: Option<&[u8]>, partitions: i32) -> Option<i32>;
}

/// The Java client's partition for `key`: `(murmur2(key) & 0x7fffffff) % partitions`.
pub(crate) fn keyed(key: &[u8], partitions: i32) -> i32 {
    kafkit_record::partition_for_key(key, partitions.max(0) as u32)
}

/// The sticky partition of one topic: keyless records go to it until its batch is sealed.
#[derive(Debug)]
pub(crate) struct Sticky {
    current: AtomicI32,
}

impl Sticky {
    pub(crate) fn new(partitions: i32) -> Self {
        Sticky {
            current: AtomicI32::new(pick(partitions, -1)),
        }
    }

    /// The partition keyless records go to now.
    pub(crate) fn current(&self) -> i32 {
        self.current.load(Ordering::Relaxed)
    }

    /// Called when `sealed`'s batch was closed: if it was the sticky one, move on to another.
    pub(crate) fn on_batch_sealed(&self, sealed: i32, partitions: i32) {
        if self.current() == sealed {
            let next = pick(partitions, sealed);
            let _ =
                self.current
                    .compare_exchange(sealed, next, Ordering::Relaxed, Ordering::Relaxed);
        }
    }
}

/// A random partition, different from `not` when there is a choice.
fn pick(partitions: i32, not: i32) -> i32 {
    use rand::Rng;
    if partitions <= 1 {
        return 0;
    }
    let mut rng = rand::thread_rng();
    loop {
        let p = rng.gen_range(0..partitions);
        if p != not {
            return p;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_matches_java_for_known_keys() {
        // kafka-python's DefaultPartitioner vectors (1000 partitions).
        assert_eq!(keyed(b"", 1000), 681);
        assert_eq!(keyed(b"123456789", 1000), 566);
        // Java's murmur2("21") = -973932308, masked positive, modulo 7.
        assert_eq!(keyed(b"21", 7), (-973932308i32 & 0x7fffffff) % 7);
    }

    #[test]
    fn sticky_moves_only_when_its_batch_seals() {
        let s = Sticky::new(6);
        let first = s.current();
        s.on_batch_sealed((first + 1) % 6, 6);
        assert_eq!(s.current(), first);
        s.on_batch_sealed(first, 6);
        assert_ne!(s.current(), first);
        assert!((0..6).contains(&s.current()));
        let one = Sticky::new(1);
        one.on_batch_sealed(0, 1);
        assert_eq!(one.current(), 0);
    }
}
