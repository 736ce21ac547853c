//! A topic to a file and a file to a topic, on any storage, the file on local disk, S3
//! (`s3://BUCKET/KEY`) or Azure Blob Storage (`azure://CONTAINER/BLOB`).
//!
//! The file side is blocking I/O: it runs on a thread of its own (tokio's blocking pool),
//! rows passing through a bounded channel, so memory stays bounded and the async runtime's
//! workers never wait on disk. A remote file is written to a temporary file first and then
//! uploaded (in parts), or downloaded to one before it is read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use kafkit_store::ops::json::{json_to_record, record_to_json};
use kafkit_store::ops::read::{self, ReadSpec};
use kafkit_store::ops::schemas::RecordFormat;
use kafkit_store::{AnyStorage, AzureLocation, NewRecord, RecordReader, S3Location, Storage};

use crate::rows::{record_to_row, row_to_record, Row, Shape};
use crate::{read_rows, FileError, FileFormat, FileWriter};

/// Rows in flight between the storage side and the file side, in chunks.
const CHANNEL_CHUNKS: usize = 4;
/// Records written to the target per append when importing.
const APPEND_RECORDS: usize = 8192;

/// Where a file is.
#[derive(Clone)]
pub enum FileLocation {
    /// On local disk.
    Local(PathBuf),
    /// In an object store.
    Object {
        /// The store.
        store: Arc<dyn ObjectStore>,
        /// The object.
        path: ObjectPath,
        /// `s3://bucket/key`, for messages.
        url: String,
    },
}

impl std::fmt::Debug for FileLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl FileLocation {
    /// `s3://BUCKET/KEY` (credentials and `AWS_ENDPOINT_URL` from the environment),
    /// `azure://CONTAINER/BLOB` (`AZURE_STORAGE_CONNECTION_STRING`), else a local path.
    pub fn parse(text: &str) -> Result<FileLocation, FileError> {
        let remote = |scheme: &str| text.strip_prefix(scheme).map(|rest| rest.split_once('/'));
        if let Some(split) = remote("s3://") {
            let (bucket, key) = split.ok_or_else(|| no_key(text))?;
            let store = S3Location::new(bucket, "").object_store()?;
            return Ok(Self::object(store, key, text));
        }
        if let Some(split) = remote("azure://") {
            let (container, key) = split.ok_or_else(|| no_key(text))?;
            let store = AzureLocation::new(container, "").object_store()?;
            return Ok(Self::object(store, key, text));
        }
        Ok(FileLocation::Local(PathBuf::from(text)))
    }

    /// The object `key` of `store`.
    pub fn object(store: Arc<dyn ObjectStore>, key: &str, url: &str) -> FileLocation {
        FileLocation::Object {
            store,
            path: ObjectPath::from(key),
            url: url.to_string(),
        }
    }

    /// Where, for messages.
    pub fn describe(&self) -> String {
        match self {
            FileLocation::Local(p) => p.display().to_string(),
            FileLocation::Object { url, .. } => url.clone(),
        }
    }

    /// The file's name (for its format).
    pub fn file_name(&self) -> PathBuf {
        match self {
            FileLocation::Local(p) => p.clone(),
            FileLocation::Object { path, .. } => PathBuf::from(path.as_ref()),
        }
    }
}

fn no_key(text: &str) -> FileError {
    FileError::Format(format!("{text}: expected scheme://CONTAINER/NAME"))
}

/// How a topic is exported.
#[derive(Clone, Debug)]
pub struct ExportPlan {
    /// What to read and how keys and values are shown.
    pub read: ReadSpec,
    /// At most this many records.
    pub limit: Option<u64>,
    /// How records become rows.
    pub shape: Shape,
    /// The file's format.
    pub format: FileFormat,
}

/// What an export did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Exported {
    /// Records read (and written as rows).
    pub records: u64,
    /// Corrupt stored batches stepped over.
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped_batches: u64,
    /// Bytes of the file.
    pub bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Writes `topic` of `storage` to the file at `to`, as `plan` says; `progress` hears the
