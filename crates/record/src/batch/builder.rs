//! Writing a RecordBatch v2: [`BatchBuilder`], and patching the header of an encoded batch
//! ([`set_base_offset`], [`set_producer_state`]).

use bytes::{BufMut, Bytes};

use super::{BatchHeader, TimestampType, BATCH_HEADER_LEN, CRC_START, LOG_OVERHEAD};
use crate::compression::{self, Compression};
use crate::error::EncodeError;
use crate::record::{Header, Record};
use crate::varint::{put_varint, put_varlong, varint_len, varlong_len};

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
