//! RecordBatch v2: the unit Kafka stores and ships.
//!
//! ```text
//! offset  size  field
//!      0     8  base_offset
//!      8     4  batch_length          (bytes after this field)
//!     12     4  partition_leader_epoch
//!     16     1  magic (= 2)
//!     17     4  crc (CRC32C of bytes 21..end)
//!     21     2  attributes            (codec bits 0-2, timestamp type 3, transactional 4, control 5)
//!     23     4  last_offset_delta
//!     27     8  base_timestamp
//!     35     8  max_timestamp
//!     43     8  producer_id
//!     51     2  producer_epoch
//!     53     4  base_sequence
//!     57     4  record count
//!     61     …  records (compressed as one block when a codec is set)
//! ```
//!
//! Decoding never copies keys or values of an uncompressed batch: records are slices of the
//! input `Bytes`. A compressed batch is inflated once into one buffer that its records share.

mod builder;

use std::ops::Range;

use bytes::Bytes;

use crate::compression::{self, Compression};
use crate::error::DecodeError;
use crate::record::{Header, Record};
use crate::varint::{read_varint, read_varlong};

/// Size of the fixed batch header, record count included.
pub const BATCH_HEADER_LEN: usize = 61;
/// Bytes before the `batch_length` field ends (offset + length).
pub const LOG_OVERHEAD: usize = 12;
const CRC_START: usize = 21;
const MAGIC_OFFSET: usize = 16;
/// The smallest encoded record: length, attributes, three varints, null key, null value, 0 headers.
const MIN_RECORD_LEN: usize = 7;

/// How timestamps in a batch are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampType {
    /// Set by the producer.
    #[default]
    CreateTime,
    /// Set by the broker on append (all records take `max_timestamp`).
    LogAppendTime,
}

/// The fixed header of a RecordBatch v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the length field; the whole batch is `batch_length + 12` bytes.
    pub batch_length: i32,
    /// Leader epoch stamped by the broker.
    pub partition_leader_epoch: i32,
    /// Compression codec of the records section.
    pub compression: Compression,
    /// Create time or log-append time.
    pub timestamp_type: TimestampType,
    /// Part of a transaction.
    pub is_transactional: bool,
    /// Holds control records (transaction markers), not data.
    pub is_control: bool,
    /// Offset of the last record relative to `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest timestamp in the batch.
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence number of the first record, or -1.
    pub base_sequence: i32,
    /// Number of records declared.
    pub record_count: i32,
}

impl BatchHeader {
    /// Offset of the last record (`base_offset + last_offset_delta`).
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// Offset just past this batch, where a reader continues.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    fn attributes(&self) -> i16 {
        let mut a = i16::from(self.compression.id());
        if self.timestamp_type == TimestampType::LogAppendTime {
            a |= 1 << 3;
        }
        if self.is_transactional {
            a |= 1 << 4;
        }
        if self.is_control {
            a |= 1 << 5;
        }
        a
    }
}

/// Limits and checks applied while decoding.
#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions {
    /// Verify the CRC32C of every batch (default true).
    pub check_crc: bool,
    /// Largest inflated records section accepted from a compressed batch (default 256 MiB).
    pub max_decompressed: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            check_crc: true,
            max_decompressed: 256 << 20,
        }
    }
}

