//! The text formats: CSV, JSON Lines and JSON (an array of row objects, as pandas writes
//! `orient="records"`).
//!
//! CSV keeps the kinds of cells apart by quoting: text is always quoted (`""` is the empty
//! text), numbers and true/false never, and an empty cell is null. Reading, a quoted cell is
//! text; an unquoted one is a number or true/false when it reads as one, null when empty, else
//! text (so CSV files of other tools read as expected).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::Value;

use crate::rows::Row;
use crate::sink::{RowChunks, CHUNK_ROWS};
use crate::spill::SpillRows;
use crate::FileError;

fn csv_text(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Writes the spilled rows as CSV with a header line.
pub fn write_csv(path: &Path, mut rows: SpillRows) -> Result<(), FileError> {
    let file = File::create(path).map_err(|e| FileError::io(path, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut line = Vec::with_capacity(1024);
    for (i, name) in rows.columns.names().iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        csv_text(&mut line, name);
    }
    line.extend_from_slice(b"\r\n");
    while let Some(row) = rows.next_row()? {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                line.push(b',');
            }
            match v {
                Value::Null => {}
                Value::String(s) => csv_text(&mut line, s),
                other => line.extend_from_slice(other.to_string().as_bytes()),
            }
        }
        line.extend_from_slice(b"\r\n");
        if line.len() > 1 << 16 {
            out.write_all(&line).map_err(|e| FileError::io(path, e))?;
            line.clear();
        }
    }
    out.write_all(&line)
        .and_then(|_| out.flush())
        .map_err(|e| FileError::io(path, e))
}

