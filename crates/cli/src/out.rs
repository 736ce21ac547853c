//! Writing to stdout: lines that stop quietly on a closed pipe, and aligned tables.

use std::io::Write;

/// Lines to stdout, buffered; a closed pipe (`| head`) ends the command quietly.
pub struct Out {
    w: std::io::BufWriter<std::io::Stdout>,
    /// True once the reader of stdout went away.
    pub closed: bool,
}

impl Out {
    /// A buffered stdout.
    pub fn new() -> Self {
        Out {
            w: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()),
            closed: false,
        }
    }

    /// Writes `s` and a newline.
    pub fn line(&mut self, s: &str) -> anyhow::Result<()> {
        if self.closed {
            return Ok(());
        }
        match writeln!(self.w, "{s}") {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => Ok(other?),
        }
    }

    /// Writes raw bytes (no newline added).
    pub fn bytes(&mut self, b: &[u8]) -> anyhow::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.w.write_all(b) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => Ok(other?),
        }
    }

    /// Writes `value` as one line of JSON.
    pub fn json(&mut self, value: &impl serde::Serialize) -> anyhow::Result<()> {
        self.line(&serde_json::to_string(value)?)
    }

    /// Writes `rows` under `header` as an aligned table (numbers right-aligned).
    pub fn table(&mut self, header: &[&str], rows: Vec<Vec<String>>) -> anyhow::Result<()> {
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::NOTHING)
            .set_header(header.to_vec());
        let numeric: Vec<bool> = (0..header.len())
            .map(|c| {
                !rows.is_empty()
                    && rows.iter().all(|r| {
                        r.get(c)
                            .is_some_and(|v| v == "-" || v.parse::<f64>().is_ok())
                    })
            })
            .collect();
        t.add_rows(rows);
        for (i, numeric) in numeric.into_iter().enumerate() {
            if let (true, Some(col)) = (numeric, t.column_mut(i)) {
                col.set_cell_alignment(comfy_table::CellAlignment::Right);
            }
        }
        for line in t.lines() {
            self.line(line.trim_end())?;
        }
        Ok(())
    }

    /// Writes out what is buffered; a closed pipe is not an error.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        match self.w.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => Ok(other?),
        }
    }

    /// Flushes; a closed pipe is not an error.
    pub fn finish(mut self) -> anyhow::Result<()> {
        match self.w.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => Ok(other?),
        }
    }
}