/// A decoded batch: its header and its (inflated) records section, read lazily.
#[derive(Debug, Clone)]
pub struct RecordBatch {
    /// The batch header.
    pub header: BatchHeader,
    records: Bytes,
    raw: Bytes,
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

impl RecordBatch {
    /// Decodes exactly one batch from `buf` (which must hold the whole batch; trailing bytes
    /// after it are ignored). Use [`BatchReader`] for a record set of many batches.
    pub fn decode(buf: &Bytes, options: &DecodeOptions) -> Result<RecordBatch, DecodeError> {
        let b = &buf[..];
        if b.len() > MAGIC_OFFSET && b[MAGIC_OFFSET] as i8 != 2 {
            return Err(DecodeError::UnsupportedMagic {
                base_offset: be_i64(b, 0),
                magic: b[MAGIC_OFFSET] as i8,
            });
        }
        if b.len() < BATCH_HEADER_LEN {
            return Err(DecodeError::Truncated {
                what: "batch header",
                at: 0,
            });
        }
        let base_offset = be_i64(b, 0);
        let batch_length = be_i32(b, 8);
        let total = usize::try_from(batch_length)
            .ok()
            .and_then(|l| l.checked_add(LOG_OVERHEAD))
            .filter(|&t| t >= BATCH_HEADER_LEN)
            .ok_or(DecodeError::BadLength {
                what: "batch",
                len: i64::from(batch_length),
                at: 8,
            })?;
        if total > b.len() {
            return Err(DecodeError::Truncated {
                what: "batch",
                at: 0,
            });
        }
        let b = &b[..total];
        let stored = be_i32(b, 17) as u32;
        if options.check_crc {
            let computed = crate::crc::crc32c(&b[CRC_START..]);
            if computed != stored {
                return Err(DecodeError::BadCrc {
                    base_offset,
                    stored,
                    computed,
                });
            }
        }
        let attributes = be_i16(b, 21);
        let header = BatchHeader {
            base_offset,
            batch_length,
            partition_leader_epoch: be_i32(b, 12),
            compression: Compression::from_id((attributes & 0x7) as u8)?,
            timestamp_type: if attributes & (1 << 3) != 0 {
                TimestampType::LogAppendTime
            } else {
                TimestampType::CreateTime
            },
            is_transactional: attributes & (1 << 4) != 0,
            is_control: attributes & (1 << 5) != 0,
            last_offset_delta: be_i32(b, 23),
            base_timestamp: be_i64(b, 27),
            max_timestamp: be_i64(b, 35),
            producer_id: be_i64(b, 43),
            producer_epoch: be_i16(b, 51),
            base_sequence: be_i32(b, 53),
            record_count: be_i32(b, 57),
        };
        if header.record_count < 0 {
            return Err(DecodeError::BadLength {
                what: "record count",
                len: i64::from(header.record_count),
                at: 57,
            });
        }
        let payload = buf.slice(BATCH_HEADER_LEN..total);
        let records = match header.compression {
            Compression::None => payload,
            codec => Bytes::from(compression::decompress(
                codec,
                &payload,
                options.max_decompressed,
                base_offset,
            )?),
        };
        // Every record takes at least MIN_RECORD_LEN bytes: a count the payload cannot hold
        // is rejected before anyone sizes a buffer by it.
        if (header.record_count as usize).saturating_mul(MIN_RECORD_LEN) > records.len() {
            return Err(DecodeError::RecordCount {
                base_offset,
                declared: header.record_count,
                problem: "the records section is too short to hold them",
            });
        }
        Ok(RecordBatch {
            header,
            records,
            raw: buf.slice(..total),
        })
    }

    /// Iterates over the records, decoding each on demand.
    pub fn records(&self) -> RecordIter<'_> {
        RecordIter {
            batch: self,
            cursor: Cursor::new(self),
        }
    }

    /// Iterates over the records as borrowed [`RecordRef`]s (no reference counting, headers
    /// checked but skipped).
    pub fn record_refs(&self) -> RecordRefIter<'_> {
        RecordRefIter {
            batch: self,
            cursor: Cursor::new(self),
        }
    }

    /// Decodes all records into a vector, failing on the first malformed one.
    pub fn collect_records(&self) -> Result<Vec<Record>, DecodeError> {
        self.records().collect()
    }

    /// The whole batch exactly as it was decoded from: header, CRC and records section as
    /// sent (compressed when the batch is), a slice of the buffer it came in. Writing these
    /// bytes elsewhere makes a byte-faithful copy.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The inflated records section (for byte-faithful copies and debugging).
    pub fn records_section(&self) -> &Bytes {
        &self.records
    }
}

