//! jq expressions over records as JSON, run by jaq: a [`Pipeline`] of a filter, a map and a
//! flatmap.
//!
//! Each record is its JSON object ([`super::json`]: `{topic, partition, offset, timestamp,
//! key, value, headers}`). The filter keeps records for which the expression's first output
//! is truthy; the map replaces a record by the expression's one output; the flatmap by all
//! its outputs (none drops the record). They apply in that order.
//!
//! ```
//! use kafkit_store::ops::jq::Pipeline;
//! let p = Pipeline::new(Some(".value.n > 1"), Some(".value.n *= 10"), None).unwrap();
//! let out = p.apply(serde_json::json!({"value": {"n": 2}})).unwrap();
//! assert_eq!(out, vec![serde_json::json!({"value": {"n": 20}})]);
//! assert!(p.apply(serde_json::json!({"value": {"n": 1}})).unwrap().is_empty());
//! let e = Pipeline::new(Some(".value |"), None, None).unwrap_err();
//! assert_eq!(e.stage, "filter");
//! ```

use std::sync::OnceLock;

use jaq_core::load::{self, Arena, File, Loader};
use jaq_core::{compile, data, Compiler, Ctx, Vars};
use jaq_json::{Num, Val};
use serde::Deserialize as _;
use serde_json::Value as Json;

/// A compiled jq program.
type Filter = jaq_core::Filter<data::JustLut<Val>>;

/// A jq expression that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{stage} '{code}': {message}")]
pub struct JqError {
    /// Which expression: "filter", "map" or "flatmap".
    pub stage: &'static str,
    /// The expression.
    pub code: String,
    /// What is wrong, and where in it.
    pub message: String,
}

/// Compiled filter, map and flatmap expressions.
#[derive(Default)]
pub struct Pipeline {
    filter: Option<Filter>,
    map: Option<Filter>,
    flatmap: Option<Filter>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("filter", &self.filter.is_some())
            .field("map", &self.map.is_some())
            .field("flatmap", &self.flatmap.is_some())
            .finish()
    }
}

impl Pipeline {
    /// Compiles the expressions given; an error names the one that does not compile and
    /// where it goes wrong.
    pub fn new(
        filter: Option<&str>,
        map: Option<&str>,
        flatmap: Option<&str>,
    ) -> Result<Pipeline, JqError> {
        let compile = |stage: &'static str, code: Option<&str>| {
            code.map(|c| {
                compile(c).map_err(|message| JqError {
                    stage,
                    code: c.to_string(),
                    message,
                })
            })
            .transpose()
        };
        Ok(Pipeline {
            filter: compile("filter", filter)?,
            map: compile("map", map)?,
            flatmap: compile("flatmap", flatmap)?,
        })
    }

    /// True when there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.filter.is_none() && self.map.is_none() && self.flatmap.is_none()
    }

    /// The records `record` becomes (none when filtered out); an error says what failed.
    pub fn apply(&self, record: Json) -> Result<Vec<Json>, String> {
        if let Some(f) = &self.filter {
            let keep = run(f, &record, 1)
                .map_err(|e| format!("filter: {e}"))?
                .first()
                .is_some_and(truthy);
            if !keep {
                return Ok(Vec::new());
            }
        }
        let mut records = vec![record];
        if let Some(f) = &self.map {
            let mut out = run(f, &records[0], 2).map_err(|e| format!("map: {e}"))?;
            if out.len() != 1 {
                let gave = if out.is_empty() {
                    "none"
                } else {
                    "more than one"
                };
                return Err(format!(
                    "map must give one output per record, this gave {gave} (use a flatmap for \
                     zero or many)"
                ));
            }
            records = vec![out.remove(0)];
        }
        if let Some(f) = &self.flatmap {
            records = run(f, &records[0], MAX_OUTPUTS + 1).map_err(|e| format!("flatmap: {e}"))?;
            if records.len() > MAX_OUTPUTS {
                return Err(format!(
                    "flatmap gave more than {MAX_OUTPUTS} records for one record"
                ));
            }
        }
        Ok(records)
    }
}

/// jq's truth: everything but `false` and `null`.
fn truthy(v: &Json) -> bool {
    !matches!(v, Json::Null | Json::Bool(false))
}

