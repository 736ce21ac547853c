//! The murmur2 hash exactly as the Java client computes it, for key → partition mapping.
//!
//! The Java producer's default partitioner (and librdkafka's `murmur2_random`) hashes the
//! serialized key with murmur2 (seed `0x9747b28c`), clears the sign bit, and takes the result
//! modulo the partition count. Using the same function keeps keyed records on the same
//! partition whichever client wrote them.

/// The Java client's murmur2 hash of `data`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition the Java client picks for a key among `partitions` partitions.
///
/// ```
/// assert_eq!(kafkit_record::partition_for_key(b"a", 1000), 524);
/// ```
///
/// # Panics
/// Never for `partitions > 0`; a zero partition count returns 0.
pub fn partition_for_key(key: &[u8], partitions: u32) -> i32 {
    if partitions == 0 {
        return 0;
    }
    ((murmur2(key) & 0x7fff_ffff) as u32 % partitions) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kafka-python's DefaultPartitioner vectors (1000 partitions).
    #[test]
    fn kafka_python_vectors() {
        let cases: &[(&[u8], i32)] = &[
            (b"", 681),
            (b"a", 524),
            (b"ab", 434),
            (b"abc", 107),
            (b"123456789", 566),
            (b"\x00 ", 742),
        ];
        for &(key, expected) in cases {
            assert_eq!(partition_for_key(key, 1000), expected, "key {key:?}");
        }
    }

    /// Raw hash values from the Java client's Utils.murmur2 tests.
    #[test]
    fn java_hash_vectors() {
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58897971
        );
        assert_eq!(murmur2(b"abc"), 479470107);
    }
}
