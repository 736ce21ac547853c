//! Excel workbooks (.xlsx, through rust_xlsxwriter and calamine) and XML documents (through
//! quick-xml, in pandas' `to_xml` shape: `<data><row><column>…</column>…</row>…</data>`).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use calamine::{Data, Reader};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::Value;

use crate::rows::Row;
use crate::sink::RowChunks;
use crate::spill::SpillRows;
use crate::FileError;

/// Rows a worksheet holds, its header row included.
const EXCEL_ROWS: u64 = 1_048_576;
/// Characters an Excel cell holds.
const EXCEL_CELL_CHARS: usize = 32_767;

/// Writes the spilled rows as the first worksheet of an .xlsx workbook, the column names in
/// the first row.
pub fn write_excel(path: &Path, mut rows: SpillRows) -> Result<(), FileError> {
    let err = |e: rust_xlsxwriter::XlsxError| FileError::Format(format!("{}: {e}", path.display()));
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory().map_err(err)?;
    for (c, name) in rows.columns.names().iter().enumerate() {
        sheet.write_string(0, c as u16, name).map_err(err)?;
    }
    let mut r: u32 = 1;
    while let Some(row) = rows.next_row()? {
        if u64::from(r) >= EXCEL_ROWS {
            return Err(FileError::Format(format!(
                "{}: a worksheet holds {} rows; export fewer records (-n) or to another format",
                path.display(),
                EXCEL_ROWS - 1
            )));
        }
        for (c, v) in row.iter().enumerate() {
            let c = c as u16;
            match v {
                Value::Null => {}
                Value::Bool(b) => {
                    sheet.write_boolean(r, c, *b).map_err(err)?;
                }
                Value::Number(n) => {
                    sheet
                        .write_number(r, c, n.as_f64().unwrap_or_default())
                        .map_err(err)?;
                }
                other => {
                    let text = match other {
                        Value::String(s) => s.clone(),
                        v => v.to_string(),
                    };
                    if text.chars().count() > EXCEL_CELL_CHARS {
                        return Err(FileError::Format(format!(
                            "{}: row {r}, column {}: {} characters, where an Excel cell holds \
                             {EXCEL_CELL_CHARS}",
                            path.display(),
                            rows.columns.names()[c as usize],
                            text.chars().count()
                        )));
                    }
                    sheet.write_string(r, c, &text).map_err(err)?;
                }
            }
        }
        r += 1;
    }
    book.save(path).map_err(err)
}

/// A cell as a value; a whole number stays a whole number unless `floats` (its column holds
/// fractions too: Excel keeps every number as a float).
fn excel_cell(d: &Data, floats: bool) -> Value {
    match d {
        Data::Empty => Value::Null,
        Data::Bool(b) => Value::Bool(*b),
        Data::Int(i) => Value::from(*i),
        Data::Float(f) if !floats && f.fract() == 0.0 && f.abs() < 9.007e15 => {
            Value::from(*f as i64)
        }
        Data::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Data::String(s) => Value::String(s.clone()),
        // Days since 1899-12-30 (Excel's 1900 date system), as a UTC time.
        Data::DateTime(dt) => {
            let ms = ((dt.as_f64() - 25_569.0) * 86_400_000.0).round() as i64;
            match jiff::Timestamp::from_millisecond(ms) {
                Ok(t) => Value::String(t.to_string()),
                Err(_) => Value::from(dt.as_f64()),
            }
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => Value::String(s.clone()),
        Data::Error(e) => Value::String(format!("#{e:?}")),
    }
}

/// Reads the first worksheet of a workbook (.xlsx, .xls, .ods), its first row the column
/// names.
pub fn read_excel(
    path: &Path,
    sink: &mut dyn FnMut(Vec<Row>) -> Result<(), FileError>,
) -> Result<(), FileError> {
    let err = |e: String| FileError::Format(format!("{}: {e}", path.display()));
    let mut book = calamine::open_workbook_auto(path).map_err(|e| err(e.to_string()))?;
    let Some(first) = book.sheet_names().first().cloned() else {
        return Ok(());
    };
    let range = book
        .worksheet_range(&first)
        .map_err(|e| err(format!("worksheet {first}: {e}")))?;
    let mut lines = range.rows();
    let Some(header) = lines.next() else {
        return Ok(());
    };
    let names: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, d)| match d {
            Data::Empty => format!("column{}", i + 1),
            d => excel_cell(d, false)
                .as_str()
                .map_or_else(|| excel_cell(d, false).to_string(), String::from),
        })
        .collect();
    // Columns holding a fraction anywhere are columns of floats.
    let mut floats = vec![false; names.len()];
    for line in range.rows().skip(1) {
        for (i, d) in line.iter().enumerate().take(names.len()) {
            if matches!(d, Data::Float(f) if f.fract() != 0.0) {
                floats[i] = true;
            }
        }
    }
    let mut chunk = RowChunks::new(sink);
    for line in lines {
        let row: Row = names
            .iter()
            .zip(line.iter())
            .zip(&floats)
            .map(|((n, d), &f)| (n.clone(), excel_cell(d, f)))
            .collect();
        if row.iter().all(|(_, v)| v.is_null()) {
            continue;
        }
        chunk.push(row)?;
    }
    chunk.finish()
}

