//! Rows kept in a temporary file while their columns are learnt: formats with a header or a
//! schema (CSV, Parquet, Arrow, ORC, Excel, XML, Avro) need every column before the first
//! row is written, and a topic may be far larger than memory.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};

use serde_json::Value;

use crate::columns::Columns;
use crate::rows::Row;
use crate::FileError;

/// Rows written to a temporary file, each as `[[column index, value], ...]`.
pub struct Spill {
    file: BufWriter<File>,
    columns: Columns,
}

impl Spill {
    /// An empty spill in the system's temporary directory.
    pub fn new() -> Result<Spill, FileError> {
        let file = tempfile::tempfile().map_err(|e| FileError::io("a temporary file", e))?;
        Ok(Spill {
            file: BufWriter::with_capacity(1 << 20, file),
            columns: Columns::default(),
        })
    }

    /// Keeps `row`.
    pub fn push(&mut self, row: &Row) -> Result<(), FileError> {
        self.columns.add(row);
        let cells: Vec<Value> = row
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(name, v)| {
                let i = self.columns.position(name).expect("just added");
                Value::Array(vec![Value::from(i), v.clone()])
            })
            .collect();
        serde_json::to_writer(&mut self.file, &cells)
            .map_err(|e| FileError::io("a temporary file", e.into()))?;
        self.file
            .write_all(b"\n")
            .map_err(|e| FileError::io("a temporary file", e))?;
        Ok(())
    }

    /// The rows back, in order, each as one cell per column (null where it had none).
    pub fn into_rows(self) -> Result<SpillRows, FileError> {
        let mut file = self
            .file
            .into_inner()
            .map_err(|e| FileError::io("a temporary file", e.into_error()))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| FileError::io("a temporary file", e))?;
        Ok(SpillRows {
            lines: BufReader::with_capacity(1 << 20, file),
            width: self.columns.len(),
            columns: self.columns,
            line: String::new(),
        })
    }
}

/// Reading a spill back.
pub struct SpillRows {
    lines: BufReader<File>,
    width: usize,
    /// The columns of every row.
    pub columns: Columns,
    line: String,
}

impl SpillRows {
    /// The next row, one cell per column.
    pub fn next_row(&mut self) -> Result<Option<Vec<Value>>, FileError> {
        self.line.clear();
        let n = self
            .lines
            .read_line(&mut self.line)
            .map_err(|e| FileError::io("a temporary file", e))?;
        if n == 0 {
            return Ok(None);
        }
        let cells: Vec<(usize, Value)> = serde_json::from_str(&self.line)
            .map_err(|e| FileError::io("a temporary file", e.into()))?;
        let mut row = vec![Value::Null; self.width];
        for (i, v) in cells {
            row[i] = v;
        }
        Ok(Some(row))
    }
}