/// An unquoted CSV cell as a value.
pub(crate) fn unquoted(cell: &str) -> Value {
    let t = cell.trim();
    if t.is_empty() {
        return Value::Null;
    }
    match t {
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(n) = t.parse::<i64>() {
        return Value::from(n);
    }
    if t.bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
    {
        if let Some(n) = t.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(cell.to_string())
}

/// Splits one CSV record (which may span lines inside quotes) off `input`: its cells, each
/// with whether it was quoted. `None` at the end.
fn next_record<R: BufRead>(
    input: &mut R,
    line_no: &mut usize,
) -> std::io::Result<Option<Vec<(String, bool)>>> {
    let mut raw = Vec::new();
    let mut cells = Vec::new();
    let mut cell = Vec::new();
    let (mut quoted, mut in_quotes, mut any) = (false, false, false);
    loop {
        raw.clear();
        if input.read_until(b'\n', &mut raw)? == 0 {
            if !any {
                return Ok(None);
            }
            break;
        }
        *line_no += 1;
        any = true;
        let mut i = 0;
        while i < raw.len() {
            let b = raw[i];
            if in_quotes {
                if b == b'"' {
                    if raw.get(i + 1) == Some(&b'"') {
                        cell.push(b'"');
                        i += 1;
                    } else {
                        in_quotes = false;
                    }
                } else {
                    cell.push(b);
                }
            } else {
                match b {
                    b'"' => {
                        in_quotes = true;
                        quoted = true;
                    }
                    b',' => {
                        cells.push((String::from_utf8_lossy(&cell).into_owned(), quoted));
                        cell.clear();
                        quoted = false;
                    }
                    b'\r' if raw.get(i + 1) == Some(&b'\n') => {}
                    b'\n' => {}
                    _ => cell.push(b),
                }
            }
            i += 1;
        }
        if !in_quotes {
            break;
        }
    }
    cells.push((String::from_utf8_lossy(&cell).into_owned(), quoted));
    Ok(Some(cells))
}

/// Reads a CSV file with a header line, handing rows on in chunks.
pub fn read_csv(
    path: &Path,
    sink: &mut dyn FnMut(Vec<Row>) -> Result<(), FileError>,
) -> Result<(), FileError> {
    let file = File::open(path).map_err(|e| FileError::io(path, e))?;
    let mut input = BufReader::with_capacity(1 << 20, file);
    let mut line = 0;
    let read_err = |e| FileError::io(path, e);
    let Some(header) = next_record(&mut input, &mut line).map_err(read_err)? else {
        return Ok(());
    };
    let names: Vec<String> = header
        .into_iter()
        .map(|(n, _)| n.trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut chunk = RowChunks::new(sink);
    while let Some(cells) = next_record(&mut input, &mut line).map_err(read_err)? {
        if cells.len() == 1 && cells[0].0.is_empty() && !cells[0].1 {
            continue; // a blank line
        }
        if cells.len() > names.len() {
            return Err(FileError::Format(format!(
                "{}:{line}: {} cells where the header names {} columns",
                path.display(),
                cells.len(),
                names.len()
            )));
        }
        let row: Row = names
            .iter()
            .zip(cells)
            .map(|(n, (cell, quoted))| {
                let v = if quoted {
                    Value::String(cell)
                } else {
                    unquoted(&cell)
                };
                (n.clone(), v)
            })
            .collect();
        chunk.push(row)?;
    }
    chunk.finish()
}

/// Writes rows as JSON objects (JSON Lines, or one JSON array), as they come.
pub struct JsonWriter {
    out: BufWriter<File>,
    path: std::path::PathBuf,
    array: bool,
    first: bool,
}

impl JsonWriter {
    /// A JSON Lines (`array` false) or JSON array file at `path`.
    pub fn create(path: &Path, array: bool) -> Result<JsonWriter, FileError> {
        let file = File::create(path).map_err(|e| FileError::io(path, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        if array {
            out.write_all(b"[").map_err(|e| FileError::io(path, e))?;
        }
        Ok(JsonWriter {
            out,
            path: path.to_path_buf(),
            array,
            first: true,
        })
    }

    /// Writes `row` as one object, its columns in order (nulls left out, but for `value`:
    /// a tombstone's row must still read as a record's).
    pub fn write(&mut self, row: &Row) -> Result<(), FileError> {
        let io = |e: std::io::Error| FileError::io(&self.path, e);
        let mut text = Vec::with_capacity(256);
        if self.array {
            text.extend_from_slice(if self.first { b"\n" } else { b",\n" });
        }
        text.push(b'{');
        let mut first = true;
        for (name, v) in row.iter().filter(|(n, v)| !v.is_null() || n == "value") {
            if !first {
                text.push(b',');
            }
            first = false;
            serde_json::to_writer(&mut text, name).expect("a string serializes");
            text.push(b':');
            serde_json::to_writer(&mut text, v).expect("a value serializes");
        }
        text.push(b'}');
        if !self.array {
            text.push(b'\n');
        }
        self.first = false;
        self.out.write_all(&text).map_err(io)
    }

    /// Ends the file.
    pub fn finish(mut self) -> Result<(), FileError> {
        let end: &[u8] = if self.array { b"\n]\n" } else { b"" };
        self.out
            .write_all(end)
            .and_then(|_| self.out.flush())
            .map_err(|e| FileError::io(&self.path, e))
    }
}

fn object_row(v: Value, at: &str) -> Result<Row, FileError> {
    match v {
        Value::Object(m) => Ok(m.into_iter().collect()),
        other => Err(FileError::Format(format!(
            "{at}: a row must be a JSON object, not {}",
            kind(&other)
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads a JSON Lines file (one object a line; blank lines skipped).
pub fn read_json_lines(
    path: &Path,
    sink: &mut dyn FnMut(Vec<Row>) -> Result<(), FileError>,
) -> Result<(), FileError> {
    let file = File::open(path).map_err(|e| FileError::io(path, e))?;
    let mut chunk = RowChunks::new(sink);
    for (i, line) in BufReader::with_capacity(1 << 20, file).lines().enumerate() {
        let line = line.map_err(|e| FileError::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{}:{}", path.display(), i + 1);
        let v: Value = serde_json::from_str(&line)
            .map_err(|e| FileError::Format(format!("{at}: not JSON: {e}")))?;
        chunk.push(object_row(v, &at)?)?;
    }
    chunk.finish()
}

/// Hands on the elements of a JSON array one chunk at a time, without holding the array.
struct ArrayRows<'a> {
    sink: &'a mut dyn FnMut(Vec<Row>) -> Result<(), FileError>,
    at: String,
    failed: &'a mut Option<FileError>,
}

impl<'de> Visitor<'de> for ArrayRows<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of row objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut chunk = Vec::with_capacity(CHUNK_ROWS);
        let mut n = 0;
        while let Some(v) = seq.next_element::<Value>()? {
            n += 1;
            let row = match object_row(v, &format!("{} row {n}", self.at)) {
                Ok(r) => r,
                Err(e) => {
                    *self.failed = Some(e);
                    return Err(serde::de::Error::custom("stopped"));
                }
            };
            chunk.push(row);
            if chunk.len() == CHUNK_ROWS {
                if let Err(e) = (self.sink)(std::mem::take(&mut chunk)) {
                    *self.failed = Some(e);
                    return Err(serde::de::Error::custom("stopped"));
                }
            }
        }
        if !chunk.is_empty() {
            if let Err(e) = (self.sink)(chunk) {
                *self.failed = Some(e);
                return Err(serde::de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for ArrayRows<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

/// Reads a JSON file holding an array of row objects (or one object: one row), in bounded
/// memory.
pub fn read_json_array(
    path: &Path,
    sink: &mut dyn FnMut(Vec<Row>) -> Result<(), FileError>,
) -> Result<(), FileError> {
    let mut file = BufReader::with_capacity(
        1 << 20,
        File::open(path).map_err(|e| FileError::io(path, e))?,
    );
    // One object alone is one row.
    let starts_with_object = {
        let buf = file.fill_buf().map_err(|e| FileError::io(path, e))?;
        buf.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
    };
    if starts_with_object {
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| FileError::io(path, e))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| FileError::Format(format!("{}: not JSON: {e}", path.display())))?;
        return sink(vec![object_row(v, &path.display().to_string())?]);
    }
    let mut failed = None;
    let mut de = serde_json::Deserializer::from_reader(file);
    let seed = ArrayRows {
        sink,
        at: path.display().to_string(),
        failed: &mut failed,
    };
    let result = seed.deserialize(&mut de).and_then(|_| de.end());
    match (failed, result) {
        (Some(e), _) => Err(e),
        (None, Err(e)) => Err(FileError::Format(format!(
            "{}: not a JSON array of rows: {e}",
            path.display()
        ))),
        (None, Ok(())) => Ok(()),
    }
}

/// Rows of JSON objects as a map (for tests).
#[cfg(test)]
pub fn as_map(row: &Row) -> serde_json::Map<String, Value> {
    row.iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_keeps_text_numbers_and_nulls_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let mut spill = crate::spill::Spill::new().unwrap();
        let rows: Vec<Row> = vec![
            vec![
                ("a".into(), json!("123")),
                ("b".into(), json!(123)),
                ("c".into(), json!("")),
            ],
            vec![
                ("a".into(), json!("x, \"y\"\nz")),
                ("b".into(), json!(1.5)),
                ("d".into(), json!(true)),
            ],
            vec![("c".into(), json!(null))],
        ];
        for r in &rows {
            spill.push(r).unwrap();
        }
        write_csv(&path, spill.into_rows().unwrap()).unwrap();
        let mut got = Vec::new();
        read_csv(&path, &mut |chunk| {
            got.extend(chunk);
            Ok(())
        })
        .unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(
            as_map(&got[0]),
            as_map(&vec![
                ("a".into(), json!("123")),
                ("b".into(), json!(123)),
                ("c".into(), json!("")),
                ("d".into(), json!(null))
            ])
        );
        assert_eq!(got[1][0].1, json!("x, \"y\"\nz"));
        assert_eq!(
            (got[1][1].1.clone(), got[1][3].1.clone()),
            (json!(1.5), json!(true))
        );
        assert!(got[2].iter().all(|(_, v)| v.is_null()));
        // Other tools' CSV: unquoted text and numbers.
        std::fs::write(&path, "id,name,score\n1,alice,2.5\n2,bob,\n").unwrap();
        let mut got = Vec::new();
        read_csv(&path, &mut |c| {
            got.extend(c);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            as_map(&got[0]),
            as_map(&vec![
                ("id".into(), json!(1)),
                ("name".into(), json!("alice")),
                ("score".into(), json!(2.5))
            ])
        );
        assert!(got[1][2].1.is_null());
        std::fs::write(&path, "a\n1,2\n").unwrap();
        let e = read_csv(&path, &mut |_| Ok(())).unwrap_err().to_string();
        assert!(e.contains("t.csv:2") && e.contains("2 cells"), "{e}");
    }

    #[test]
    fn json_arrays_stream_and_bad_rows_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let mut w = JsonWriter::create(&path, true).unwrap();
        for i in 0..20_000 {
            w.write(&vec![("n".into(), json!(i)), ("skip".into(), json!(null))])
                .unwrap();
        }
        w.finish().unwrap();
        let mut chunks = 0;
        let mut rows = 0;
        read_json_array(&path, &mut |c| {
            chunks += 1;
            rows += c.len();
            Ok(())
        })
        .unwrap();
        assert_eq!((rows, chunks), (20_000, 3));
        std::fs::write(&path, "[{\"a\":1}, 5]").unwrap();
        let e = read_json_array(&path, &mut |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 2") && e.contains("a number"), "{e}");
        let lines = dir.path().join("t.jsonl");
        std::fs::write(&lines, "{\"a\":1}\n\nnot json\n").unwrap();
        let e = read_json_lines(&lines, &mut |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.jsonl:3"), "{e}");
    }
}