/// A column name as an XML element name (characters XML does not allow become `_`).
fn element_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

/// The attribute marking a cell that is text although it reads as a number, true/false or
/// nothing (`<key type="str">007</key>`).
const TEXT_MARK: (&str, &str) = ("type", "str");

/// Writes the spilled rows as `<data><row>…</row></data>`, a cell per column element (nulls
/// left out; text that would read as something else marked [`TEXT_MARK`]).
pub fn write_xml(path: &Path, mut rows: SpillRows) -> Result<(), FileError> {
    let file = File::create(path).map_err(|e| FileError::io(path, e))?;
    let mut w =
        quick_xml::Writer::new_with_indent(BufWriter::with_capacity(1 << 20, file), b' ', 2);
    let io = |e: std::io::Error| FileError::io(path, e);
    let names: Vec<String> = rows
        .columns
        .names()
        .iter()
        .map(|n| element_name(n))
        .collect();
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))
        .map_err(io)?;
    w.write_event(Event::Start(BytesStart::new("data")))
        .map_err(io)?;
    while let Some(row) = rows.next_row()? {
        w.write_event(Event::Start(BytesStart::new("row")))
            .map_err(io)?;
        for (name, v) in names.iter().zip(row.iter()) {
            let mut start = BytesStart::new(name.as_str());
            let text = match v {
                // A tombstone's row must still have its value column.
                Value::Null if name == "value" => {
                    w.write_event(Event::Empty(BytesStart::new("value")))
                        .map_err(io)?;
                    continue;
                }
                Value::Null => continue,
                Value::String(s) => {
                    if crate::text_io::unquoted(s) != *v {
                        start.push_attribute(TEXT_MARK);
                    }
                    s.clone()
                }
                other => other.to_string(),
            };
            w.write_event(Event::Start(start)).map_err(io)?;
            w.write_event(Event::Text(BytesText::new(&text)))
                .map_err(io)?;
            w.write_event(Event::End(BytesEnd::new(name.as_str())))
                .map_err(io)?;
        }
        w.write_event(Event::End(BytesEnd::new("row")))
            .map_err(io)?;
    }
    w.write_event(Event::End(BytesEnd::new("data")))
        .map_err(io)?;
    w.into_inner().flush().map_err(io)
}

/// Reads an XML document whose root holds one element per row, each holding one element per
/// column (pandas' `to_xml` shape); cell text that reads as a number or true/false is one.
pub fn read_xml(
    path: &Path,
    sink: &mut dyn FnMut(Vec<Row>) -> Result<(), FileError>,
) -> Result<(), FileError> {
    let file = File::open(path).map_err(|e| FileError::io(path, e))?;
    let mut reader = quick_xml::Reader::from_reader(BufReader::with_capacity(1 << 20, file));
    reader.config_mut().trim_text(false);
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut row: Row = Vec::new();
    let mut column: Option<String> = None;
    let mut marked_text = false;
    let mut text = String::new();
    let mut chunk = RowChunks::new(sink);
    let at = |reader: &quick_xml::Reader<_>| {
        format!("{} at byte {}", path.display(), reader.buffer_position())
    };
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| FileError::Format(format!("{}: {e}", at(&reader))))?;
        match event {
            Event::Start(e) => {
                depth += 1;
                if depth == 3 {
                    column = Some(e.local_name().into_inner().to_string());
                    marked_text = e
                        .attributes()
                        .flatten()
                        .any(|a| a.key.into_inner() == TEXT_MARK.0 && *a.value == *TEXT_MARK.1);
                    text.clear();
                }
            }
            Event::Empty(e) if depth == 2 => {
                let name = e.local_name().into_inner().to_string();
                row.push((name, Value::Null));
            }
            Event::Text(t) if depth == 3 => {
                text.push_str(&t.xml10_content());
            }
            Event::CData(t) if depth == 3 => text.push_str(&t),
            Event::GeneralRef(r) if depth == 3 => {
                let name = r.to_string();
                let resolved = match name.as_str() {
                    "amp" => "&".to_string(),
                    "lt" => "<".to_string(),
                    "gt" => ">".to_string(),
                    "quot" => "\"".to_string(),
                    "apos" => "'".to_string(),
                    n => match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => format!("&{n};"),
                    },
                };
                text.push_str(&resolved);
            }
            Event::End(_) => {
                if depth == 3 {
                    if let Some(name) = column.take() {
                        let cell = if marked_text {
                            Value::String(std::mem::take(&mut text))
                        } else {
                            crate::text_io::unquoted(&text)
                        };
                        row.push((name, cell));
                    }
                } else if depth == 2 {
                    chunk.push(std::mem::take(&mut row))?;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    chunk.finish()
}
