//! kafkit's bridge between topics and files: a topic's records as the rows of a CSV, JSON
//! Lines, JSON, Parquet, Arrow IPC / Feather, ORC, Excel (.xlsx), XML or Avro container file,
//! and such a file's rows as records again, on any storage, with files on local disk, S3 or
//! Azure Blob Storage.
//!
//! How records become rows (and back) is in [`rows`]: `partition`, `offset`, `timestamp`,
//! `key`, `headers`, and the value flattened into `value.*` columns (or one `value` column).
//! Large topics stream through in bounded memory: rows are written as they come (JSON Lines,
//! JSON) or kept in a temporary file until every column is known (the formats with a header
//! or a schema), then written in chunks; reading hands rows on in chunks.
//!
//! ```
//! use kafkit_files::{read_rows, FileFormat, FileWriter};
//! use serde_json::json;
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("rows.parquet");
//! let format = FileFormat::from_path(&path).unwrap();
//! let mut w = FileWriter::create(&path, format, false).unwrap();
//! w.write(&vec![("n".to_string(), json!(1)), ("s".to_string(), json!("a"))]).unwrap();
//! w.finish().unwrap();
//! let mut rows = Vec::new();
//! read_rows(&path, format, &mut |chunk| { rows.extend(chunk); Ok(()) }).unwrap();
//! assert_eq!(rows[0][0], ("n".to_string(), json!(1)));
//! ```
#![warn(missing_docs)]

mod arrow_io;
mod avro_io;
mod columns;
mod office_io;
pub mod rows;
mod sink;
mod spill;
mod text_io;
mod transfer;

use std::path::{Path, PathBuf};

pub use rows::{Row, Shape};
pub use transfer::{export, import, ExportPlan, Exported, FileLocation, ImportPlan, Imported};

/// A file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON object per line.
    JsonLines,
    /// One JSON array of row objects.
    Json,
    /// Apache Parquet.
    Parquet,
    /// Arrow IPC file (Feather v2).
    Arrow,
    /// Apache ORC.
    Orc,
    /// An Excel workbook (.xlsx; reading also .xls and .ods).
    Excel,
    /// XML, pandas' `to_xml` shape.
    Xml,
    /// An Avro object container file.
    Avro,
}

impl FileFormat {
    /// Every format, by its name.
    pub const ALL: [(&'static str, FileFormat); 9] = [
        ("csv", FileFormat::Csv),
        ("jsonl", FileFormat::JsonLines),
        ("json", FileFormat::Json),
        ("parquet", FileFormat::Parquet),
        ("arrow", FileFormat::Arrow),
        ("orc", FileFormat::Orc),
        ("xlsx", FileFormat::Excel),
        ("xml", FileFormat::Xml),
        ("avro", FileFormat::Avro),
    ];

    /// The format a file's extension names (`.csv`, `.jsonl`/`.ndjson`, `.json`,
    /// `.parquet`/`.pq`, `.arrow`/`.feather`/`.ipc`, `.orc`, `.xlsx`/`.xls`/`.ods`, `.xml`,
    /// `.avro`).
    pub fn from_path(path: impl AsRef<Path>) -> Option<FileFormat> {
        let ext = path.as_ref().extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" => FileFormat::Csv,
            "jsonl" | "ndjson" => FileFormat::JsonLines,
            "json" => FileFormat::Json,
            "parquet" | "pq" => FileFormat::Parquet,
            "arrow" | "feather" | "ipc" => FileFormat::Arrow,
            "orc" => FileFormat::Orc,
            "xlsx" | "xls" | "ods" => FileFormat::Excel,
            "xml" => FileFormat::Xml,
            "avro" => FileFormat::Avro,
            _ => return None,
        })
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .expect("every format has a name")
    }
}

impl std::str::FromStr for FileFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.to_ascii_lowercase();
        let alias = match s.as_str() {
            "ndjson" | "json-lines" | "jsonlines" => "jsonl",
            "feather" | "ipc" => "arrow",
            "excel" | "xls" => "xlsx",
            other => other,
        };
        Self::ALL
            .iter()
            .find(|(n, _)| *n == alias)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
                format!("unknown file format '{s}' (one of {})", names.join(", "))
            })
    }
}

