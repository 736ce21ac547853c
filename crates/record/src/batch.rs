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

use std::ops::Range;

use bytes::{BufMut, Bytes};

use crate::compression::{self, Compression};
use crate::error::{DecodeError, EncodeError};
use crate::record::{Header, Record};
use crate::varint::{put_varint, put_varlong, read_varint, read_varlong, varint_len, varlong_len};

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

/// Writes a RecordBatch v2: push records, then [`finish`](BatchBuilder::finish).
///
/// Records are encoded straight into the output buffer; an uncompressed batch is finished by
/// filling in the header in place, with no further copy.
///
/// ```
/// use kafkit_record::{BatchBuilder, BatchReader, Compression, DecodeOptions, Header};
/// let mut b = BatchBuilder::new(0, 1_700_000_000_000);
/// b.push(1_700_000_000_000, Some(b"k"), Some(b"v"), &[Header::new("h", Some("1"))]);
/// b.push(1_700_000_000_005, None, None, &[]);
/// let bytes = b.finish(Compression::Lz4, None).unwrap();
/// let batch = BatchReader::new(bytes, DecodeOptions::default()).next().unwrap().unwrap();
/// let records = batch.collect_records().unwrap();
/// assert_eq!(records[1].offset, 1);
/// assert_eq!(records[1].value, None);
/// ```
#[derive(Debug)]
pub struct BatchBuilder {
    buf: Vec<u8>,
    base_offset: i64,
    base_timestamp: i64,
    max_timestamp: i64,
    count: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    partition_leader_epoch: i32,
    is_transactional: bool,
    is_control: bool,
    timestamp_type: TimestampType,
}

impl BatchBuilder {
    /// A builder whose first record gets `base_offset` and whose timestamps are deltas from
    /// `base_timestamp` (usually the first record's timestamp).
    pub fn new(base_offset: i64, base_timestamp: i64) -> Self {
        Self::with_capacity(base_offset, base_timestamp, 1024)
    }

    /// Like [`new`](Self::new), reserving room for about `capacity` bytes of records.
    pub fn with_capacity(base_offset: i64, base_timestamp: i64, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(BATCH_HEADER_LEN + capacity);
        buf.resize(BATCH_HEADER_LEN, 0);
        BatchBuilder {
            buf,
            base_offset,
            base_timestamp,
            max_timestamp: base_timestamp,
            count: 0,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            partition_leader_epoch: -1,
            is_transactional: false,
            is_control: false,
            timestamp_type: TimestampType::CreateTime,
        }
    }

    /// Stamps the idempotent producer's id, epoch and the first record's sequence number.
    pub fn producer(&mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
    }

    /// Marks the batch transactional.
    pub fn transactional(&mut self, yes: bool) {
        self.is_transactional = yes;
    }

    /// Marks the batch as a control batch.
    pub fn control(&mut self, yes: bool) {
        self.is_control = yes;
    }

    /// Sets the timestamp type (default create time).
    pub fn timestamp_type(&mut self, t: TimestampType) {
        self.timestamp_type = t;
    }

    /// Sets the partition leader epoch (default -1; brokers overwrite it).
    pub fn partition_leader_epoch(&mut self, epoch: i32) {
        self.partition_leader_epoch = epoch;
    }

    /// Number of records pushed.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the uncompressed batch would take now.
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// Bytes allocated for the batch (at least [`size`](Self::size)).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Grows the allocation to hold at least `additional` more bytes, by exactly that much
    /// when it must grow, so a caller that accounts for memory knows what is allocated.
    pub fn reserve_exact(&mut self, additional: usize) {
        self.buf.reserve_exact(additional);
    }

