//! Trino's "JSON functions and operators" (`functions/json.md`): `json_extract_scalar`,
//! `json_extract`, `json_parse`, `json_format`, `json_array_length`, `json_array_get`,
//! `json_array_contains`, `json_size`, `is_json_scalar`, `CAST(x AS JSON)` (`json_cast`), and
//! the common forms of `json_value` and `json_query` (a path with `lax` or `strict`).
//!
//! A JSON value is its text (`varchar`), written canonically: no spaces, object keys sorted,
//! as Trino writes JSON. Paths are Trino's JSONPath subset: `$`, `.key`, `["key"]`, `[key]`,
//! `[0]`; anything else is refused with the path named.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err};
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::logical_expr::ScalarUDF;
use serde_json::Value;

use super::args::{check, int64s, is_text, utf8};
use super::udf::Simple;

/// The functions of this family.
pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![
        // `json_value(x, 'lax $.a')` and `json_query(…)`: the SQL/JSON forms, path mode read.
        Simple::new(
            "json_extract_scalar",
            &[2],
            two_texts(DataType::Utf8),
            |a, _| extract(a, scalar_text),
        )
        .aliases(&["json_value"])
        .udf(),
        Simple::new("json_extract", &[2], two_texts(DataType::Utf8), |a, _| {
            extract(a, |v| Some(canonical(v)))
        })
        .aliases(&["json_query"])
        .udf(),
        Simple::new("json_size", &[2], two_texts(DataType::Int64), json_size).udf(),
        Simple::new(
            "json_parse",
            &[1],
            |args| check("json_parse", args, &[0]).map(|_| DataType::Utf8),
            |a, _| map_json(a, "json_parse", |v| Some(canonical(&v))),
        )
        .udf(),
        Simple::new(
            "json_format",
            &[1],
            |args| check("json_format", args, &[0]).map(|_| DataType::Utf8),
            |a, _| map_json(a, "json_format", |v| Some(canonical(&v))),
        )
        .udf(),
        Simple::new(
            "json_array_length",
            &[1],
            |args| check("json_array_length", args, &[0]).map(|_| DataType::Int64),
            json_array_length,
        )
        .udf(),
        Simple::new(
            "json_array_get",
            &[2],
            |args| check("json_array_get", args, &[0]).map(|_| DataType::Utf8),
            json_array_get,
        )
        .udf(),
        Simple::new(
            "json_array_contains",
            &[2],
            |args| match is_text(&args[0]) {
                true => Ok(DataType::Boolean),
                false => plan_err!("json_array_contains() takes JSON text, not {}", args[0]),
            },
            json_array_contains,
        )
        .udf(),
        Simple::new(
            "is_json_scalar",
            &[1],
            |args| check("is_json_scalar", args, &[0]).map(|_| DataType::Boolean),
            is_json_scalar,
        )
        .udf(),
        Simple::new("json_cast", &[1], |_| Ok(DataType::Utf8), json_cast).udf(),
    ]
}

type Returns = fn(&[DataType]) -> DFResult<DataType>;

fn two_texts(ty: DataType) -> Returns {
    match ty {
        DataType::Int64 => |args| check("json", args, &[0, 1]).map(|_| DataType::Int64),
        _ => |args| check("json", args, &[0, 1]).map(|_| DataType::Utf8),
    }
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(i64),
}

/// Reads a Trino JSONPath: `$` then `.key`, `["key"]`, `['key']`, `[key]` or `[n]` steps. A
/// leading `lax` or `strict` (SQL/JSON path mode) is accepted and ignored.
fn parse_path(path: &str) -> DFResult<Vec<Step>> {
    let invalid =
        |why: &str| DataFusionError::Execution(format!("invalid JSON path '{path}': {why}"));
    let text = path.trim();
    let text = text
        .strip_prefix("lax ")
        .or_else(|| text.strip_prefix("strict "))
        .unwrap_or(text)
        .trim();
    let Some(mut rest) = text.strip_prefix('$') else {
        return Err(invalid("it must start with $"));
    };
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let key = &after[..end];
            if key.is_empty() || key == "*" {
                return Err(invalid(
                    "a key must follow '.' (wildcards are not supported)",
                ));
            }
            steps.push(Step::Key(key.to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let after = after.trim_start();
            if let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let body = &after[1..];
                let close = body
                    .find(quote)
                    .ok_or_else(|| invalid("a quoted key is not closed"))?;
                steps.push(Step::Key(body[..close].to_string()));
                rest = body[close + 1..]
                    .trim_start()
                    .strip_prefix(']')
                    .ok_or_else(|| invalid("']' must follow a quoted key"))?;
            } else {
                let close = after
                    .find(']')
                    .ok_or_else(|| invalid("'[' is not closed"))?;
                let inside = after[..close].trim();
                match inside.parse::<i64>() {
                    Ok(n) if n >= 0 => steps.push(Step::Index(n)),
                    Ok(_) => return Err(invalid("indexes count from 0")),
                    Err(_) if inside.is_empty() || inside == "*" => {
                        return Err(invalid("wildcards are not supported"));
                    }
                    Err(_) => steps.push(Step::Key(inside.to_string())),
                }
                rest = &after[close + 1..];
            }
        } else {
            return Err(invalid("expected '.' or '['"));
        }
    }
    Ok(steps)
}

