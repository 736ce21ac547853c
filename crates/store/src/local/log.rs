//! One partition of emulated Kafka on the local file system: RecordBatch v2 segments and
//! their index (layout in docs/STORAGE.md).
//!
//! - `<base offset, 20 digits>.log`: batches exactly as Kafka stores them, appended.
//! - `<base offset>.idx`: one 32-byte entry per batch (base offset, next offset, position,
//!   max timestamp), written after its batch is on disk.
//!
//! A writer holds an exclusive lock on `.lock`, recovers on open (a torn batch at the tail is
//! cut, index entries missing after a crash are rebuilt from the log), appends a batch, syncs
//! it, then appends its index entry. Readers take no lock: they trust only whole index
//! entries, each of which points at a batch already written.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use kafkit_record::{BatchReader, DecodeOptions, RecordBatch};

use crate::error::{Result, StoreError};

/// Bytes of one index entry.
const ENTRY: usize = 32;

/// A segment rolls over once its log reaches this size, unless the topic's `segment.bytes`
/// says otherwise.
pub(crate) const SEGMENT_BYTES: u64 = 128 << 20;

/// One index entry: where a batch is and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub base_offset: i64,
    pub next_offset: i64,
    pub position: u64,
    pub max_timestamp: i64,
}

impl IndexEntry {
    fn encode(&self) -> [u8; ENTRY] {
        let mut b = [0u8; ENTRY];
        b[0..8].copy_from_slice(&self.base_offset.to_be_bytes());
        b[8..16].copy_from_slice(&self.next_offset.to_be_bytes());
        b[16..24].copy_from_slice(&self.position.to_be_bytes());
        b[24..32].copy_from_slice(&self.max_timestamp.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Self {
        let at = |i: usize| i64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        IndexEntry {
            base_offset: at(0),
            next_offset: at(8),
            position: at(16) as u64,
            max_timestamp: at(24),
        }
    }
}

/// A segment: its base offset and its index entries.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub base_offset: i64,
    pub entries: Vec<IndexEntry>,
    /// When the index was rebuilt because its log was cut short: the next offset the old
    /// index had handed out (offsets up to it must not be handed out again).
    pub claimed_next: Option<i64>,
}

impl Segment {
    /// Offset after the last batch of this segment (its base offset when empty).
    pub fn next_offset(&self) -> i64 {
        self.entries
            .last()
            .map_or(self.base_offset, |e| e.next_offset)
    }
}

fn name(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

pub(crate) fn log_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!("{}.log", name(base_offset)))
}

fn index_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!("{}.idx", name(base_offset)))
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        what: what.to_string(),
        source: e,
    }
}

/// Position just after the batch at `position` in the log at `path`.
fn batch_end(path: &Path, position: u64) -> Option<u64> {
    let mut f = File::open(path).ok()?;
    f.seek(SeekFrom::Start(position + 8)).ok()?;
    let mut len = [0u8; 4];
    f.read_exact(&mut len).ok()?;
    Some(position + 12 + u64::from(u32::from_be_bytes(len)))
}

/// The segments of the partition in `dir`, oldest first, from their index files (whole
/// entries only: what a reader may trust).
///
/// Each index is checked against its log, as Kafka checks its indexes after an unclean
/// shutdown: entries in offset and position order, starting at the log's start, inside the
/// log, and (for every segment but the newest, which a writer may be appending to) ending
/// where the log ends. An index that does not fit (garbage, deleted, or a log cut short) is
/// rebuilt from the log's whole, valid batches. An older segment's rebuilt index is written
/// back (older segments never change, so any process may); the newest segment's is rebuilt
/// in memory, and its writer rewrites it when it opens.
pub(crate) fn read_segments(dir: &Path) -> Result<Vec<Segment>> {
    let mut bases: Vec<i64> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().to_string();
                n.strip_suffix(".log").and_then(|b| b.parse().ok())
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_err(dir, "list segments", e)),
    };
    bases.sort_unstable();
    let mut segments = Vec::with_capacity(bases.len());
    for (i, &base) in bases.iter().enumerate() {
        let path = index_path(dir, base);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(&path, "read index", e)),
        };
        let entries: Vec<IndexEntry> = bytes.chunks_exact(ENTRY).map(IndexEntry::decode).collect();
        let newest = i + 1 == bases.len();
        let next_base = bases.get(i + 1).copied();
        let log = log_path(dir, base);
        let log_len = match std::fs::metadata(&log) {
            Ok(m) => m.len(),
            // Removed meanwhile (delete-records): nothing to read there.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&log, "stat", e)),
        };
        let segment = Segment {
            base_offset: base,
            entries,
            claimed_next: None,
        };
        if index_fits(&log, &segment, log_len, newest, next_base) {
            segments.push(segment);
            continue;
        }
        let mut rebuilt = Segment {
            base_offset: base,
            entries: scan_log(&log, base, next_base)?.0,
            claimed_next: None,
        };
        // An ordered index that begins as the rebuilt one does, with more after it: the log
        // was cut short, and the offsets it lost were handed out.
        let old = &segment.entries;
        let cut_short = old.len() > rebuilt.entries.len()
            && old.starts_with(&rebuilt.entries)
            && old.windows(2).all(|w| {
                w[0].base_offset < w[0].next_offset && w[0].next_offset <= w[1].base_offset
            })
            && next_base.is_none_or(|n| segment.next_offset() <= n);
        if cut_short {
            rebuilt.claimed_next = Some(segment.next_offset());
        }
        tracing::warn!(
            index = %path.display(),
            entries = rebuilt.entries.len(),
            next_offset = rebuilt.next_offset(),
            "the index does not fit its log: rebuilt from the log"
        );
        if !newest {
            write_index(&path, &rebuilt.entries)?;
        }
        segments.push(rebuilt);
    }
    Ok(segments)
}

