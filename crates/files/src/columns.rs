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
    /// Text (and any mix of kinds: those are written as text).
    Str,
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
            _ => Str,
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
        c.add(&[("c".into(), json!(3))]);
        let got: Vec<(&str, ColumnType)> = c.iter().collect();
        assert_eq!(
            got,
            [
                ("a", ColumnType::Float),
                ("b", ColumnType::Str),
                ("c", ColumnType::Str),
                ("d", ColumnType::Int)
            ]
        );
        assert_eq!(c.position("d"), Some(3));
    }
}