/// The value at `steps` in `value`.
fn walk<'a>(mut value: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    for step in steps {
        value = match (step, value) {
            (Step::Key(k), Value::Object(map)) => map.get(k)?,
            (Step::Index(i), Value::Array(items)) => items.get(usize::try_from(*i).ok()?)?,
            // `$.0` on an array reads element 0, as Trino does.
            (Step::Key(k), Value::Array(items)) => items.get(k.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// JSON text in Trino's canonical form: compact, object keys sorted.
pub(crate) fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push(':');
                write_canonical(&map[*key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A scalar's text for `json_extract_scalar`: a string without its quotes, a number or boolean
/// as written; NULL for `null`, objects and arrays.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Runs `f` on the value at each row's path; NULL where the text is not JSON or the path finds
/// nothing (as in Trino). A malformed path fails the query.
fn extract(args: &[ArrayRef], f: impl Fn(&Value) -> Option<String>) -> DFResult<ArrayRef> {
    let (json, paths) = (utf8(&args[0])?, utf8(&args[1])?);
    let (json, paths) = (json.as_string::<i32>(), paths.as_string::<i32>());
    let mut parsed: Option<(String, Vec<Step>)> = None;
    let out = (0..json.len())
        .map(|i| {
            if json.is_null(i) || paths.is_null(i) {
                return Ok(None);
            }
            let path = paths.value(i);
            if parsed.as_ref().is_none_or(|(p, _)| p != path) {
                parsed = Some((path.to_string(), parse_path(path)?));
            }
            let steps = &parsed.as_ref().expect("parsed above").1;
            let Ok(value) = serde_json::from_str::<Value>(json.value(i)) else {
                return Ok(None);
            };
            Ok(walk(&value, steps).and_then(&f))
        })
        .collect::<DFResult<StringArray>>()?;
    Ok(Arc::new(out))
}

/// `json_size(json, json_path)`: "the number of members" of an object or array at the path, 0
/// for a scalar.
fn json_size(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let sizes = extract(args, |v| {
        Some(
            match v {
                Value::Object(m) => m.len(),
                Value::Array(a) => a.len(),
                _ => 0,
            }
            .to_string(),
        )
    })?;
    Ok(datafusion::arrow::compute::kernels::cast::cast(
        &sizes,
        &DataType::Int64,
    )?)
}

fn parse_json(function: &str, text: &str) -> DFResult<Value> {
    serde_json::from_str(text)
        .map_err(|e| DataFusionError::Execution(format!("{function}(): '{text}' is not JSON: {e}")))
}

/// `json_parse(string)`: "Returns the JSON value deserialized from the input JSON text" —
/// text that is not JSON fails the query (NULL inside `try`).
fn map_json(
    args: &[ArrayRef],
    function: &str,
    f: impl Fn(Value) -> Option<String>,
) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let out = text
        .as_string::<i32>()
        .iter()
        .map(|s| match s {
            None => Ok(None),
            Some(s) => Ok(f(parse_json(function, s)?)),
        })
        .collect::<DFResult<StringArray>>()?;
    Ok(Arc::new(out))
}

/// `json_array_length(json)`: "Returns the array length of json"; NULL when it is not an array.
fn json_array_length(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let out: Int64Array = text
        .as_string::<i32>()
        .iter()
        .map(|s| match serde_json::from_str::<Value>(s?).ok()? {
            Value::Array(items) => Some(items.len() as i64),
            _ => None,
        })
        .collect();
    Ok(Arc::new(out))
}

/// `json_array_get(json_array, index)`: "Returns the element at the specified index into the
/// json_array. The index is zero-based", negative from the end; a string element comes back
/// without its quotes, as Trino's (documented as broken) function does.
fn json_array_get(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let index = int64s(&args[1])?;
    let text = text.as_string::<i32>();
    let out: StringArray = (0..text.len())
        .map(|i| {
            if text.is_null(i) || index.is_null(i) {
                return None;
            }
            let Value::Array(items) = serde_json::from_str::<Value>(text.value(i)).ok()? else {
                return None;
            };
            let n = index.value(i);
            let at = if n >= 0 { n } else { items.len() as i64 + n };
            let item = items.get(usize::try_from(at).ok()?)?;
            Some(match item {
                Value::String(s) => s.clone(),
                other => canonical(other),
            })
        })
        .collect();
    Ok(Arc::new(out))
}

/// `json_array_contains(json, value)`: "Determine if value exists in json (a string containing
/// a JSON array)".
fn json_array_contains(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let text = text.as_string::<i32>();
    let wanted = &args[1];
    let wanted_json: Vec<Option<Value>> = match wanted.data_type() {
        DataType::Boolean => wanted
            .as_boolean()
            .iter()
            .map(|b| b.map(Value::Bool))
            .collect(),
        ty if ty.is_integer() => int64s(wanted)?.iter().map(|n| n.map(Value::from)).collect(),
        ty if ty.is_floating() || ty.is_numeric() => {
            let f = datafusion::arrow::compute::kernels::cast::cast(wanted, &DataType::Float64)?;
            f.as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                .iter()
                .map(|n| n.map(Value::from))
                .collect()
        }
        ty if is_text(ty) => utf8(wanted)?
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(|s| Value::String(s.to_string())))
            .collect(),
        other => return exec_err!("json_array_contains(): cannot look for a {other}"),
    };
    let out: BooleanArray = (0..text.len())
        .map(|i| {
            if text.is_null(i) {
                return None;
            }
            let want = wanted_json.get(i)?.as_ref()?;
            let Value::Array(items) = serde_json::from_str::<Value>(text.value(i)).ok()? else {
                return None;
            };
            Some(items.iter().any(|item| same_json(item, want)))
        })
        .collect();
    Ok(Arc::new(out))
}

fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (x, y) => x == y,
    }
}

