//! Errors of the record codec. Every decode error says what was wrong and where.

use crate::Compression;

/// Why bytes could not be decoded as RecordBatch v2.
///
/// Positions (`at`) are byte offsets from the start of the batch (or of the decompressed
/// records section for errors inside records); `base_offset` names the batch's first offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before a field was complete.
    #[error("truncated {what} at byte {at}")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Where it started.
        at: usize,
    },
    /// A varint ran past its maximum length or value range.
    #[error("malformed varint at byte {at}")]
    BadVarint {
        /// Where it started.
        at: usize,
    },
    /// A length field is negative (other than -1 for null) or larger than what follows.
    #[error("invalid {what} length {len} at byte {at}")]
    BadLength {
        /// The field the length belongs to.
        what: &'static str,
        /// The length read.
        len: i64,
        /// Where the length was read.
        at: usize,
    },
    /// The stored CRC32C does not match the batch contents.
    #[error("CRC mismatch in batch at offset {base_offset}: stored {stored:#010x}, computed {computed:#010x}")]
    BadCrc {
        /// First offset of the batch.
        base_offset: i64,
        /// The CRC in the batch header.
        stored: u32,
        /// The CRC of the bytes received.
        computed: u32,
    },
    /// The batch is not RecordBatch v2 (magic 0 and 1 are the legacy message-set formats).
    #[error("unsupported record format (magic {magic}) in batch at offset {base_offset}; only v2 is supported")]
    UnsupportedMagic {
        /// First offset of the batch.
        base_offset: i64,
        /// The magic byte read.
        magic: i8,
    },
    /// The compression bits name no known codec.
    #[error("unknown compression codec id {0}")]
    UnknownCompression(u8),
    /// The compressed records could not be inflated.
    #[error("{codec:?} decompression failed in batch at offset {base_offset}: {message}")]
    Decompress {
        /// The codec of the batch.
        codec: Compression,
        /// First offset of the batch.
        base_offset: i64,
        /// What the decompressor reported.
        message: String,
    },
    /// Inflated records would exceed the configured limit.
    #[error("batch at offset {base_offset} inflates past the limit of {limit} bytes")]
    TooLarge {
        /// First offset of the batch.
        base_offset: i64,
        /// The limit in force.
        limit: usize,
    },
    /// The record count in the header disagrees with the records present.
    #[error("batch at offset {base_offset} declares {declared} records but {problem}")]
    RecordCount {
        /// First offset of the batch.
        base_offset: i64,
        /// The count in the header.
        declared: i32,
        /// What was found instead.
        problem: &'static str,
    },
}

/// Why a batch could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The compressor failed.
    #[error("{codec:?} compression failed: {source}")]
    Compress {
        /// The codec used.
        codec: Compression,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The buffer is shorter than a batch header.
    #[error("{len} bytes are too short for a record batch header")]
    TooShort {
        /// The buffer's length.
        len: usize,
    },
    /// A field does not fit its wire type (e.g. more than i32::MAX bytes).
    #[error("{what} too large for the wire format")]
    TooLarge {
        /// The field.
        what: &'static str,
    },
}