/// records read so far.
pub async fn export(
    (storage, topic): (&AnyStorage, &str),
    to: &FileLocation,
    plan: &ExportPlan,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Exported, FileError> {
    let (local, _temp) = match to {
        FileLocation::Local(p) => (p.clone(), None),
        FileLocation::Object { .. } => {
            let dir = tempfile::tempdir().map_err(|e| FileError::io("a temporary directory", e))?;
            (
                dir.path()
                    .join(to.file_name().file_name().unwrap_or_default()),
                Some(dir),
            )
        }
    };
    let mut reader = plan.read.open(storage, topic).await?;
    // A tokio channel: the storage side waits for room asynchronously, never blocking a
    // runtime worker; the file side (on the blocking pool) receives with blocking_recv.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Row>>(CHANNEL_CHUNKS);
    let (path, format, metadata) = (local.clone(), plan.format, !plan.shape.values_only);
    let writer = tokio::task::spawn_blocking(move || -> Result<(), FileError> {
        let mut w = FileWriter::create(&path, format, metadata)?;
        while let Some(chunk) = rx.blocking_recv() {
            for row in &chunk {
                w.write(row)?;
            }
        }
        w.finish()
    });
    let mut done = Exported::default();
    let outcome = async {
        loop {
            if plan.limit.is_some_and(|n| done.records >= n) {
                break;
            }
            let Some(records) = read::next_records(
                &mut reader,
                plan.read.skip_errors,
                &mut done.skipped_batches,
            )
            .await?
            else {
                break;
            };
            plan.read
                .format
                .prepare(&records)
                .await
                .map_err(FileError::Format)?;
            let mut rows = Vec::with_capacity(records.len());
            for r in &records {
                if plan.limit.is_some_and(|n| done.records >= n) {
                    break;
                }
                if !plan.read.wants(r) {
                    continue;
                }
                let line = record_to_json(r, &plan.read.format).map_err(FileError::Format)?;
                let Value::Object(m) = serde_json::to_value(&line).expect("a record serializes")
                else {
                    unreachable!("a record line is an object")
                };
                rows.push(record_to_row(m, &plan.shape));
                done.records += 1;
            }
            if tx.send(rows).await.is_err() {
                break; // the writer failed: its error is the one to tell
            }
            progress(done.records);
        }
        Ok::<(), FileError>(())
    }
    .await;
    drop(tx);
    let positions = reader.positions();
    let _ = reader.close(&positions).await;
    let written = writer
        .await
        .map_err(|e| FileError::Format(format!("writing {}: {e}", to.describe())))?;
    outcome?;
    written?;
    done.bytes = tokio::fs::metadata(&local)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    if let FileLocation::Object { store, path, url } = to {
        upload(&local, store.clone(), path, url).await?;
    }
    Ok(done)
}

/// Uploads the local file to the object (in parts, bounded memory).
async fn upload(
    local: &Path,
    store: Arc<dyn ObjectStore>,
    path: &ObjectPath,
    url: &str,
) -> Result<(), FileError> {
    let mut file = tokio::fs::File::open(local)
        .await
        .map_err(|e| FileError::io(local, e))?;
    let mut out = object_store::buffered::BufWriter::new(store, path.clone());
    let copied = tokio::io::copy(&mut file, &mut out).await;
    let closed = match copied {
        Ok(_) => out.shutdown().await,
        Err(e) => {
            let _ = out.abort().await;
            Err(e)
        }
    };
    closed.map_err(|e| FileError::Format(format!("uploading {url}: {e}")))
}

/// How an import writes.
#[derive(Clone, Debug)]
pub struct ImportPlan {
    /// How rows become records.
    pub shape: Shape,
    /// The file's format.
    pub format: FileFormat,
    /// How keys and values are encoded.
    pub target: RecordFormat,
    /// Keep each row's partition and timestamp (when it has them).
    pub keep_partitions: bool,
    /// Partitions of a target topic that does not exist yet (default: as many as the rows
    /// name, else 1).
    pub partitions: Option<i32>,
    /// At most this many rows.
    pub limit: Option<u64>,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    /// Records written.
    pub records: u64,
}

/// A local copy of the file at `from` (downloaded when remote; kept while the guard lives).
async fn local_copy(
    from: &FileLocation,
) -> Result<(PathBuf, Option<tempfile::TempDir>), FileError> {
    let FileLocation::Object { store, path, url } = from else {
        let FileLocation::Local(p) = from else {
            unreachable!()
        };
        return Ok((p.clone(), None));
    };
    let dir = tempfile::tempdir().map_err(|e| FileError::io("a temporary directory", e))?;
    let local = dir
        .path()
        .join(from.file_name().file_name().unwrap_or_default());
    let got = store
        .get(path)
        .await
        .map_err(|e| FileError::Format(format!("downloading {url}: {e}")))?;
    let mut stream = got.into_stream();
    let mut file = tokio::fs::File::create(&local)
        .await
        .map_err(|e| FileError::io(&local, e))?;
    use futures_util::StreamExt;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| FileError::Format(format!("downloading {url}: {e}")))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| FileError::io(&local, e))?;
    }
    file.flush().await.map_err(|e| FileError::io(&local, e))?;
    Ok((local, Some(dir)))
}