/// `is_json_scalar(json)`: "Determine if json is a scalar (i.e. a JSON number, a JSON string,
/// true, false or null)".
fn is_json_scalar(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let out = text
        .as_string::<i32>()
        .iter()
        .map(|s| match s {
            None => Ok(None),
            Some(s) => Ok(Some(!matches!(
                parse_json("is_json_scalar", s)?,
                Value::Object(_) | Value::Array(_)
            ))),
        })
        .collect::<DFResult<BooleanArray>>()?;
    Ok(Arc::new(out))
}

/// `CAST(x AS JSON)`: a boolean, number or text as that JSON value (text becomes a JSON string,
/// not parsed), an array or map as a JSON array or object; SQL NULL stays NULL.
fn json_cast(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let array = &args[0];
    if array.data_type().is_null() {
        return Ok(Arc::new(StringArray::new_null(array.len())));
    }
    let out: StringArray = (0..array.len())
        .map(|i| {
            if array.is_null(i) {
                return Ok(None);
            }
            Ok(Some(canonical(&to_json(array, i)?)))
        })
        .collect::<DFResult<_>>()?;
    Ok(Arc::new(out))
}

fn to_json(array: &ArrayRef, i: usize) -> DFResult<Value> {
    if array.is_null(i) {
        return Ok(Value::Null);
    }
    let value = datafusion::common::ScalarValue::try_from_array(array, i)?;
    Ok(match array.data_type() {
        DataType::Boolean => Value::Bool(array.as_boolean().value(i)),
        ty if ty.is_integer() => Value::from(int64s(&array.slice(i, 1))?.value(0)),
        ty if ty.is_numeric() => {
            let f = datafusion::arrow::compute::kernels::cast::cast(
                &array.slice(i, 1),
                &DataType::Float64,
            )?;
            Value::from(
                f.as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                    .value(0),
            )
        }
        ty if is_text(ty) => Value::String(
            utf8(&array.slice(i, 1))?
                .as_string::<i32>()
                .value(0)
                .to_string(),
        ),
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(i);
            Value::Array(
                (0..items.len())
                    .map(|j| to_json(&items, j))
                    .collect::<DFResult<_>>()?,
            )
        }
        DataType::Map(..) => {
            let entries = array.as_map().value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            let keys = utf8(keys)?;
            let keys = keys.as_string::<i32>();
            let mut map = serde_json::Map::new();
            for j in 0..entries.len() {
                map.insert(keys.value(j).to_string(), to_json(values, j)?);
            }
            Value::Object(map)
        }
        _ => return exec_err!("cannot cast {} to JSON ({value})", array.data_type()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_as_trino_reads_them() {
        let key = |k: &str| Step::Key(k.to_string());
        assert_eq!(parse_path("$").unwrap(), vec![]);
        assert_eq!(
            parse_path("$.store.book[0].author").unwrap(),
            vec![key("store"), key("book"), Step::Index(0), key("author")]
        );
        assert_eq!(
            parse_path("$[\"book name\"]").unwrap(),
            vec![key("book name")]
        );
        assert_eq!(
            parse_path("$.store[book]").unwrap(),
            vec![key("store"), key("book")]
        );
        assert_eq!(parse_path("lax $.a").unwrap(), vec![key("a")]);
        assert!(parse_path("a.b").is_err());
        assert!(parse_path("$.a[*]").is_err());
        assert!(parse_path("$[\"open").is_err());
    }

    #[test]
    fn canonical_json_is_compact_with_sorted_keys() {
        let v: Value = serde_json::from_str(r#"{"b": [1, 2], "a": {"é": "x"}}"#).unwrap();
        assert_eq!(canonical(&v), r#"{"a":{"é":"x"},"b":[1,2]}"#);
    }
}
