//! Trino's "String functions and operators" (`functions/string.md`) where DataFusion has none of
//! the name or one with other semantics: `split`, `split_part`, `strpos`, `substr`/`substring`,
//! `replace` (two arguments), `levenshtein_distance`, `hamming_distance`, `codepoint`,
//! `to_utf8`, `from_utf8`, `split_to_map`. Positions count characters from 1, as in Trino.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Int64Array, ListBuilder, MapBuilder, StringArray,
    StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::ScalarUDF;

use super::args::{check, int64s, utf8};
use super::udf::Simple;

/// The functions of this family.
pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![
        Simple::new("split", &[2, 3], split_returns, split).udf(),
        Simple::new(
            "split_part",
            &[3],
            |args| check("split_part", args, &[0, 1]).map(|_| DataType::Utf8),
            split_part,
        )
        .udf(),
        Simple::new(
            "strpos",
            &[2, 3],
            |args| check("strpos", args, &[0, 1]).map(|_| DataType::Int64),
            strpos,
        )
        .udf(),
        Simple::new(
            "substr",
            &[2, 3],
            |args| check("substr", args, &[0]).map(|_| DataType::Utf8),
            substr,
        )
        .aliases(&["substring"])
        .udf(),
        Simple::new(
            "replace",
            &[2, 3],
            |args| check("replace", args, &[0, 1, 2]).map(|_| DataType::Utf8),
            replace,
        )
        .udf(),
        Simple::new(
            "levenshtein_distance",
            &[2],
            |args| check("levenshtein_distance", args, &[0, 1]).map(|_| DataType::Int64),
            |args, _| distance(args, levenshtein),
        )
        .udf(),
        Simple::new(
            "hamming_distance",
            &[2],
            |args| check("hamming_distance", args, &[0, 1]).map(|_| DataType::Int64),
            |args, _| distance(args, hamming),
        )
        .udf(),
        Simple::new(
            "codepoint",
            &[1],
            |args| check("codepoint", args, &[0]).map(|_| DataType::Int64),
            codepoint,
        )
        .udf(),
        Simple::new(
            "to_utf8",
            &[1],
            |args| check("to_utf8", args, &[0]).map(|_| DataType::Binary),
            |args, _| {
                let text = utf8(&args[0])?;
                Ok(datafusion::arrow::compute::kernels::cast::cast(
                    &text,
                    &DataType::Binary,
                )?)
            },
        )
        .udf(),
        Simple::new("from_utf8", &[1, 2], from_utf8_returns, from_utf8).udf(),
        Simple::new(
            "luhn_check",
            &[1],
            |args| check("luhn_check", args, &[0]).map(|_| DataType::Boolean),
            luhn_check,
        )
        .udf(),
        Simple::new(
            "title_case",
            &[1],
            |args| check("title_case", args, &[0]).map(|_| DataType::Utf8),
            title_case,
        )
        .udf(),
        Simple::new(
            "split_to_map",
            &[3],
            |args| check("split_to_map", args, &[0, 1, 2]).map(|_| text_map_type()),
            split_to_map,
        )
        .udf(),
    ]
}

pub(crate) fn text_list_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

/// The type `MapBuilder<StringBuilder, StringBuilder>` builds.
pub(crate) fn text_map_type() -> DataType {
    DataType::Map(
        Arc::new(Field::new(
            "entries",
            DataType::Struct(
                vec![
                    Field::new("keys", DataType::Utf8, false),
                    Field::new("values", DataType::Utf8, true),
                ]
                .into(),
            ),
            false,
        )),
        false,
    )
}

fn split_returns(args: &[DataType]) -> DFResult<DataType> {
    check("split", args, &[0, 1]).map(|_| text_list_type())
}