/// Writes the rows of the file at `from` to `topic` of `storage` (created when missing), as
/// `plan` says; `progress` hears the records written so far. A row that cannot be a record
/// stops the import with an error naming the file and row, and saying how many records
/// before it were written.
pub async fn import(
    from: &FileLocation,
    (storage, topic): (&AnyStorage, &str),
    plan: &ImportPlan,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Imported, FileError> {
    let (local, _guard) = local_copy(from).await?;
    if !storage.exists(topic).await? {
        let partitions = match plan.partitions {
            Some(n) => n,
            None if plan.keep_partitions => partitions_named(&local, plan.format).await?,
            None => 1,
        };
        storage.create_topic(topic, partitions, &[]).await?;
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Row>>(CHANNEL_CHUNKS);
    let (path, format) = (local.clone(), plan.format);
    let reading = tokio::task::spawn_blocking(move || {
        read_rows(&path, format, &mut |chunk| {
            tx.blocking_send(chunk)
                .map_err(|_| FileError::Format("the import stopped".into()))
        })
    });
    let mut done = Imported::default();
    let mut row_no = 0u64;
    let mut pending: Vec<NewRecord> = Vec::with_capacity(APPEND_RECORDS);
    let stopped = |reason: String, done: &Imported| FileError::Stopped {
        reason,
        how_far: format!("the {} records before it were written", done.records),
    };
    let outcome: Result<(), FileError> = async {
        while let Some(chunk) = rx.recv().await {
            for row in chunk {
                if plan.limit.is_some_and(|n| row_no >= n) {
                    break;
                }
                row_no += 1;
                let at = |e: String| format!("{} row {row_no}: {e}", from.describe());
                let record = row_to_record(row, &plan.shape).map_err(|e| stopped(at(e), &done))?;
                let record =
                    json_to_record(&Value::Object(record), &plan.target, plan.keep_partitions)
                        .map_err(|e| stopped(at(e), &done))?;
                pending.push(record);
                if pending.len() == APPEND_RECORDS {
                    append_pending((storage, topic), &mut pending, &mut done)
                        .await
                        .map_err(|e| stopped(e, &done))?;
                    progress(done.records);
                }
            }
        }
        if !pending.is_empty() {
            append_pending((storage, topic), &mut pending, &mut done)
                .await
                .map_err(|e| stopped(e, &done))?;
            progress(done.records);
        }
        Ok(())
    }
    .await;
    drop(rx);
    let read = reading
        .await
        .map_err(|e| FileError::Format(format!("reading {}: {e}", from.describe())))?;
    outcome?;
    match read {
        Err(FileError::Format(m)) if m == "the import stopped" => {}
        Err(e) => return Err(stopped(e.to_string(), &done)),
        Ok(()) => {}
    }
    storage.close().await?;
    Ok(done)
}

/// Appends the pending records, counting them in `done`; `Err` says why not.
async fn append_pending(
    (storage, topic): (&AnyStorage, &str),
    pending: &mut Vec<NewRecord>,
    done: &mut Imported,
) -> Result<(), String> {
    let n = pending.len() as u64;
    storage
        .append(topic, std::mem::take(pending))
        .await
        .map_err(|e| e.to_string())?;
    done.records += n;
    Ok(())
}

/// How many partitions the rows of a file name (one more than the largest `partition`; 1
/// when none does).
async fn partitions_named(path: &Path, format: FileFormat) -> Result<i32, FileError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut largest = 0i64;
        read_rows(&path, format, &mut |chunk| {
            for row in &chunk {
                let kafkit_shape = row
                    .iter()
                    .any(|(n, _)| n == "value" || n.starts_with("value."));
                if let Some((_, v)) = row
                    .iter()
                    .find(|(n, _)| n == "partition")
                    .filter(|_| kafkit_shape)
                {
                    largest = largest.max(
                        v.as_i64()
                            .or_else(|| v.as_f64().map(|f| f as i64))
                            .unwrap_or(0),
                    );
                }
            }
            Ok(())
        })?;
        Ok(i32::try_from(largest + 1).unwrap_or(1))
    })
    .await
    .map_err(|e| FileError::Format(format!("reading {}: {e}", "the file")))?
}