/// Byte offset of `part` inside `whole` (jaq's error slices point into the source).
fn offset_in(whole: &str, part: &str) -> Option<usize> {
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    (p >= w && p + part.len() <= w + whole.len()).then(|| p - w)
}

/// "column C" (1-based; "line L, column C" for expressions of several lines).
fn position(code: &str, part: &str) -> String {
    let Some(off) = offset_in(code, part) else {
        return "an unknown position".into();
    };
    let before = &code[..off];
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    match before.matches('\n').count() {
        0 => format!("column {column}"),
        n => format!("line {}, column {column}", n + 1),
    }
}

fn found(part: &str) -> String {
    match part.chars().next() {
        None => "the end".into(),
        Some(c) => format!("`{c}`"),
    }
}

/// jq's standard library, parsed once per process (parsing it took most of a compile).
fn prelude() -> &'static [load::parse::Def<&'static str>] {
    static PRELUDE: OnceLock<Vec<load::parse::Def<&'static str>>> = OnceLock::new();
    PRELUDE.get_or_init(|| {
        jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs())
            .collect()
    })
}

/// Compiles `code` with jq's standard library.
fn compile(code: &str) -> Result<Filter, String> {
    let arena = Arena::default();
    // The syntax first, without the standard library: most mistakes show in microseconds.
    Loader::new([])
        .load(&arena, File { code, path: () })
        .map_err(syntax_error)?;
    let modules = Loader::new(prelude().iter().cloned())
        .load(&arena, File { code, path: () })
        .map_err(syntax_error)?;
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| {
            let msgs: Vec<String> = errs
                .into_iter()
                .flat_map(|(file, es)| {
                    let c = file.code;
                    es.into_iter().map(move |(name, undef)| {
                        let what = match undef {
                            compile::Undefined::Filter(arity) => format!("filter `{name}/{arity}`"),
                            u => format!("{} `{name}`", u.as_str()),
                        };
                        format!("undefined {what} at {}", position(c, name))
                    })
                })
                .collect();
            msgs.join("; ")
        })
}

/// What is wrong with the syntax of a jq expression, and where.
fn syntax_error(errs: load::Errors<&str, ()>) -> String {
    let mut msgs = Vec::new();
    for (file, err) in errs {
        let c = file.code;
        let expected = |what: &str, f: &str| {
            format!(
                "expected {what} but found {} at {}",
                found(f),
                position(c, f)
            )
        };
        match err {
            load::Error::Io(es) => msgs.extend(es.into_iter().map(|(path, e)| {
                format!("cannot load module {path}: {e} at {}", position(c, path))
            })),
            load::Error::Lex(es) => {
                msgs.extend(es.into_iter().map(|(e, f)| expected(e.as_str(), f)))
            }
            load::Error::Parse(es) => {
                msgs.extend(es.into_iter().map(|(e, f)| expected(e.as_str(), f)))
            }
        }
    }
    format!("not a jq expression: {}", msgs.join("; "))
}

/// Every output of `filter` on `input`.
/// Most records a flatmap may make of one record: past this, its outputs (which jq makes
/// lazily, so an expression multiplying generators stops here) are an error.
pub const MAX_OUTPUTS: usize = 100_000;

/// The first outputs of `filter` over `input`, at most `take` of them (jq computes outputs
/// one at a time: the rest are never computed).
fn run(filter: &Filter, input: &Json, take: usize) -> Result<Vec<Json>, String> {
    let input = Val::deserialize(input).map_err(|e| e.to_string())?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    filter
        .id
        .run((ctx, input))
        .take(take)
        .map(|out| match out {
            Ok(v) => to_json(v),
            // Not jaq_core::unwrap_valr: that exits the process on `halt`.
            Err(exn) => Err(match exn.get_err() {
                Ok(err) => match err.into_val() {
                    Val::TStr(s) => format!("jq error: {}", String::from_utf8_lossy(&s)),
                    v => format!("jq error: {v}"),
                },
                Err(exn) => match exn.get_halt() {
                    Ok(code) => format!("the expression called halt (exit code {code})"),
                    Err(_) => "jq internal error".into(),
                },
            }),
        })
        .collect()
}

/// A float as JSON, as jq writes it: NaN is null, infinities the largest finite numbers.
fn float_to_json(f: f64) -> Json {
    let f = if f.is_infinite() {
        f64::MAX.copysign(f)
    } else {
        f
    };
    serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)
}

