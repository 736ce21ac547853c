//! The column formats through Arrow: Parquet, Arrow IPC (Feather v2) and ORC.
//!
//! Writing: spilled rows become Arrow record batches of [`BATCH_ROWS`] rows with one schema
//! (Boolean, Int64, Float64 or Utf8 columns as learnt; `partition` Int32 and `timestamp` a UTC
//! millisecond timestamp in a record's shape). Reading: each batch becomes rows through
//! arrow-json (any Arrow type, nested ones as JSON), a `timestamp` column as ms numbers.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, RecordBatchReader};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde_json::Value;

use crate::columns::{as_text, from_json_cell, json_cell, ColumnType, Columns, JSON_CELLS};
use crate::rows::Row;
use crate::spill::SpillRows;
use crate::{FileError, FileFormat};

/// Rows per Arrow record batch (and so per Parquet row group at most: bounded memory).
pub const BATCH_ROWS: usize = 65_536;

/// The Arrow type of a column; `metadata` gives `partition` and `timestamp` their own.
fn arrow_type(name: &str, t: ColumnType, metadata: bool) -> DataType {
    match (name, t) {
        ("partition", ColumnType::Int) if metadata => DataType::Int32,
        ("timestamp", ColumnType::Int) if metadata => {
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        }
        (_, ColumnType::Bool) => DataType::Boolean,
        (_, ColumnType::Int) => DataType::Int64,
        (_, ColumnType::Float) => DataType::Float64,
        _ => DataType::Utf8,
    }
}

/// The schema of `columns`. With `json_cells`, a [`ColumnType::Mixed`] column holds JSON
/// text and says so in its field's metadata (Parquet and Arrow IPC keep it; orc-rust writes
/// no metadata, so in ORC such a column is plain text).
pub fn schema_of(columns: &Columns, metadata: bool, json_cells: bool) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, t)| {
            let field = Field::new(name, arrow_type(name, t, metadata), true);
            if t == ColumnType::Mixed && json_cells {
                field.with_metadata([(JSON_CELLS.to_string(), "json".to_string())].into())
            } else {
                field
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Whether `field` holds JSON text cells.
fn holds_json_cells(field: &Field) -> bool {
    field.metadata().get(JSON_CELLS).map(String::as_str) == Some("json")
}

/// One batch of `rows` (one cell per column of `schema`).
fn batch_of(schema: &SchemaRef, rows: &[Vec<Value>]) -> Result<RecordBatch, FileError> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (i, field) in schema.fields().iter().enumerate() {
        let cells = rows.iter().map(|r| &r[i]);
        let array: ArrayRef = match field.data_type() {
            DataType::Boolean => {
                let mut b = BooleanBuilder::with_capacity(rows.len());
                cells.for_each(|v| b.append_option(v.as_bool()));
                Arc::new(b.finish())
            }
            DataType::Int32 => {
                let mut b = Int32Builder::with_capacity(rows.len());
                cells.for_each(|v| b.append_option(v.as_i64().and_then(|n| i32::try_from(n).ok())));
                Arc::new(b.finish())
            }
            DataType::Int64 => {
                let mut b = Int64Builder::with_capacity(rows.len());
                cells.for_each(|v| b.append_option(v.as_i64()));
                Arc::new(b.finish())
            }
            DataType::Timestamp(_, tz) => {
                let mut b = TimestampMillisecondBuilder::with_capacity(rows.len());
                cells.for_each(|v| b.append_option(v.as_i64()));
                Arc::new(b.finish().with_timezone_opt(tz.clone()))
            }
            DataType::Float64 => {
                let mut b = Float64Builder::with_capacity(rows.len());
                cells.for_each(|v| b.append_option(v.as_f64()));
                Arc::new(b.finish())
            }
            _ => {
                let text = if holds_json_cells(field) {
                    json_cell
                } else {
                    as_text
                };
                let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 16);
                cells.for_each(|v| b.append_option(text(v)));
                Arc::new(b.finish())
            }
        };
        arrays.push(array);
    }
    RecordBatch::try_new(schema.clone(), arrays)
        .map_err(|e| FileError::Format(format!("building a record batch: {e}")))
}

/// A writer of record batches to one file.
enum TableWriter {
    Parquet(parquet::arrow::ArrowWriter<BufWriter<File>>),
    Ipc(arrow_ipc::writer::FileWriter<BufWriter<File>>),
    Orc(orc_rust::ArrowWriter<BufWriter<File>>),
}