    /// Bytes `push` would add for a record of this shape.
    pub fn record_size(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> usize {
        let body = record_body_len(
            timestamp.wrapping_sub(self.base_timestamp),
            self.count,
            key,
            value,
            headers,
        );
        varint_len(body as i32) + body
    }

    /// Appends a record with the next offset delta.
    pub fn push(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) {
        let ts_delta = timestamp.wrapping_sub(self.base_timestamp);
        let offset_delta = self.count;
        let body = record_body_len(ts_delta, offset_delta, key, value, headers);
        let buf = &mut self.buf;
        buf.reserve(body + 5);
        put_varint(buf, body as i32);
        buf.put_u8(0);
        put_varlong(buf, ts_delta);
        put_varint(buf, offset_delta);
        put_opt_bytes(buf, key);
        put_opt_bytes(buf, value);
        put_varint(buf, headers.len() as i32);
        for h in headers {
            put_opt_bytes(buf, Some(&h.key));
            put_opt_bytes(buf, h.value.as_deref());
        }
        self.count += 1;
        self.max_timestamp = self.max_timestamp.max(timestamp);
    }

    /// Appends a decoded record, keeping its offset and timestamp relative to this batch.
    pub fn push_record(&mut self, record: &Record) {
        self.push(
            record.timestamp,
            record.key.as_deref(),
            record.value.as_deref(),
            &record.headers,
        );
    }

    /// Compresses (if asked) and writes the header with its CRC; returns the whole batch.
    pub fn finish(
        self,
        compression: Compression,
        level: Option<i32>,
    ) -> Result<Bytes, EncodeError> {
        if compression == Compression::None {
            let header = self.header_for(compression, self.buf.len())?;
            let mut buf = self.buf;
            seal(&mut buf, &header);
            return Ok(Bytes::from(buf));
        }
        let mut out = Vec::with_capacity(BATCH_HEADER_LEN + self.buf.len() / 2);
        out.resize(BATCH_HEADER_LEN, 0);
        compression::compress(compression, level, &self.buf[BATCH_HEADER_LEN..], &mut out)?;
        let header = self.header_for(compression, out.len())?;
        seal(&mut out, &header);
        Ok(Bytes::from(out))
    }

    fn header_for(
        &self,
        compression: Compression,
        total: usize,
    ) -> Result<BatchHeader, EncodeError> {
        let batch_length = i32::try_from(total - LOG_OVERHEAD)
            .map_err(|_| EncodeError::TooLarge { what: "batch" })?;
        Ok(BatchHeader {
            base_offset: self.base_offset,
            batch_length,
            partition_leader_epoch: self.partition_leader_epoch,
            compression,
            timestamp_type: self.timestamp_type,
            is_transactional: self.is_transactional,
            is_control: self.is_control,
            last_offset_delta: (self.count - 1).max(0),
            base_timestamp: self.base_timestamp,
            max_timestamp: self.max_timestamp,
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: self.base_sequence,
            record_count: self.count,
        })
    }
}

/// Writes `header` into the first bytes of `batch`, then the CRC over the rest.
fn seal(batch: &mut [u8], header: &BatchHeader) {
    write_header(&mut batch[..BATCH_HEADER_LEN], header);
    let crc = crate::crc::crc32c(&batch[CRC_START..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

fn write_header(out: &mut [u8], h: &BatchHeader) {
    let mut w = &mut out[..];
    w.put_i64(h.base_offset);
    w.put_i32(h.batch_length);
    w.put_i32(h.partition_leader_epoch);
    w.put_i8(2);
    w.put_u32(0); // CRC, filled in last
    w.put_i16(h.attributes());
    w.put_i32(h.last_offset_delta);
    w.put_i64(h.base_timestamp);
    w.put_i64(h.max_timestamp);
    w.put_i64(h.producer_id);
    w.put_i16(h.producer_epoch);
    w.put_i32(h.base_sequence);
    w.put_i32(h.record_count);
}

/// Rewrites the base offset of an encoded batch in place (the CRC does not cover it).
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[..8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Rewrites the idempotent producer's id, epoch and base sequence of an encoded batch in
/// place and recomputes its CRC. A producer encodes (and compresses) a batch once, then
/// stamps the sequence when it first sends it and again only after an epoch bump.
///
/// ```
/// use kafkit_record::{set_producer_state, BatchBuilder, BatchReader, Compression, DecodeOptions};
/// let mut b = BatchBuilder::new(0, 1_700_000_000_000);
/// b.push(1_700_000_000_000, None, Some(b"v"), &[]);
/// let mut bytes = b.finish(Compression::None, None).unwrap().to_vec();
/// set_producer_state(&mut bytes, 7, 1, 42).unwrap();
/// let batch = BatchReader::new(bytes.into(), DecodeOptions::default()).next().unwrap().unwrap();
/// assert_eq!((batch.header.producer_id, batch.header.producer_epoch, batch.header.base_sequence), (7, 1, 42));
/// ```
pub fn set_producer_state(
    batch: &mut [u8],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Result<(), EncodeError> {
    if batch.len() < BATCH_HEADER_LEN {
        return Err(EncodeError::TooShort { len: batch.len() });
    }
    batch[43..51].copy_from_slice(&producer_id.to_be_bytes());
    batch[51..53].copy_from_slice(&producer_epoch.to_be_bytes());
    batch[53..57].copy_from_slice(&base_sequence.to_be_bytes());
    let crc = crate::crc::crc32c(&batch[CRC_START..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

fn opt_len(b: Option<&[u8]>) -> usize {
    match b {
        None => varint_len(-1),
        Some(b) => varint_len(b.len() as i32) + b.len(),
    }
}

fn record_body_len(
    ts_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[Header],
) -> usize {
    let mut n =
        1 + varlong_len(ts_delta) + varint_len(offset_delta) + opt_len(key) + opt_len(value);
    n += varint_len(headers.len() as i32);
    for h in headers {
        n += opt_len(Some(&h.key)) + opt_len(h.value.as_deref());
    }
    n
}

fn put_opt_bytes(buf: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_varint(buf, -1),
        Some(b) => {
            put_varint(buf, b.len() as i32);
            buf.put_slice(b);
        }
    }
}