fn to_json(v: Val) -> Result<Json, String> {
    Ok(match v {
        Val::Null => Json::Null,
        Val::Bool(b) => Json::Bool(b),
        Val::Num(Num::Int(i)) => Json::from(i as i64),
        Val::Num(Num::Float(f)) => float_to_json(f),
        // Big integers and decimals written in the expression.
        Val::Num(n) => {
            let s = n.to_string();
            match s.parse::<serde_json::Number>() {
                Ok(n) => Json::Number(n),
                Err(_) => float_to_json(s.parse::<f64>().unwrap_or(f64::NAN)),
            }
        }
        Val::TStr(s) | Val::BStr(s) => Json::String(String::from_utf8_lossy(&s).into_owned()),
        Val::Arr(a) => Json::Array(a.iter().cloned().map(to_json).collect::<Result<_, _>>()?),
        Val::Obj(o) => {
            let mut m = serde_json::Map::with_capacity(o.len());
            for (k, v) in o.iter() {
                let k = match k {
                    Val::TStr(s) | Val::BStr(s) => String::from_utf8_lossy(s).into_owned(),
                    other => return Err(format!("object key {other} is not a string")),
                };
                m.insert(k, to_json(v.clone())?);
            }
            Json::Object(m)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pipeline(filter: Option<&str>, map: Option<&str>, flatmap: Option<&str>) -> Pipeline {
        Pipeline::new(filter, map, flatmap).unwrap()
    }

    #[test]
    fn outputs_are_computed_only_as_far_as_needed_and_bounded() {
        let r = json!({"value": {"a": [1, 2], "b": {"c": 3}}});
        // A filter looks at its first output only: the endless rest is never computed.
        assert_eq!(
            pipeline(Some("true, repeat(.)"), None, None)
                .apply(r.clone())
                .unwrap()
                .len(),
            1
        );
        let e = pipeline(None, Some("1, repeat(.)"), None)
            .apply(r.clone())
            .unwrap_err();
        assert!(e.contains("more than one"), "{e}");
        // A flatmap multiplying generators (found by fuzz target jq: minutes of outputs) stops
        // at the bound.
        let e = pipeline(
            None,
            None,
            Some("[paths] as $p | $p[] + $p[] + $p[] + $p[] + $p[] + $p[] + $p[] + $p[]"),
        )
        .apply(r.clone())
        .unwrap_err();
        assert!(
            e.contains(&format!("more than {MAX_OUTPUTS} records")),
            "{e}"
        );
        assert_eq!(
            pipeline(None, None, Some("range(1000)"))
                .apply(r)
                .unwrap()
                .len(),
            1000
        );
    }

    #[test]
    fn filter_map_and_flatmap_apply_in_order() {
        let r = json!({"key": "a", "value": {"n": 5, "items": [1, 2, 3]}});
        let p = pipeline(Some(".value.n > 3"), Some(".key |= ascii_upcase"), None);
        assert_eq!(
            p.apply(r.clone()).unwrap(),
            vec![json!({"key": "A", "value": {"n": 5, "items": [1, 2, 3]}})]
        );
        let p = pipeline(Some(".value.n > 9"), None, None);
        assert!(p.apply(r.clone()).unwrap().is_empty());
        let p = pipeline(None, None, Some(".value.items[] as $i | .value = $i"));
        let out = p.apply(r.clone()).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[2], json!({"key": "a", "value": 3}));
        let p = pipeline(None, None, Some("empty"));
        assert!(p.apply(r.clone()).unwrap().is_empty());
        let p = pipeline(None, Some(".value.items[]"), None);
        let err = p.apply(r).unwrap_err();
        assert!(err.contains("gave more than one"), "{err}");
    }

    #[test]
    fn bad_expressions_say_what_and_where() {
        let err = Pipeline::new(Some(".value | foo(1)"), None, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("filter '.value | foo(1)'"), "{err}");
        assert!(
            err.contains("undefined filter `foo/1` at column 10"),
            "{err}"
        );
        let err = Pipeline::new(None, Some(".["), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a jq expression"), "{err}");
        let p = pipeline(None, Some("error(\"boom\")"), None);
        assert_eq!(p.apply(json!({})).unwrap_err(), "map: jq error: boom");
    }
}
