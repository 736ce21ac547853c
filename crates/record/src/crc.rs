//! CRC32C (Castagnoli), the checksum of a RecordBatch v2.

/// CRC32C of `data`, hardware-accelerated where the CPU supports it.
///
/// ```
/// assert_eq!(kafkit_record::crc32c(b"a"), 0xc1d0_4330);
/// ```
#[inline]
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c(b"a"), 0xc1d0_4330);
        // RFC 3720 B.4: 32 bytes of zeros, and the ASCII digits check value.
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }
}