/// Writes the spilled rows to `path` as `format` (Parquet, Arrow or ORC); `metadata` when the
/// rows are records' (see [`schema_of`]).
pub fn write_table(
    format: FileFormat,
    path: &Path,
    mut rows: SpillRows,
    metadata: bool,
) -> Result<(), FileError> {
    let schema = schema_of(&rows.columns, metadata, format != FileFormat::Orc);
    let file = File::create(path).map_err(|e| FileError::io(path, e))?;
    let out = BufWriter::with_capacity(1 << 20, file);
    let err = |e: String| FileError::Format(format!("{}: {e}", path.display()));
    let mut writer = match format {
        FileFormat::Parquet => {
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::SNAPPY)
                .set_max_row_group_row_count(Some(BATCH_ROWS * 2))
                .build();
            TableWriter::Parquet(
                parquet::arrow::ArrowWriter::try_new(out, schema.clone(), Some(props))
                    .map_err(|e| err(e.to_string()))?,
            )
        }
        FileFormat::Arrow => TableWriter::Ipc(
            arrow_ipc::writer::FileWriter::try_new(out, &schema).map_err(|e| err(e.to_string()))?,
        ),
        FileFormat::Orc => TableWriter::Orc(
            orc_rust::ArrowWriterBuilder::new(out, schema.clone())
                .try_build()
                .map_err(|e| err(e.to_string()))?,
        ),
        other => unreachable!("{other:?} is not a column format"),
    };
    let mut chunk = Vec::with_capacity(BATCH_ROWS);
    loop {
        let next = rows.next_row()?;
        let done = next.is_none();
        if let Some(row) = next {
            chunk.push(row);
        }
        if chunk.len() == BATCH_ROWS || (done && !chunk.is_empty()) {
            let batch = batch_of(&schema, &chunk)?;
            chunk.clear();
            match &mut writer {
                TableWriter::Parquet(w) => w.write(&batch).map_err(|e| err(e.to_string()))?,
                TableWriter::Ipc(w) => w.write(&batch).map_err(|e| err(e.to_string()))?,
                TableWriter::Orc(w) => w.write(&batch).map_err(|e| err(e.to_string()))?,
            }
        }
        if done {
            break;
        }
    }
    let mut out = match writer {
        TableWriter::Parquet(w) => w.into_inner().map_err(|e| err(e.to_string()))?,
        TableWriter::Ipc(mut w) => {
            w.finish().map_err(|e| err(e.to_string()))?;
            w.into_inner().map_err(|e| err(e.to_string()))?
        }
        TableWriter::Orc(w) => {
            w.close().map_err(|e| err(e.to_string()))?;
            return Ok(());
        }
    };
    out.flush().map_err(|e| FileError::io(path, e))
}

/// Reads a column format file batch by batch, as rows.
pub struct TableReader {
    batches: Box<dyn Iterator<Item = Result<RecordBatch, String>> + Send>,
    path: String,
}

impl TableReader {
    /// Opens `path` as `format` (Parquet, Arrow or ORC).
    pub fn open(format: FileFormat, path: &Path) -> Result<TableReader, FileError> {
        let file = File::open(path).map_err(|e| FileError::io(path, e))?;
        let err = |e: String| FileError::Format(format!("{}: {e}", path.display()));
        let batches: Box<dyn Iterator<Item = Result<RecordBatch, String>> + Send> = match format {
            FileFormat::Parquet => {
                let reader =
                    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                        .map_err(|e| err(e.to_string()))?
                        .with_batch_size(8192)
                        .build()
                        .map_err(|e| err(e.to_string()))?;
                Box::new(reader.map(|b| b.map_err(|e| e.to_string())))
            }
            FileFormat::Arrow => {
                let reader = arrow_ipc::reader::FileReader::try_new(file, None)
                    .map_err(|e| err(e.to_string()))?;
                Box::new(reader.map(|b| b.map_err(|e| e.to_string())))
            }
            FileFormat::Orc => {
                let reader = orc_rust::ArrowReaderBuilder::try_new(file)
                    .map_err(|e| err(e.to_string()))?
                    .with_batch_size(8192)
                    .build();
                let _ = reader.schema();
                Box::new(reader.map(|b| b.map_err(|e| e.to_string())))
            }
            other => unreachable!("{other:?} is not a column format"),
        };
        Ok(TableReader {
            batches,
            path: path.display().to_string(),
        })
    }

    /// The next batch's rows; `None` at the end.
    pub fn next_rows(&mut self) -> Result<Option<Vec<Row>>, FileError> {
        let Some(batch) = self.batches.next() else {
            return Ok(None);
        };
        let batch = batch.map_err(|e| FileError::Format(format!("{}: {e}", self.path)))?;
        rows_of(&batch)
            .map(Some)
            .map_err(|e| FileError::Format(format!("{}: {e}", self.path)))
    }
}

/// A batch's rows (in the batch's column order), through arrow-json; a `timestamp` column
/// of a time type as ms numbers.
fn rows_of(batch: &RecordBatch) -> Result<Vec<Row>, String> {
    let schema = batch.schema();
    let mut columns = batch.columns().to_vec();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    for (i, f) in schema.fields().iter().enumerate() {
        if f.name() == "timestamp" && matches!(f.data_type(), DataType::Timestamp(..)) {
            let ms = arrow_cast::cast(
                &columns[i],
                &DataType::Timestamp(TimeUnit::Millisecond, None),
            )
            .and_then(|a| arrow_cast::cast(&a, &DataType::Int64))
            .map_err(|e| e.to_string())?;
            columns[i] = ms;
            fields[i] = Field::new("timestamp", DataType::Int64, true);
        }
    }
    let order: Vec<(String, bool)> = fields
        .iter()
        .map(|f| (f.name().clone(), holds_json_cells(f)))
        .collect();
    let batch =
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    {
        // Nulls written: a tombstone's row must still have its value column.
        let mut w = arrow_json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow_json::writer::LineDelimited>(&mut out);
        w.write(&batch).map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
    }
    let mut rows = Vec::with_capacity(batch.num_rows());
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let Value::Object(mut m) = serde_json::from_slice(line).map_err(|e| e.to_string())? else {
            return Err("a row is not an object".into());
        };
        let row: Row = order
            .iter()
            .filter_map(|(name, json)| {
                let v = m.remove(name)?;
                Some((name.clone(), if *json { from_json_cell(v) } else { v }))
            })
            .collect();
        rows.push(row);
    }
    Ok(rows)
}