/// Whether `segment`'s index entries fit its log of `log_len` bytes (see [`read_segments`]).
fn index_fits(
    log: &Path,
    segment: &Segment,
    log_len: u64,
    newest: bool,
    next_base: Option<i64>,
) -> bool {
    let entries = &segment.entries;
    let Some(last) = entries.last() else {
        // An empty index fits an empty log only (a newest segment's first batch may be on
        // its way: rebuilding finds at most that batch).
        return log_len == 0;
    };
    if entries[0].position != 0 || entries[0].base_offset < segment.base_offset {
        return false;
    }
    let ordered = entries.windows(2).all(|w| {
        w[0].base_offset < w[0].next_offset
            && w[0].next_offset <= w[1].base_offset
            && w[0].position < w[1].position
    });
    if !ordered || last.base_offset >= last.next_offset || last.position >= log_len {
        return false;
    }
    if next_base.is_some_and(|next| last.next_offset > next) {
        return false;
    }
    match batch_end(log, last.position) {
        Some(end) if newest => end <= log_len,
        Some(end) => end == log_len,
        None => false,
    }
}

/// Index entries for the whole, valid batches of the log at `path` from its start (stopping
/// at the first batch that is cut short, fails its CRC, or reaches `next_base`), and the
/// position after the last of them.
pub(crate) fn scan_log(
    path: &Path,
    base: i64,
    next_base: Option<i64>,
) -> Result<(Vec<IndexEntry>, u64)> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_err(path, "read log", e)),
    };
    let mut entries = Vec::new();
    let mut pos = 0u64;
    for batch in BatchReader::new(Bytes::from(bytes), DecodeOptions::default()) {
        let Ok(batch) = batch else { break };
        let h = batch.header;
        let after_last = entries
            .last()
            .is_none_or(|e: &IndexEntry| h.base_offset >= e.next_offset);
        if h.base_offset < base || !after_last || next_base.is_some_and(|n| h.next_offset() > n) {
            break;
        }
        entries.push(IndexEntry {
            base_offset: h.base_offset,
            next_offset: h.next_offset(),
            position: pos,
            max_timestamp: h.max_timestamp,
        });
        pos += h.batch_length as u64 + 12;
    }
    Ok((entries, pos))
}

/// Replaces the index at `path` with `entries`, atomically (a temporary file renamed).
fn write_index(path: &Path, entries: &[IndexEntry]) -> Result<()> {
    let mut bytes = Vec::with_capacity(entries.len() * ENTRY);
    for e in entries {
        bytes.extend_from_slice(&e.encode());
    }
    let tmp = path.with_extension(format!("idx.{}.tmp", std::process::id()));
    std::fs::write(&tmp, &bytes)
        .and_then(|_| File::open(&tmp)?.sync_all())
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| io_err(path, "rewrite index", e))
}

