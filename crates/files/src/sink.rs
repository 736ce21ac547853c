//! Rows handed on as they are read, in chunks of [`CHUNK_ROWS`]: what every format's reader
//! gives its caller.

use crate::rows::Row;
use crate::FileError;

/// Rows per chunk handed on when reading.
pub const CHUNK_ROWS: usize = 8192;

/// Rows gathered into chunks for the reader's caller.
pub struct RowChunks<'s> {
    sink: &'s mut dyn FnMut(Vec<Row>) -> Result<(), FileError>,
    chunk: Vec<Row>,
}

impl<'s> RowChunks<'s> {
    /// Chunks for `sink`.
    pub fn new(sink: &'s mut dyn FnMut(Vec<Row>) -> Result<(), FileError>) -> Self {
        RowChunks {
            sink,
            chunk: Vec::with_capacity(CHUNK_ROWS),
        }
    }

    /// Takes one row; hands a full chunk on.
    pub fn push(&mut self, row: Row) -> Result<(), FileError> {
        self.chunk.push(row);
        if self.chunk.len() == CHUNK_ROWS {
            (self.sink)(std::mem::take(&mut self.chunk))?;
        }
        Ok(())
    }

    /// Hands the last rows on.
    pub fn finish(self) -> Result<(), FileError> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        (self.sink)(self.chunk)
    }
}
