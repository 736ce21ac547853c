//! Zig-zag variable-length integers, as used inside RecordBatch v2 records.
//!
//! Kafka encodes record fields with the protobuf scheme: the value is zig-zag mapped so that
//! small negative numbers stay short, then written 7 bits at a time, low bits first, with the
//! high bit of each byte saying "more follows". A 32-bit varint takes at most 5 bytes and a
//! 64-bit varlong at most 10; anything longer is malformed.

use bytes::BufMut;

use crate::error::DecodeError;

/// Appends `value` as a zig-zag varint (at most 5 bytes).
#[inline]
pub fn put_varint(buf: &mut impl BufMut, value: i32) {
    let mut v = ((value << 1) ^ (value >> 31)) as u32;
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Appends `value` as a zig-zag varlong (at most 10 bytes).
#[inline]
pub fn put_varlong(buf: &mut impl BufMut, value: i64) {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Number of bytes [`put_varint`] writes for `value`.
#[inline]
pub fn varint_len(value: i32) -> usize {
    let v = ((value << 1) ^ (value >> 31)) as u32;
    // 1 byte per started group of 7 bits; zero still takes one byte.
    (32 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Number of bytes [`put_varlong`] writes for `value`.
#[inline]
pub fn varlong_len(value: i64) -> usize {
    let v = ((value << 1) ^ (value >> 63)) as u64;
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Reads a zig-zag varint from the front of `buf`, advancing `pos`.
#[inline]
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Result<i32, DecodeError> {
    let raw = read_unsigned(buf, pos, 5)?;
    if raw > u64::from(u32::MAX) {
        return Err(DecodeError::BadVarint { at: *pos });
    }
    let raw = raw as u32;
    Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// Reads a zig-zag varlong from the front of `buf`, advancing `pos`.
#[inline]
pub fn read_varlong(buf: &[u8], pos: &mut usize) -> Result<i64, DecodeError> {
    let raw = read_unsigned(buf, pos, 10)?;
    Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

#[inline]
fn read_unsigned(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Result<u64, DecodeError> {
    let start = *pos;
    // Most varints of a record (deltas, key and value lengths under 8 KiB) take one or two
    // bytes: decode those without the loop.
    if let Some(&b0) = buf.get(start) {
        if b0 < 0x80 {
            *pos = start + 1;
            return Ok(u64::from(b0));
        }
        if let Some(&b1) = buf.get(start + 1) {
            if b1 < 0x80 {
                *pos = start + 2;
                return Ok(u64::from(b0 & 0x7f) | u64::from(b1) << 7);
            }
        }
    }
    let mut result: u64 = 0;
    for i in 0..max_bytes {
        let Some(&byte) = buf.get(start + i) else {
            return Err(DecodeError::Truncated {
                what: "varint",
                at: start,
            });
        };
        result |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *pos = start + i + 1;
            return Ok(result);
        }
    }
    Err(DecodeError::BadVarint { at: start })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc32(v: i32) -> Vec<u8> {
        let mut b = Vec::new();
        put_varint(&mut b, v);
        b
    }

    fn enc64(v: i64) -> Vec<u8> {
        let mut b = Vec::new();
        put_varlong(&mut b, v);
        b
    }

    /// Vectors from the protobuf zig-zag table and kafka-python's varint tests.
    #[test]
    fn known_vectors() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-2, &[0x03]),
            (2, &[0x04]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (-65, &[0x81, 0x01]),
            (8191, &[0xfe, 0x7f]),
            (-8192, &[0xff, 0x7f]),
            (8192, &[0x80, 0x80, 0x01]),
            (-8193, &[0x81, 0x80, 0x01]),
            (1048575, &[0xfe, 0xff, 0x7f]),
            (-1048576, &[0xff, 0xff, 0x7f]),
            (1048576, &[0x80, 0x80, 0x80, 0x01]),
            (134217727, &[0xfe, 0xff, 0xff, 0x7f]),
            (-134217728, &[0xff, 0xff, 0xff, 0x7f]),
            (134217728, &[0x80, 0x80, 0x80, 0x80, 0x01]),
            (2147483647, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (-2147483648, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for &(value, bytes) in cases {
            assert_eq!(enc64(value), bytes, "varlong {value}");
            let mut pos = 0;
            assert_eq!(read_varlong(bytes, &mut pos).unwrap(), value);
            assert_eq!(pos, bytes.len());
            assert_eq!(varlong_len(value), bytes.len());
            if let Ok(v32) = i32::try_from(value) {
                assert_eq!(enc32(v32), bytes, "varint {value}");
                let mut pos = 0;
                assert_eq!(read_varint(bytes, &mut pos).unwrap(), v32);
                assert_eq!(varint_len(v32), bytes.len());
            }
        }
        assert_eq!(enc64(i64::MAX).len(), 10);
        assert_eq!(enc64(i64::MIN).len(), 10);
    }

    #[test]
    fn malformed_is_an_error() {
        let mut pos = 0;
        assert!(matches!(
            read_varint(&[0x80, 0x80], &mut pos),
            Err(DecodeError::Truncated { .. })
        ));
        let mut pos = 0;
        assert!(matches!(
            read_varint(&[0xff; 6], &mut pos),
            Err(DecodeError::BadVarint { .. })
        ));
        let mut pos = 0;
        // Five bytes whose value does not fit 32 bits.
        assert!(matches!(
            read_varint(&[0xff, 0xff, 0xff, 0xff, 0x7f], &mut pos),
            Err(DecodeError::BadVarint { .. })
        ));
        let mut pos = 0;
        assert!(read_varlong(&[0xff; 11], &mut pos).is_err());
    }

    proptest::proptest! {
        #[test]
        fn round_trip_varint(v: i32) {
            let b = enc32(v);
            let mut pos = 0;
            proptest::prop_assert_eq!(read_varint(&b, &mut pos).unwrap(), v);
            proptest::prop_assert_eq!(varint_len(v), b.len());
        }

        #[test]
        fn round_trip_varlong(v: i64) {
            let b = enc64(v);
            let mut pos = 0;
            proptest::prop_assert_eq!(read_varlong(&b, &mut pos).unwrap(), v);
            proptest::prop_assert_eq!(varlong_len(v), b.len());
        }
    }
}
