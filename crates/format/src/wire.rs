//! The Schema Registry wire format: a magic byte 0, the schema id as a 4-byte big-endian
//! integer, for Protobuf the indexes of the message type within its file, then the payload.
//!
//! ```
//! use kafkit_format::wire;
//!
//! let framed = wire::frame(42, &[], b"payload");
//! assert_eq!(&framed[..5], &[0, 0, 0, 0, 42]);
//! let (id, payload) = wire::unframe(&framed).unwrap();
//! assert_eq!((id, payload), (42, &b"payload"[..]));
//! ```

use kafkit_record::varint;

use crate::error::{FormatError, Result};

/// The first byte of every framed value.
pub const MAGIC: u8 = 0;

/// Bytes before the payload (Protobuf adds its message indexes after them).
pub const HEADER_LEN: usize = 5;

/// The message indexes the Java serializer writes at most; more is taken as damage.
const MAX_INDEXES: i32 = 1024;

/// `payload` framed with `schema_id`; with Protobuf message `indexes` when not empty.
pub fn frame(schema_id: i32, indexes: &[i32], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + 1 + payload.len());
    write_header(&mut out, schema_id);
    if !indexes.is_empty() {
        write_message_indexes(&mut out, indexes);
    }
    out.extend_from_slice(payload);
    out
}

/// Appends the magic byte and `schema_id` to `out`.
pub fn write_header(out: &mut Vec<u8>, schema_id: i32) {
    out.push(MAGIC);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// The schema id and what follows it.
pub fn unframe(bytes: &[u8]) -> Result<(i32, &[u8])> {
    match bytes {
        [MAGIC, a, b, c, d, rest @ ..] => Ok((i32::from_be_bytes([*a, *b, *c, *d]), rest)),
        [] => Err(wire_error("the value is empty")),
        [MAGIC, ..] => Err(wire_error(format!(
            "{} bytes, too short for the magic byte and a schema id",
            bytes.len()
        ))),
        [first, ..] => Err(wire_error(format!(
            "first byte is 0x{first:02x}, not the magic byte 0"
        ))),
    }
}

/// Appends Protobuf message indexes as the Java serializer writes them: `[0]` (the file's
/// first message) as the single byte 0, otherwise a zig-zag varint count then each index.
pub fn write_message_indexes(out: &mut Vec<u8>, indexes: &[i32]) {
    if indexes == [0] {
        varint::put_varint(out, 0);
        return;
    }
    varint::put_varint(out, indexes.len() as i32);
    for &i in indexes {
        varint::put_varint(out, i);
    }
}

/// Reads Protobuf message indexes from the front of `bytes` (a count of 0 stands for
/// `[0]`); returns them and the payload after them.
pub fn read_message_indexes(bytes: &[u8]) -> Result<(Vec<i32>, &[u8])> {
    let mut pos = 0;
    let count = varint::read_varint(bytes, &mut pos)
        .map_err(|_| wire_error("the Protobuf message indexes are cut short"))?;
    if count == 0 {
        return Ok((vec![0], &bytes[pos..]));
    }
    if !(1..=MAX_INDEXES).contains(&count) {
        return Err(wire_error(format!(
            "{count} Protobuf message indexes (at most {MAX_INDEXES})"
        )));
    }
    let mut indexes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let i = varint::read_varint(bytes, &mut pos)
            .map_err(|_| wire_error("the Protobuf message indexes are cut short"))?;
        if i < 0 {
            return Err(wire_error(format!(
                "Protobuf message index {i} is negative"
            )));
        }
        indexes.push(i);
    }
    Ok((indexes, &bytes[pos..]))
}

fn wire_error(reason: impl Into<String>) -> FormatError {
    FormatError::Wire {
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_the_magic_byte_and_a_big_endian_id() {
        // As Confluent's serializers write it: id 1 → 00 00 00 00 01.
        assert_eq!(frame(1, &[], b"x"), [0, 0, 0, 0, 1, b'x']);
        assert_eq!(frame(0x0102_0304, &[], b""), [0, 1, 2, 3, 4]);
        assert_eq!(unframe(&[0, 0, 0, 1, 0, 7]).unwrap(), (256, &[7u8][..]));
    }

    #[test]
    fn bytes_without_the_header_say_what_is_wrong() {
        let err = unframe(b"{\"a\":1}").unwrap_err().to_string();
        assert!(err.contains("first byte is 0x7b"), "{err}");
        let err = unframe(&[0, 0, 1]).unwrap_err().to_string();
        assert!(err.contains("3 bytes, too short"), "{err}");
        assert!(unframe(&[]).unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn message_indexes_follow_the_java_serializer() {
        // [0] is the single byte 0; [1] is count 1 (zig-zag 2) then 1 (zig-zag 2);
        // [0, 2] is count 2 (zig-zag 4), 0, 2 (zig-zag 4).
        let cases: [(&[i32], &[u8]); 3] = [(&[0], &[0]), (&[1], &[2, 2]), (&[0, 2], &[4, 0, 4])];
        for (indexes, bytes) in cases {
            let mut out = Vec::new();
            write_message_indexes(&mut out, indexes);
            assert_eq!(out, bytes, "{indexes:?}");
            let mut framed = out.clone();
            framed.push(9);
            let (read, rest) = read_message_indexes(&framed).unwrap();
            assert_eq!((read.as_slice(), rest), (indexes, &[9u8][..]));
        }
    }

    #[test]
    fn damaged_message_indexes_are_errors() {
        assert!(read_message_indexes(&[]).is_err());
        assert!(read_message_indexes(&[4, 0]).is_err()); // two announced, one there
        assert!(read_message_indexes(&[1]).is_err()); // zig-zag -1: a negative count
        assert!(read_message_indexes(&[2, 1]).is_err()); // index -1
        let err = read_message_indexes(&[0xfe, 0xff, 0x03]).unwrap_err();
        assert!(err.to_string().contains("at most"), "{err}");
    }
}