/// Where an iteration over a batch's records is: the next record's position and how many
/// records remain. A malformed record ends the iteration.
#[derive(Clone, Copy)]
struct Cursor {
    pos: usize,
    remaining: i32,
}

impl Cursor {
    fn new(batch: &RecordBatch) -> Self {
        Cursor {
            pos: 0,
            remaining: batch.header.record_count,
        }
    }

    /// Parses the next record with `parse`, unless none remain or one failed.
    #[inline]
    fn next<T>(
        &mut self,
        parse: impl FnOnce(&mut usize) -> Result<T, DecodeError>,
    ) -> Option<Result<T, DecodeError>> {
        if self.remaining <= 0 {
            return None;
        }
        self.remaining -= 1;
        let result = parse(&mut self.pos);
        if result.is_err() {
            self.remaining = 0;
        }
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining.max(0) as usize;
        (n, Some(n))
    }
}

/// Iterator over the records of a [`RecordBatch`].
pub struct RecordIter<'a> {
    batch: &'a RecordBatch,
    cursor: Cursor,
}

impl Iterator for RecordIter<'_> {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let records = &self.batch.records;
        let header = &self.batch.header;
        self.cursor.next(|pos| {
            let mut headers = Vec::new();
            let spans = parse_record(records, pos, header, |key, value| {
                headers.push(Header {
                    key: records.slice(key),
                    value: value.map(|v| records.slice(v)),
                });
            })?;
            Ok(Record {
                offset: spans.offset,
                timestamp: spans.timestamp,
                key: spans.key.map(|k| records.slice(k)),
                value: spans.value.map(|v| records.slice(v)),
                headers,
            })
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.cursor.size_hint()
    }
}

/// A record borrowed from its batch: key and value are plain slices and headers are
/// checked but not kept. Cheaper than [`Record`] where only keys and values matter (a
/// table's catch-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Absolute offset in the partition.
    pub offset: i64,
    /// Timestamp in milliseconds since the epoch.
    pub timestamp: i64,
    /// Key, or `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// Value, or `None` for a null value (a tombstone).
    pub value: Option<&'a [u8]>,
}

/// Iterator over the records of a [`RecordBatch`] as [`RecordRef`]s.
pub struct RecordRefIter<'a> {
    batch: &'a RecordBatch,
    cursor: Cursor,
}