/// Removes the segments (log and index) that hold only offsets below `offset`, keeping the
/// newest segment, which a writer appends to.
pub(crate) fn remove_segments_before(dir: &Path, offset: i64) -> Result<()> {
    let segments = read_segments(dir)?;
    let Some((_newest, older)) = segments.split_last() else {
        return Ok(());
    };
    for s in older.iter().filter(|s| s.next_offset() <= offset) {
        // The index goes first: a reader trusts index entries, never a log without one.
        for path in [index_path(dir, s.base_offset), log_path(dir, s.base_offset)] {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_err(&path, "remove segment", e))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// A batch that is indexed but does not decode (a flipped byte, a CRC mismatch).
#[derive(Debug, Clone)]
pub(crate) struct BadBatch {
    /// Its offsets, from its index entry: `base_offset..next_offset`.
    pub base_offset: i64,
    pub next_offset: i64,
    /// The log holding it.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// Batches read from a segment: the good ones in order, then the bad one that stopped the
/// read, if any.
#[derive(Debug, Default)]
pub(crate) struct ReadBatches {
    pub batches: Vec<RecordBatch>,
    pub bad: Option<BadBatch>,
}

/// Reads the batches of `segment` from the first one holding `offset`, up to `max_bytes`
/// (at least one batch). Each batch is checked against its index entry: the first that does
/// not decode, or is not the batch its entry names, ends the read as `bad`.
pub(crate) fn read_batches(
    dir: &Path,
    segment: &Segment,
    offset: i64,
    max_bytes: u64,
) -> Result<ReadBatches> {
    let first = segment.entries.partition_point(|e| e.next_offset <= offset);
    let Some(start) = segment.entries.get(first) else {
        return Ok(ReadBatches::default());
    };
    let mut last = first;
    while last + 1 < segment.entries.len()
        && segment.entries[last + 1].position - start.position < max_bytes
    {
        last += 1;
    }
    let path = log_path(dir, segment.base_offset);
    let end = match segment.entries.get(last + 1) {
        Some(next) => next.position,
        None => {
            batch_end(&path, segment.entries[last].position).ok_or_else(|| StoreError::Corrupt {
                path: path.clone(),
                message: format!(
                    "the batch at position {} is missing",
                    segment.entries[last].position
                ),
            })?
        }
    };
    let mut f = File::open(&path).map_err(|e| io_err(&path, "open log", e))?;
    f.seek(SeekFrom::Start(start.position))
        .map_err(|e| io_err(&path, "seek log", e))?;
    let mut buf = vec![0u8; (end - start.position) as usize];
    f.read_exact(&mut buf)
        .map_err(|e| io_err(&path, "read log", e))?;
    let buf = Bytes::from(buf);
    let mut out = ReadBatches::default();
    let entries = &segment.entries[first..=last];
    for (i, e) in entries.iter().enumerate() {
        let from = (e.position - start.position) as usize;
        let to = entries
            .get(i + 1)
            .map_or(buf.len(), |n| (n.position - start.position) as usize);
        let mut one = BatchReader::new(buf.slice(from..to), DecodeOptions::default());
        let problem = match one.next() {
            Some(Ok(batch)) if batch.header.base_offset == e.base_offset => {
                out.batches.push(batch);
                continue;
            }
            Some(Ok(batch)) => format!(
                "it holds offset {} where its index entry says {}",
                batch.header.base_offset, e.base_offset
            ),
            Some(Err(err)) => err.to_string(),
            None => "it is empty".to_string(),
        };
        out.bad = Some(BadBatch {
            base_offset: e.base_offset,
            next_offset: e.next_offset,
            path: path.clone(),
            message: problem,
        });
        break;
    }
    Ok(out)
}

/// The writer side of a partition: the lock, the open tail segment, the next offset.
pub(crate) struct PartitionWriter {
    dir: PathBuf,
    /// Held (never read) so no other process writes the partition.
    lock: File,
    segment_bytes: u64,
    log: File,
    index: File,
    tail: Segment,
    log_len: u64,
    /// Bytes cut from a torn tail when the writer opened (0 normally).
    pub recovered_bytes: u64,
    /// Offsets `from..to` lost when the writer opened: its log had been cut short.
    pub lost: Option<(i64, i64)>,
}

impl std::fmt::Debug for PartitionWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionWriter")
            .field("dir", &self.dir)
            .field("next_offset", &self.tail.next_offset())
            .finish()
    }
}

impl PartitionWriter {
    /// Opens (creating) the partition in `dir`, locking it and recovering its tail; segments
    /// roll at `segment_bytes`.
    pub fn open(dir: &Path, segment_bytes: u64) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, "create partition", e))?;
        let lock_path = dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_err(&lock_path, "open lock", e))?;
        lock.lock().map_err(|e| io_err(&lock_path, "lock", e))?;
        let mut segments = read_segments(dir)?;
        let tail = segments.pop().unwrap_or(Segment {
            base_offset: 0,
            entries: Vec::new(),
            claimed_next: None,
        });
        let claimed_next = tail.claimed_next;
        let mut w = Self::open_segment(dir, lock, segment_bytes, tail)?;
        w.recover()?;
        // The log was cut short: its lost offsets stay used. A new segment starts after
        // them, so no offset is handed out twice (its name keeps that across opens).
        if let Some(claimed) = claimed_next.filter(|&c| c > w.next_offset()) {
            let from = w.next_offset();
            tracing::warn!(
                log = %log_path(dir, w.tail.base_offset).display(),
                "offsets {from}..{claimed} were lost (the log was cut short); new records start at {claimed}"
            );
            w.lost = Some((from, claimed));
            w.roll_at(claimed)?;
        }
        Ok(w)
    }

    fn open_segment(dir: &Path, lock: File, segment_bytes: u64, tail: Segment) -> Result<Self> {
        let log_path = log_path(dir, tail.base_offset);
        let idx_path = index_path(dir, tail.base_offset);
        let open = |p: &Path| {
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(p)
                .map_err(|e| io_err(p, "open", e))
        };
        let log = open(&log_path)?;
        let index = open(&idx_path)?;
        Ok(PartitionWriter {
            dir: dir.to_path_buf(),
            lock,
            segment_bytes,
            log,
            index,
            tail,
            log_len: 0,
            recovered_bytes: 0,
            lost: None,
        })
    }

    /// Cuts a torn index entry, rebuilds entries for whole batches the index misses, and
    /// cuts a torn batch at the end of the log.
    fn recover(&mut self) -> Result<()> {
        let log_path = log_path(&self.dir, self.tail.base_offset);
        let idx_path = index_path(&self.dir, self.tail.base_offset);
        let file_len = self
            .log
            .metadata()
            .map_err(|e| io_err(&log_path, "stat", e))?
            .len();
        // Entries that point past the log (their batch never reached the disk) are dropped.
        while let Some(last) = self.tail.entries.last() {
            match batch_end(&log_path, last.position) {
                Some(end) if end <= file_len => break,
                _ => {
                    self.tail.entries.pop();
                }
            }
        }
        let mut pos = match self.tail.entries.last() {
            Some(last) => batch_end(&log_path, last.position).unwrap_or(last.position),
            None => 0,
        };
        // Whole, valid batches after the last entry: index them.
        let mut rest = Vec::new();
        self.log
            .seek(SeekFrom::Start(pos))
            .map_err(|e| io_err(&log_path, "seek", e))?;
        self.log
            .read_to_end(&mut rest)
            .map_err(|e| io_err(&log_path, "read", e))?;
        let mut reader = BatchReader::new(Bytes::from(rest), DecodeOptions::default());
        let mut rebuilt = Vec::new();
        for batch in reader.by_ref() {
            let Ok(batch) = batch else { break };
            let h = batch.header;
            rebuilt.push(IndexEntry {
                base_offset: h.base_offset,
                next_offset: h.next_offset(),
                position: pos,
                max_timestamp: h.max_timestamp,
            });
            pos += h.batch_length as u64 + 12;
        }
        self.tail.entries.extend(rebuilt);
        if pos < file_len {
            self.recovered_bytes = file_len - pos;
            tracing::warn!(log = %log_path.display(), cut = file_len - pos, at = pos, "torn tail cut");
            self.log
                .set_len(pos)
                .map_err(|e| io_err(&log_path, "truncate", e))?;
            self.log
                .sync_all()
                .map_err(|e| io_err(&log_path, "sync", e))?;
        }
        self.log_len = pos;
        // Rewrite the index as the whole entries now known.
        let mut idx = Vec::with_capacity(self.tail.entries.len() * ENTRY);
        for e in &self.tail.entries {
            idx.extend_from_slice(&e.encode());
        }
        self.index
            .set_len(0)
            .and_then(|_| self.index.seek(SeekFrom::Start(0)))
            .and_then(|_| self.index.write_all(&idx))
            .and_then(|_| self.index.sync_all())
            .map_err(|e| io_err(&idx_path, "rewrite index", e))?;
        Ok(())
    }

    /// The offset the next record gets.
    pub fn next_offset(&self) -> i64 {
        self.tail.next_offset()
    }

    /// Appends an encoded batch of `records` records starting at `next_offset()`, whose
    /// largest timestamp is `max_timestamp`; synced before returning: once this returns, the
    /// batch survives a crash.
    pub fn append(&mut self, batch: &[u8], records: i64, max_timestamp: i64) -> Result<()> {
        // A damaged index can claim offsets near the end of the range: refuse rather than
        // place records no read can reach.
        let last_offset = self.next_offset().checked_add(records);
        if last_offset.is_none_or(|next| next == i64::MAX) {
            return Err(StoreError::Invalid(format!(
                "{}: no offsets left after {} for {records} more records",
                self.dir.display(),
                self.next_offset()
            )));
        }
        if self.log_len >= self.segment_bytes {
            self.roll()?;
        }
        let log_path = log_path(&self.dir, self.tail.base_offset);
        let idx_path = index_path(&self.dir, self.tail.base_offset);
        self.log
            .seek(SeekFrom::Start(self.log_len))
            .and_then(|_| self.log.write_all(batch))
            .and_then(|_| self.log.sync_data())
            .map_err(|e| io_err(&log_path, "append", e))?;
        let base_offset = self.next_offset();
        let entry = IndexEntry {
            base_offset,
            next_offset: base_offset + records,
            position: self.log_len,
            max_timestamp,
        };
        self.index
            .seek(SeekFrom::End(0))
            .and_then(|_| self.index.write_all(&entry.encode()))
            .map_err(|e| io_err(&idx_path, "append index", e))?;
        self.log_len += batch.len() as u64;
        self.tail.entries.push(entry);
        Ok(())
    }

    /// Appends batches exactly as given (as a broker served them: offsets, compression and
    /// CRC kept), each starting at or after `next_offset()` (gaps, as compaction leaves them,
    /// are kept); one sync for all, then their index entries. Batches that would go back in
    /// offsets are refused, naming the offsets.
    pub fn append_batches(&mut self, batches: &[RecordBatch]) -> Result<()> {
        let mut pending: Vec<IndexEntry> = Vec::new();
        let mut next = self.next_offset();
        for batch in batches {
            let h = &batch.header;
            if h.base_offset < next {
                self.flush(&mut pending)?;
                return Err(StoreError::Invalid(format!(
                    "{}: a batch at offset {} cannot follow offset {} (offsets only grow; copy \
                     into a new topic, or from offset {next} on)",
                    self.dir.display(),
                    h.base_offset,
                    next - 1
                )));
            }
            if self.log_len >= self.segment_bytes {
                self.flush(&mut pending)?;
                self.roll()?;
            }
            let raw = batch.raw();
            let path = log_path(&self.dir, self.tail.base_offset);
            self.log
                .seek(SeekFrom::Start(self.log_len))
                .and_then(|_| self.log.write_all(raw))
                .map_err(|e| io_err(&path, "append", e))?;
            pending.push(IndexEntry {
                base_offset: h.base_offset,
                next_offset: h.next_offset(),
                position: self.log_len,
                max_timestamp: h.max_timestamp,
            });
            self.log_len += raw.len() as u64;
            next = h.next_offset();
        }
        self.flush(&mut pending)
    }

    /// Syncs the log, then writes the index entries of what it now holds.
    fn flush(&mut self, pending: &mut Vec<IndexEntry>) -> Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let log_path = log_path(&self.dir, self.tail.base_offset);
        let idx_path = index_path(&self.dir, self.tail.base_offset);
        self.log
            .sync_data()
            .map_err(|e| io_err(&log_path, "sync", e))?;
        let mut bytes = Vec::with_capacity(pending.len() * ENTRY);
        for e in pending.iter() {
            bytes.extend_from_slice(&e.encode());
        }
        self.index
            .seek(SeekFrom::End(0))
            .and_then(|_| self.index.write_all(&bytes))
            .map_err(|e| io_err(&idx_path, "append index", e))?;
        self.tail.entries.append(pending);
        Ok(())
    }

    /// Starts a new segment at the next offset.
    fn roll(&mut self) -> Result<()> {
        self.roll_at(self.next_offset())
    }

    /// Starts a new segment at `base` (at or after the next offset).
    fn roll_at(&mut self, base: i64) -> Result<()> {
        let lost = self.lost;
        let lock = self
            .lock
            .try_clone()
            .map_err(|e| io_err(&self.dir, "clone lock", e))?;
        let next = Self::open_segment(
            &self.dir,
            lock,
            self.segment_bytes,
            Segment {
                base_offset: base,
                entries: Vec::new(),
                claimed_next: None,
            },
        )?;
        *self = next;
        self.lost = lost;
        Ok(())
    }
}