/// `split(string, delimiter[, limit])`: "Splits string on delimiter and returns an array"; with
/// `limit`, "the last element contains everything left in the string".
fn split(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let delimiter = utf8(&args[1])?;
    let limits = args.get(2).map(int64s).transpose()?;
    let (text, delimiter) = (text.as_string::<i32>(), delimiter.as_string::<i32>());
    let mut out = ListBuilder::new(StringBuilder::new());
    for i in 0..text.len() {
        let limit = match &limits {
            Some(l) if l.is_null(i) => None,
            Some(l) => Some(l.value(i)),
            None => Some(i64::MAX),
        };
        if text.is_null(i) || delimiter.is_null(i) || limit.is_none() {
            out.append(false);
            continue;
        }
        let (s, d, limit) = (text.value(i), delimiter.value(i), limit.unwrap_or(i64::MAX));
        if limit <= 0 {
            return exec_err!("split(): the limit must be positive, not {limit}");
        }
        if d.is_empty() {
            // Trino splits between characters: "" yields [""], "ab" yields ["a", "b"].
            let chars: Vec<&str> = s
                .char_indices()
                .map(|(at, c)| &s[at..at + c.len_utf8()])
                .collect();
            if chars.is_empty() {
                out.values().append_value("");
            }
            for c in chars {
                out.values().append_value(c);
            }
        } else {
            for part in s.splitn(usize::try_from(limit).unwrap_or(usize::MAX), d) {
                out.values().append_value(part);
            }
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

/// `split_part(string, delimiter, index)`: "Splits string on delimiter and returns the field
/// index. Field indexes start with 1. If the index is larger than the number of fields, then
/// null is returned." (DataFusion answers an empty string.)
fn split_part(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let delimiter = utf8(&args[1])?;
    let index = int64s(&args[2])?;
    let (text, delimiter) = (text.as_string::<i32>(), delimiter.as_string::<i32>());
    let out = (0..text.len())
        .map(|i| {
            if text.is_null(i) || delimiter.is_null(i) || index.is_null(i) {
                return Ok(None);
            }
            let n = index.value(i);
            if n <= 0 {
                return exec_err!("split_part(): the index must be positive, not {n}");
            }
            let (s, d) = (text.value(i), delimiter.value(i));
            let n = usize::try_from(n - 1).unwrap_or(usize::MAX);
            Ok(if d.is_empty() {
                (n == 0).then(|| s.to_string())
            } else {
                s.split(d).nth(n).map(str::to_string)
            })
        })
        .collect::<DFResult<StringArray>>()?;
    Ok(Arc::new(out))
}

/// `strpos(string, substring[, instance])`: "Returns the starting position of the N-th instance
/// of substring in string. When instance is a negative number the search will start from the end
/// of string. Positions start with 1. If not found, 0 is returned."
fn strpos(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let sub = utf8(&args[1])?;
    let instances = args.get(2).map(int64s).transpose()?;
    let (text, sub) = (text.as_string::<i32>(), sub.as_string::<i32>());
    let out = (0..text.len())
        .map(|i| {
            let instance = match &instances {
                Some(n) if n.is_null(i) => return Ok(None),
                Some(n) => n.value(i),
                None => 1,
            };
            if text.is_null(i) || sub.is_null(i) {
                return Ok(None);
            }
            if instance == 0 {
                return exec_err!("strpos(): the instance must not be 0");
            }
            let (s, t) = (text.value(i), sub.value(i));
            let mut starts: Vec<usize> = s.match_indices(t).map(|(at, _)| at).collect();
            if t.is_empty() {
                starts = s
                    .char_indices()
                    .map(|(at, _)| at)
                    .chain([s.len()])
                    .collect();
            }
            let found = if instance > 0 {
                starts.get(usize::try_from(instance - 1).unwrap_or(usize::MAX))
            } else {
                let back = usize::try_from(-instance).unwrap_or(usize::MAX);
                starts.len().checked_sub(back).and_then(|k| starts.get(k))
            };
            Ok(Some(
                found.map_or(0, |&at| s[..at].chars().count() as i64 + 1),
            ))
        })
        .collect::<DFResult<Int64Array>>()?;
    Ok(Arc::new(out))
}

/// `substr(string, start[, length])`: "Positions start with 1. A negative starting position is
/// interpreted as being relative to the end of the string." A start of 0 or beyond the end gives
/// an empty string. (DataFusion counts a negative start as Postgres does.)
fn substr(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let starts = int64s(&args[1])?;
    let lengths = args.get(2).map(int64s).transpose()?;
    let text = text.as_string::<i32>();
    let out: StringArray = (0..text.len())
        .map(|i| {
            let length = match &lengths {
                Some(l) if l.is_null(i) => return None,
                Some(l) => l.value(i),
                None => i64::MAX,
            };
            if text.is_null(i) || starts.is_null(i) {
                return None;
            }
            let chars: Vec<char> = text.value(i).chars().collect();
            let n = chars.len() as i64;
            let start = starts.value(i);
            let from = match start {
                0 => return Some(String::new()),
                s if s > 0 => s - 1,
                s => n + s,
            };
            if from < 0 || from >= n || length <= 0 {
                return Some(String::new());
            }
            let to = from.saturating_add(length).min(n);
            Some(chars[from as usize..to as usize].iter().collect())
        })
        .collect();
    Ok(Arc::new(out))
}

/// `replace(string, search[, replace])`: "Removes all instances of search from string", or
/// replaces them with `replace`.
fn replace(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let search = utf8(&args[1])?;
    let replacement = args.get(2).map(utf8).transpose()?;
    let (text, search) = (text.as_string::<i32>(), search.as_string::<i32>());
    let replacement = replacement.as_ref().map(|r| r.as_string::<i32>());
    let out: StringArray = (0..text.len())
        .map(|i| {
            let with = match replacement {
                Some(r) if r.is_null(i) => return None,
                Some(r) => r.value(i),
                None => "",
            };
            if text.is_null(i) || search.is_null(i) {
                return None;
            }
            let (s, find) = (text.value(i), search.value(i));
            if find.is_empty() {
                // Java's String.replace: the replacement goes between every character.
                let mut out = String::from(with);
                for c in s.chars() {
                    out.push(c);
                    out.push_str(with);
                }
                return Some(out);
            }
            Some(s.replace(find, with))
        })
        .collect();
    Ok(Arc::new(out))
}

fn distance(
    args: &[ArrayRef],
    metric: fn(&[char], &[char]) -> DFResult<i64>,
) -> DFResult<ArrayRef> {
    let a = utf8(&args[0])?;
    let b = utf8(&args[1])?;
    let (a, b) = (a.as_string::<i32>(), b.as_string::<i32>());
    let out = (0..a.len())
        .map(|i| {
            if a.is_null(i) || b.is_null(i) {
                return Ok(None);
            }
            let x: Vec<char> = a.value(i).chars().collect();
            let y: Vec<char> = b.value(i).chars().collect();
            metric(&x, &y).map(Some)
        })
        .collect::<DFResult<Int64Array>>()?;
    Ok(Arc::new(out))
}

/// `levenshtein_distance(string1, string2)`: "the minimum number of single-character edits
/// (insertions, deletions or substitutions) needed to change string1 into string2".
fn levenshtein(a: &[char], b: &[char]) -> DFResult<i64> {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    Ok(row[b.len()] as i64)
}

/// `hamming_distance(string1, string2)`: "the number of positions at which the corresponding
/// characters are different. Note that the two strings must have the same length."
fn hamming(a: &[char], b: &[char]) -> DFResult<i64> {
    if a.len() != b.len() {
        return exec_err!("hamming_distance(): the strings must have the same length");
    }
    Ok(a.iter().zip(b).filter(|(x, y)| x != y).count() as i64)
}

/// `codepoint(string)`: "Returns the Unicode code point of the only character of string."
fn codepoint(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let text = text.as_string::<i32>();
    let out = text
        .iter()
        .map(|s| {
            let Some(s) = s else { return Ok(None) };
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(Some(i64::from(u32::from(c)))),
                _ => exec_err!("codepoint(): '{s}' is not a single character"),
            }
        })
        .collect::<DFResult<Int64Array>>()?;
    Ok(Arc::new(out))
}

/// `luhn_check(string)`: "Tests whether a string of digits is valid according to the Luhn
/// algorithm"; text that is not digits fails the query.
fn luhn_check(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let out = text
        .as_string::<i32>()
        .iter()
        .map(|s| {
            let Some(s) = s else { return Ok(None) };
            let digits: Option<Vec<u32>> = s.chars().map(|c| c.to_digit(10)).collect();
            let Some(digits) = digits.filter(|d| !d.is_empty()) else {
                return exec_err!("luhn_check(): '{s}' is not a string of digits");
            };
            let sum: u32 = digits
                .iter()
                .rev()
                .enumerate()
                .map(|(i, &d)| match i % 2 {
                    0 => d,
                    _ if d * 2 > 9 => d * 2 - 9,
                    _ => d * 2,
                })
                .sum();
            Ok(Some(sum.is_multiple_of(10)))
        })
        .collect::<DFResult<datafusion::arrow::array::BooleanArray>>()?;
    Ok(Arc::new(out))
}

/// `title_case(string)`: "the first letter of each word converted to uppercase and all
/// remaining letters converted to lowercase. Words are delimited by non-alphanumeric
/// characters."
fn title_case(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let out: StringArray = text
        .as_string::<i32>()
        .iter()
        .map(|s| {
            let mut out = String::new();
            let mut start = true;
            for c in s?.chars() {
                if c.is_alphanumeric() {
                    if start {
                        out.extend(c.to_uppercase());
                    } else {
                        out.extend(c.to_lowercase());
                    }
                    start = false;
                } else {
                    out.push(c);
                    start = true;
                }
            }
            Some(out)
        })
        .collect();
    Ok(Arc::new(out))
}

fn from_utf8_returns(args: &[DataType]) -> DFResult<DataType> {
    match &args[0] {
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::Null => {
            Ok(DataType::Utf8)
        }
        other => plan_err!("from_utf8() takes varbinary, not {other}"),
    }
}

/// `from_utf8(binary[, replace])`: "Decodes a UTF-8 encoded string from binary. Invalid UTF-8
/// sequences are replaced" with U+FFFD or with `replace` (text of one character, or a code
/// point).
fn from_utf8(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let bytes = datafusion::arrow::compute::kernels::cast::cast(&args[0], &DataType::Binary)?;
    let bytes: &BinaryArray = bytes.as_binary::<i32>();
    let replacement: Option<String> = match args.get(1) {
        None => None,
        Some(r) if r.data_type().is_integer() => {
            let n = int64s(r)?;
            let code = if n.is_null(0) { 0xFFFD } else { n.value(0) };
            let c = u32::try_from(code).ok().and_then(char::from_u32);
            match c {
                Some(c) => Some(c.to_string()),
                None => return exec_err!("from_utf8(): {code} is not a code point"),
            }
        }
        Some(r) => {
            let r = utf8(r)?;
            Some(
                r.as_string::<i32>()
                    .iter()
                    .next()
                    .flatten()
                    .unwrap_or("")
                    .to_string(),
            )
        }
    };
    let out: StringArray = bytes
        .iter()
        .map(|b| {
            let b = b?;
            Some(match &replacement {
                None => String::from_utf8_lossy(b).into_owned(),
                Some(with) => decode_replacing(b, with),
            })
        })
        .collect();
    Ok(Arc::new(out))
}

fn decode_replacing(mut bytes: &[u8], with: &str) -> String {
    let mut out = String::new();
    loop {
        match std::str::from_utf8(bytes) {
            Ok(rest) => {
                out.push_str(rest);
                return out;
            }
            Err(e) => {
                let (good, bad) = bytes.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                out.push_str(with);
                let skip = e.error_len().unwrap_or(bad.len());
                bytes = &bad[skip..];
            }
        }
    }
}

/// `split_to_map(string, entryDelimiter, keyValueDelimiter)`: "Splits string by entryDelimiter
/// and keyValueDelimiter and returns a map." A key seen twice is an error, as in Trino.
fn split_to_map(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let entry = utf8(&args[1])?;
    let kv = utf8(&args[2])?;
    let (text, entry, kv) = (
        text.as_string::<i32>(),
        entry.as_string::<i32>(),
        kv.as_string::<i32>(),
    );
    let mut out = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for i in 0..text.len() {
        if text.is_null(i) || entry.is_null(i) || kv.is_null(i) {
            out.append(false)?;
            continue;
        }
        let (s, e, k) = (text.value(i), entry.value(i), kv.value(i));
        if e.is_empty() || k.is_empty() {
            return exec_err!("split_to_map(): the delimiters must not be empty");
        }
        let mut seen = std::collections::HashSet::new();
        for item in s.split(e).filter(|item| !item.is_empty()) {
            let Some((key, value)) = item.split_once(k) else {
                return exec_err!(
                    "split_to_map(): key-value delimiter must appear exactly once in each entry. Bad input: '{item}'"
                );
            };
            if !seen.insert(key) {
                return exec_err!("split_to_map(): duplicate keys ({key}) are not allowed");
            }
            out.keys().append_value(key);
            out.values().append_value(value);
        }
        out.append(true)?;
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn edit_distances() {
        assert_eq!(levenshtein(&chars("kitten"), &chars("sitting")).unwrap(), 3);
        assert_eq!(levenshtein(&chars(""), &chars("abc")).unwrap(), 3);
        assert_eq!(hamming(&chars("abcde"), &chars("abcfg")).unwrap(), 2);
        assert!(hamming(&chars("a"), &chars("ab")).is_err());
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(decode_replacing(b"a\xffb", "?"), "a?b");
        assert_eq!(decode_replacing(b"ok", "?"), "ok");
    }
}