impl<'a> Iterator for RecordRefIter<'a> {
    type Item = Result<RecordRef<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let records: &'a [u8] = &self.batch.records;
        let header = &self.batch.header;
        self.cursor.next(|pos| {
            let spans = parse_record(records, pos, header, |_, _| {})?;
            Ok(RecordRef {
                offset: spans.offset,
                timestamp: spans.timestamp,
                key: spans.key.map(|k| &records[k]),
                value: spans.value.map(|v| &records[v]),
            })
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.cursor.size_hint()
    }
}

#[inline]
fn read_len(buf: &[u8], pos: &mut usize, what: &'static str) -> Result<Option<usize>, DecodeError> {
    let at = *pos;
    let len = read_varint(buf, pos)?;
    if len == -1 {
        return Ok(None);
    }
    let len_usize = usize::try_from(len).map_err(|_| DecodeError::BadLength {
        what,
        len: i64::from(len),
        at,
    })?;
    if len_usize > buf.len() - *pos {
        return Err(DecodeError::BadLength {
            what,
            len: i64::from(len),
            at,
        });
    }
    Ok(Some(len_usize))
}

/// Reads a length-prefixed field that must end within `window`, and returns where it is.
#[inline]
fn read_span(
    window: &[u8],
    pos: &mut usize,
    what: &'static str,
) -> Result<Option<Range<usize>>, DecodeError> {
    Ok(read_len(window, pos, what)?.map(|len| {
        let span = *pos..*pos + len;
        *pos += len;
        span
    }))
}

/// Where one record's fields are in the records section.
struct RecordSpans {
    offset: i64,
    timestamp: i64,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
}

/// Parses the record at `pos`, checking every length against the record's own bounds, and
/// hands each header's key and value spans to `on_header`.
#[inline]
fn parse_record(
    records: &[u8],
    pos: &mut usize,
    header: &BatchHeader,
    mut on_header: impl FnMut(Range<usize>, Option<Range<usize>>),
) -> Result<RecordSpans, DecodeError> {
    let start = *pos;
    let Some(len) = read_len(records, pos, "record")? else {
        return Err(DecodeError::BadLength {
            what: "record",
            len: -1,
            at: start,
        });
    };
    let end = *pos + len;
    // Parse inside the record's own bounds so a bad inner length cannot reach the next record.
    let body = &records[..end];
    if *pos >= end {
        return Err(DecodeError::Truncated {
            what: "record attributes",
            at: *pos,
        });
    }
    *pos += 1; // attributes, unused
    let timestamp_delta = read_varlong(body, pos)?;
    let offset_delta = read_varint(body, pos)?;
    let key = read_span(body, pos, "key")?;
    let value = read_span(body, pos, "value")?;
    let header_count_at = *pos;
    let header_count = read_varint(body, pos)?;
    // Each header takes at least 2 bytes.
    if header_count < 0 || (header_count as usize).saturating_mul(2) > end - *pos {
        return Err(DecodeError::BadLength {
            what: "header count",
            len: i64::from(header_count),
            at: header_count_at,
        });
    }
    for _ in 0..header_count {
        let key_at = *pos;
        let key = read_span(body, pos, "header key")?.ok_or(DecodeError::BadLength {
            what: "header key",
            len: -1,
            at: key_at,
        })?;
        let value = read_span(body, pos, "header value")?;
        on_header(key, value);
    }
    if *pos != end {
        return Err(DecodeError::BadLength {
            what: "record",
            len: len as i64,
            at: start,
        });
    }
    let timestamp = match header.timestamp_type {
        TimestampType::LogAppendTime => header.max_timestamp,
        TimestampType::CreateTime => header.base_timestamp.wrapping_add(timestamp_delta),
    };
    Ok(RecordSpans {
        offset: header.base_offset.wrapping_add(i64::from(offset_delta)),
        timestamp,
        key,
        value,
    })
}

/// Reads the batches of a record set (a Fetch response's `records`, or a segment file).
///
/// A record set from a Fetch may end with a partial batch; that is normal, not an error:
/// iteration stops and [`BatchReader::truncated_tail`] reports how many bytes were left.
pub struct BatchReader {
    buf: Bytes,
    options: DecodeOptions,
    consumed: usize,
    failed: bool,
}

impl BatchReader {
    /// A reader over `buf`.
    pub fn new(buf: Bytes, options: DecodeOptions) -> Self {
        BatchReader {
            buf,
            options,
            consumed: 0,
            failed: false,
        }
    }

    /// Bytes of an incomplete trailing batch left unread (0 when the set ended cleanly).
    pub fn truncated_tail(&self) -> usize {
        self.buf.len()
    }

    /// Bytes consumed by complete batches so far.
    pub fn consumed(&self) -> usize {
        self.consumed
    }
}

impl Iterator for BatchReader {
    type Item = Result<RecordBatch, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.buf.len() < LOG_OVERHEAD {
            return None;
        }
        let batch_length = be_i32(&self.buf, 8);
        let Some(total) = usize::try_from(batch_length)
            .ok()
            .and_then(|l| l.checked_add(LOG_OVERHEAD))
            .filter(|&t| t > MAGIC_OFFSET)
        else {
            self.failed = true;
            return Some(Err(DecodeError::BadLength {
                what: "batch",
                len: i64::from(batch_length),
                at: self.consumed + 8,
            }));
        };
        if total > self.buf.len() {
            return None; // partial trailing batch
        }
        let bytes = self.buf.split_to(total);
        self.consumed += total;
        let result = RecordBatch::decode(&bytes, &self.options);
        if result.is_err() {
            self.failed = true;
        }
        Some(result)
    }
}

pub use builder::{set_base_offset, set_producer_state, BatchBuilder};
