//! Local checkpoints: a table's raw keys and values with the offsets they are complete up to.
//!
//! File layout (all integers big-endian):
//!
//! ```text
//! "KKTABLE1"                              magic and version
//! u16 topic length, topic bytes
//! [u8; 16] topic id                       zero when the broker has none
//! u32 n, n × (i32 partition, i64 next offset to read)
//! u64 m, m × (u32 key length, key, u32 value length, value)   raw bytes as read
//! u32 CRC-32C of everything above
//! ```
//!
//! A checkpoint is written to a temporary file in the same directory, synced, then renamed
//! over the old one, so a crash leaves either the old or the new checkpoint, never a torn one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::{Buf, Bytes};

const MAGIC: &[u8; 8] = b"KKTABLE1";

/// A checkpoint read back: entries are slices of the file's bytes.
#[derive(Debug)]
pub(crate) struct Checkpoint {
    pub topic: String,
    pub topic_id: [u8; 16],
    pub offsets: BTreeMap<i32, i64>,
    pub entries: Vec<(Bytes, Bytes)>,
    /// When the file was written (its modification time), when known.
    pub written_at: Option<std::time::SystemTime>,
}

fn invalid(path: &Path, what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("checkpoint {}: {what}", path.display()),
    )
}

/// Writes a checkpoint of `entries` (raw key, raw value) complete up to `offsets`.
pub(crate) fn write<'a>(
    path: &Path,
    topic: &str,
    topic_id: [u8; 16],
    offsets: &BTreeMap<i32, i64>,
    entries: impl ExactSizeIterator<Item = (&'a [u8], &'a [u8])>,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(64 + entries.len() * 64);
    buf.extend_from_slice(MAGIC);
    let topic_len = u16::try_from(topic.len()).map_err(|_| invalid(path, "topic name too long"))?;
    buf.extend_from_slice(&topic_len.to_be_bytes());
    buf.extend_from_slice(topic.as_bytes());
    buf.extend_from_slice(&topic_id);
    buf.extend_from_slice(&(offsets.len() as u32).to_be_bytes());
    for (p, o) in offsets {
        buf.extend_from_slice(&p.to_be_bytes());
        buf.extend_from_slice(&o.to_be_bytes());
    }
    buf.extend_from_slice(&(entries.len() as u64).to_be_bytes());
    for (k, v) in entries {
        let too_long = || invalid(path, "a key or value longer than 4 GiB");
        buf.extend_from_slice(
            &u32::try_from(k.len())
                .map_err(|_| too_long())?
                .to_be_bytes(),
        );
        buf.extend_from_slice(k);
        buf.extend_from_slice(
            &u32::try_from(v.len())
                .map_err(|_| too_long())?
                .to_be_bytes(),
        );
        buf.extend_from_slice(v);
    }
    let crc = crc32c::crc32c(&buf);
    buf.extend_from_slice(&crc.to_be_bytes());

    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&buf)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// [`read`] on tokio's blocking pool: the file I/O stays off the async worker threads.
pub(crate) async fn read_blocking(path: &Path) -> std::io::Result<Option<Checkpoint>> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || read(&path))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
}

/// Reads the checkpoint at `path`; `Ok(None)` when there is none.
pub(crate) fn read(path: &Path) -> std::io::Result<Option<Checkpoint>> {
    let data = match std::fs::read(path) {
        Ok(d) => Bytes::from(d),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let written_at = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    decode(data, path).map(|c| Some(Checkpoint { written_at, ..c }))
}

/// Decodes checkpoint file bytes (`path` names the file in errors): every damage is an
/// error, never a panic (unit-tested here, fuzzed by the `table_checkpoint` target).
pub(crate) fn decode(data: Bytes, path: &Path) -> std::io::Result<Checkpoint> {
    if data.len() < MAGIC.len() + 4 || &data[..MAGIC.len()] != MAGIC {
        return Err(invalid(path, "not a kafkit table checkpoint"));
    }
    let (body, crc) = data.split_at(data.len() - 4);
    if crc32c::crc32c(body) != u32::from_be_bytes(crc.try_into().expect("4 bytes")) {
        return Err(invalid(path, "CRC mismatch (the file is damaged)"));
    }
    let mut r = data.slice(MAGIC.len()..data.len() - 4);
    let truncated = || invalid(path, "truncated");
    let need = |r: &Bytes, n: usize| {
        if r.remaining() < n {
            Err(truncated())
        } else {
            Ok(())
        }
    };
    need(&r, 2)?;
    let n = usize::from(r.get_u16());
    need(&r, n + 16 + 4)?;
    let topic = String::from_utf8(r.split_to(n).to_vec())
        .map_err(|_| invalid(path, "the topic name is not UTF-8"))?;
    let mut topic_id = [0u8; 16];
    r.copy_to_slice(&mut topic_id);
    let n = r.get_u32() as usize;
    let mut offsets = BTreeMap::new();
    for _ in 0..n {
        need(&r, 12)?;
        offsets.insert(r.get_i32(), r.get_i64());
    }
    need(&r, 8)?;
    let m = r.get_u64();
    // Each entry takes at least 8 bytes, so the count is bounded by the file's size.
    if m > (r.remaining() / 8) as u64 {
        return Err(truncated());
    }
    let mut entries = Vec::with_capacity(m as usize);
    for _ in 0..m {
        need(&r, 4)?;
        let k = r.get_u32() as usize;
        need(&r, k + 4)?;
        let key = r.split_to(k);
        let v = r.get_u32() as usize;
        need(&r, v)?;
        entries.push((key, r.split_to(v)));
    }
    if r.has_remaining() {
        return Err(invalid(path, "trailing bytes after the last entry"));
    }
    Ok(Checkpoint {
        topic,
        topic_id,
        offsets,
        entries,
        written_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path) -> PathBuf {
        let path = dir.join("t.ckpt");
        let offsets = BTreeMap::from([(0, 10), (1, 7)]);
        let entries: Vec<(&[u8], &[u8])> = vec![(b"a", b"{\"v\":1}"), (b"b", b"")];
        write(&path, "orders", [7; 16], &offsets, entries.into_iter()).unwrap();
        path
    }

    #[test]
    fn a_checkpoint_reads_back_what_was_written() {
        let dir = tempdir();
        let path = sample(&dir);
        let c = read(&path).unwrap().unwrap();
        assert_eq!(c.topic, "orders");
        assert_eq!(c.topic_id, [7; 16]);
        assert_eq!(c.offsets, BTreeMap::from([(0, 10), (1, 7)]));
        assert_eq!(c.entries.len(), 2);
        assert_eq!(&c.entries[0].1[..], b"{\"v\":1}");
        assert!(c.entries[1].1.is_empty(), "an empty value is data");
        assert!(read(&dir.join("missing")).unwrap().is_none());
    }

    #[test]
    fn every_truncation_and_byte_flip_is_an_error_not_a_panic() {
        let dir = tempdir();
        let path = sample(&dir);
        let good = std::fs::read(&path).unwrap();
        let bad = dir.join("bad");
        for cut in 0..good.len() {
            std::fs::write(&bad, &good[..cut]).unwrap();
            assert!(read(&bad).is_err(), "truncated at {cut}");
        }
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0x40;
            std::fs::write(&bad, &b).unwrap();
            let e = read(&bad).unwrap_err().to_string();
            assert!(e.contains("bad"), "{e}");
        }
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "kafkit-ckpt-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