/// What went wrong with a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The file (or a temporary one) could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// Which file.
        path: String,
        /// The OS error (not a `source`: its text is in this one's, and is not printed again).
        error: std::io::Error,
    },
    /// The file does not hold what its format says, or rows cannot be written in it.
    #[error("{0}")]
    Format(String),
    /// A storage failed.
    #[error(transparent)]
    Store(#[from] kafkit_store::StoreError),
    /// Stopped partway: what was done is kept.
    #[error("{reason} ({how_far})")]
    Stopped {
        /// What failed.
        reason: String,
        /// How far it got, for people.
        how_far: String,
    },
}

impl FileError {
    pub(crate) fn io(path: impl AsRef<Path>, error: std::io::Error) -> FileError {
        FileError::Io {
            path: path.as_ref().display().to_string(),
            error,
        }
    }
}

/// Kind of writer behind [`FileWriter`].
enum Writing {
    /// Rows go to the file as they come.
    Json(text_io::JsonWriter),
    /// Rows wait in a temporary file until every column is known.
    Spilled(spill::Spill),
}

/// Writes rows to a file of one format.
pub struct FileWriter {
    path: PathBuf,
    format: FileFormat,
    metadata: bool,
    writing: Writing,
}

impl FileWriter {
    /// A writer of `path` as `format`; `metadata` when the rows are records' (so `partition`
    /// and `timestamp` get their own types where the format has types).
    pub fn create(
        path: &Path,
        format: FileFormat,
        metadata: bool,
    ) -> Result<FileWriter, FileError> {
        let writing = match format {
            FileFormat::JsonLines => Writing::Json(text_io::JsonWriter::create(path, false)?),
            FileFormat::Json => Writing::Json(text_io::JsonWriter::create(path, true)?),
            _ => Writing::Spilled(spill::Spill::new()?),
        };
        Ok(FileWriter {
            path: path.to_path_buf(),
            format,
            metadata,
            writing,
        })
    }

    /// Writes (or keeps) one row.
    pub fn write(&mut self, row: &Row) -> Result<(), FileError> {
        match &mut self.writing {
            Writing::Json(w) => w.write(row),
            Writing::Spilled(s) => s.push(row),
        }
    }

    /// Writes what is kept and ends the file.
    pub fn finish(self) -> Result<(), FileError> {
        let spill = match self.writing {
            Writing::Json(w) => return w.finish(),
            Writing::Spilled(s) => s,
        };
        let rows = spill.into_rows()?;
        let path = &self.path;
        match self.format {
            FileFormat::Csv => text_io::write_csv(path, rows),
            FileFormat::Parquet | FileFormat::Arrow | FileFormat::Orc => {
                arrow_io::write_table(self.format, path, rows, self.metadata)
            }
            FileFormat::Excel => office_io::write_excel(path, rows),
            FileFormat::Xml => office_io::write_xml(path, rows),
            FileFormat::Avro => avro_io::write_avro(path, rows, self.metadata),
            FileFormat::Json | FileFormat::JsonLines => unreachable!("written as they came"),
        }
    }
}

/// Reads the rows of `path` as `format`, handing them to `sink` in chunks.
pub fn read_rows(
    path: &Path,
    format: FileFormat,
    sink: &mut dyn FnMut(Vec<Row>) -> Result<(), FileError>,
) -> Result<(), FileError> {
    match format {
        FileFormat::Csv => text_io::read_csv(path, sink),
        FileFormat::JsonLines => text_io::read_json_lines(path, sink),
        FileFormat::Json => text_io::read_json_array(path, sink),
        FileFormat::Parquet | FileFormat::Arrow | FileFormat::Orc => {
            let mut reader = arrow_io::TableReader::open(format, path)?;
            while let Some(rows) = reader.next_rows()? {
                sink(rows)?;
            }
            Ok(())
        }
        FileFormat::Excel => office_io::read_excel(path, sink),
        FileFormat::Xml => office_io::read_xml(path, sink),
        FileFormat::Avro => avro_io::read_avro(path, sink),
    }
}
