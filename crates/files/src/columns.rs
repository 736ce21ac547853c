//! The columns of a table of rows: their names in the order they first appear, and the type
//! each holds (the narrowest that fits every value seen).

use std::collections::HashMap;

use serde_json::Value;

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// Only nulls so far.
    Null,
    /// true / false.
    Bool,
    /// Whole numbers that fit an i64.
    Int,
    /// Any numbers.
    Float,
    /// Text only.
    Str,
    /// Text mixed with other kinds, or true/false mixed with numbers: the formats with one
    /// type per column write every cell as JSON text ([`json_cell`]) and mark the column
    /// ([`JSON_CELLS`]) so that reading gives each cell its own kind back.
    Mixed,
}

impl ColumnType {
    fn of(v: &Value) -> ColumnType {
        match v {
            Value::Null => ColumnType::Null,
            Value::Bool(_) => ColumnType::Bool,
            Value::Number(n) if n.is_i64() => ColumnType::Int,
            Value::Number(_) => ColumnType::Float,
            _ => ColumnType::Str,
        }
    }

    /// The narrowest type holding both.
    fn join(self, other: ColumnType) -> ColumnType {
        use ColumnType::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Null, x) | (x, Null) => x,
            (Int, Float) | (Float, Int) => Float,
            _ => Mixed,
        }
    }
}

/// The columns seen so far.
#[derive(Clone, Debug, Default)]
pub struct Columns {
    names: Vec<String>,
    types: Vec<ColumnType>,
    index: HashMap<String, usize>,
}

impl Columns {
    /// Takes in one row's cells.
    pub fn add(&mut self, row: &[(String, Value)]) {
        for (name, v) in row {
            let t = ColumnType::of(v);
            match self.index.get(name) {
                Some(&i) => self.types[i] = self.types[i].join(t),
                None => {
                    self.index.insert(name.clone(), self.names.len());
                    self.names.push(name.clone());
                    self.types.push(t);
                }
            }
        }
    }

    /// The column names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Each column with its type, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, ColumnType)> {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.types.iter().copied())
    }

    /// Where the column `name` is.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.names.len()
    }
}

/// The mark of a column whose cells are JSON text: the key of an Arrow field's metadata
/// (value `json`), and of an Avro file's metadata (a JSON list of field names).
pub const JSON_CELLS: &str = "kafkit.cells";

/// A cell of a [`ColumnType::Mixed`] column as JSON text (`"a"`, `12`, `true`).
pub fn json_cell(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A cell written by [`json_cell`], read back; text that is not JSON stays text.
pub fn from_json_cell(v: Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        other => other,
    }
}

/// A cell as text (for a text column holding other kinds too).
pub fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_widen_as_values_come() {
        let mut c = Columns::default();
        c.add(&[
            ("a".into(), json!(1)),
            ("b".into(), json!(null)),
            ("c".into(), json!(true)),
        ]);
        c.add(&[
            ("a".into(), json!(1.5)),
            ("b".into(), json!("x")),
            ("d".into(), json!(2)),
        ]);
        c.add(&[("c".into(), json!(3)), ("b".into(), json!("y"))]);
        let got: Vec<(&str, ColumnType)> = c.iter().collect();
        assert_eq!(
            got,
            [
                ("a", ColumnType::Float),
                ("b", ColumnType::Str),
                ("c", ColumnType::Mixed),
                ("d", ColumnType::Int)
            ]
        );
        assert_eq!(c.position("d"), Some(3));
        c.add(&[("b".into(), json!(1))]);
        assert_eq!(c.iter().nth(1), Some(("b", ColumnType::Mixed)));
    }

    #[test]
    fn json_cells_give_each_kind_back() {
        for v in [
            json!("3000"),
            json!(3000),
            json!(true),
            json!("plain"),
            json!(1.5),
        ] {
            let cell = json_cell(&v).map(Value::String).unwrap();
            assert_eq!(from_json_cell(cell), v);
        }
        assert_eq!(json_cell(&Value::Null), None);
        assert_eq!(from_json_cell(json!("not json")), json!("not json"));
    }
}
