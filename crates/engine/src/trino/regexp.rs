//! Trino's "Regular expression functions" (`functions/regexp.md`): `regexp_extract`,
//! `regexp_extract_all`, `regexp_replace` (Trino's `$1` replacements, every match replaced),
//! `regexp_count`, `regexp_position`, `regexp_split`. `regexp_like` is DataFusion's, which
//! agrees.
//!
//! Trino's patterns are Java's; Minerva's are the `regex` crate's, the same for what analysts
//! write (classes, groups, `(?i)`, named groups), without look-around and back-references, which
//! are refused with the pattern named.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, ListBuilder, StringArray, StringBuilder,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::exec_err;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::logical_expr::ScalarUDF;
use regex::Regex;

use super::args::{check, int64s, utf8};
use super::string::text_list_type;
use super::udf::Simple;

/// The functions of this family.
pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![
        Simple::new(
            "regexp_extract",
            &[2, 3],
            |args| check("regexp_extract", args, &[0, 1]).map(|_| DataType::Utf8),
            regexp_extract,
        )
        .udf(),
        Simple::new(
            "regexp_extract_all",
            &[2, 3],
            |args| check("regexp_extract_all", args, &[0, 1]).map(|_| text_list_type()),
            regexp_extract_all,
        )
        .udf(),
        Simple::new(
            "regexp_replace",
            &[2, 3],
            |args| check("regexp_replace", args, &[0, 1, 2]).map(|_| DataType::Utf8),
            regexp_replace,
        )
        .udf(),
        Simple::new(
            "regexp_count",
            &[2],
            |args| check("regexp_count", args, &[0, 1]).map(|_| DataType::Int64),
            regexp_count,
        )
        .udf(),
        Simple::new(
            "regexp_position",
            &[2, 3, 4],
            |args| check("regexp_position", args, &[0, 1]).map(|_| DataType::Int64),
            regexp_position,
        )
        .udf(),
        Simple::new(
            "regexp_split",
            &[2],
            |args| check("regexp_split", args, &[0, 1]).map(|_| text_list_type()),
            regexp_split,
        )
        .udf(),
    ]
}

/// Patterns compiled once per batch.
#[derive(Default)]
struct Patterns(HashMap<String, Regex>);

impl Patterns {
    fn get(&mut self, pattern: &str) -> DFResult<&Regex> {
        if !self.0.contains_key(pattern) {
            let regex = Regex::new(pattern).map_err(|e| {
                DataFusionError::Execution(format!("invalid regular expression '{pattern}': {e}"))
            })?;
            self.0.insert(pattern.to_string(), regex);
        }
        Ok(&self.0[pattern])
    }
}

/// The group number argument of row `i` (0, the whole match, when absent), checked.
fn group_of(groups: &Option<Int64Array>, i: usize, regex: &Regex) -> DFResult<Option<usize>> {
    let n = match groups {
        None => 0,
        Some(g) if g.is_null(i) => return Ok(None),
        Some(g) => g.value(i),
    };
    let count = regex.captures_len() as i64;
    if n < 0 || n >= count {
        return exec_err!(
            "pattern '{}' has {} groups; cannot access group {n}",
            regex.as_str(),
            count - 1
        );
    }
    Ok(Some(n as usize))
}

/// `regexp_extract(string, pattern[, group])`: "Finds the first occurrence of the regular
/// expression pattern in string and returns the capturing group number group" (the whole match
/// by default); NULL when nothing matches.
fn regexp_extract(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let (text, pattern) = (utf8(&args[0])?, utf8(&args[1])?);
    let groups = args.get(2).map(int64s).transpose()?;
    let (text, pattern) = (text.as_string::<i32>(), pattern.as_string::<i32>());
    let mut patterns = Patterns::default();
    let out = (0..text.len())
        .map(|i| {
            if text.is_null(i) || pattern.is_null(i) {
                return Ok(None);
            }
            let regex = patterns.get(pattern.value(i))?;
            let Some(group) = group_of(&groups, i, regex)? else {
                return Ok(None);
            };
            Ok(regex
                .captures(text.value(i))
                .and_then(|c| c.get(group))
                .map(|m| m.as_str().to_string()))
        })
        .collect::<DFResult<StringArray>>()?;
    Ok(Arc::new(out))
}

/// `regexp_extract_all(string, pattern[, group])`: "Returns the substring(s) matched by the
/// regular expression pattern in string", or group `group` of each match.
fn regexp_extract_all(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let (text, pattern) = (utf8(&args[0])?, utf8(&args[1])?);
    let groups = args.get(2).map(int64s).transpose()?;
    let (text, pattern) = (text.as_string::<i32>(), pattern.as_string::<i32>());
    let mut patterns = Patterns::default();
    let mut out = ListBuilder::new(StringBuilder::new());
    for i in 0..text.len() {
        if text.is_null(i) || pattern.is_null(i) {
            out.append(false);
            continue;
        }
        let regex = patterns.get(pattern.value(i))?;
        let Some(group) = group_of(&groups, i, regex)? else {
            out.append(false);
            continue;
        };
        for captures in regex.captures_iter(text.value(i)) {
            out.values()
                .append_option(captures.get(group).map(|m| m.as_str()));
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

/// Trino's (Java's) replacement text as the `regex` crate's: `$1` is `${1}` (so `$1a` stays
/// group 1 then `a`), `${name}` is kept, `\$` and `\\` are a literal `$` and `\`.
fn replacement(java: &str) -> DFResult<String> {
    let mut out = String::with_capacity(java.len());
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => return exec_err!("replacement '{java}' ends with a lone backslash"),
            },
            '$' => match chars.peek() {
                Some(d) if d.is_ascii_digit() => {
                    let mut digits = String::new();
                    while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                        digits.push(*d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{digits}}}"));
                }
                Some('{') => out.push('$'),
                _ => {
                    return exec_err!(
                        "replacement '{java}': '$' must name a group ($1, ${{name}}); write \\$ for a dollar sign"
                    );
                }
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `regexp_replace(string, pattern[, replacement])`: "Replaces every instance of the substring
/// matched by the regular expression pattern in string with replacement" (removes them when
/// there is no replacement). DataFusion's replaces the first match only, unless flagged `g`.
fn regexp_replace(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let (text, pattern) = (utf8(&args[0])?, utf8(&args[1])?);
    let with = args.get(2).map(utf8).transpose()?;
    let (text, pattern) = (text.as_string::<i32>(), pattern.as_string::<i32>());
    let with = with.as_ref().map(|w| w.as_string::<i32>());
    let mut patterns = Patterns::default();
    let mut replacements: HashMap<String, String> = HashMap::new();
    let out = (0..text.len())
        .map(|i| {
            let java = match with {
                Some(w) if w.is_null(i) => return Ok(None),
                Some(w) => w.value(i),
                None => "",
            };
            if text.is_null(i) || pattern.is_null(i) {
                return Ok(None);
            }
            if !replacements.contains_key(java) {
                replacements.insert(java.to_string(), replacement(java)?);
            }
            let regex = patterns.get(pattern.value(i))?;
            Ok(Some(
                regex
                    .replace_all(text.value(i), replacements[java].as_str())
                    .into_owned(),
            ))
        })
        .collect::<DFResult<StringArray>>()?;
    Ok(Arc::new(out))
}

/// `regexp_count(string, pattern)`: "Returns the number of occurrence of pattern in string."
fn regexp_count(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let (text, pattern) = (utf8(&args[0])?, utf8(&args[1])?);
    let (text, pattern) = (text.as_string::<i32>(), pattern.as_string::<i32>());
    let mut patterns = Patterns::default();
    let out = (0..text.len())
        .map(|i| {
            if text.is_null(i) || pattern.is_null(i) {
                return Ok(None);
            }
            let regex = patterns.get(pattern.value(i))?;
            Ok(Some(regex.find_iter(text.value(i)).count() as i64))
        })
        .collect::<DFResult<Int64Array>>()?;
    Ok(Arc::new(out))
}

/// `regexp_position(string, pattern[, start[, occurrence]])`: "Returns the index of the first
/// [or n-th] occurrence (counting from 1) of pattern in string", searching from `start`; -1 when
/// not found.
fn regexp_position(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let (text, pattern) = (utf8(&args[0])?, utf8(&args[1])?);
    let starts = args.get(2).map(int64s).transpose()?;
    let occurrences = args.get(3).map(int64s).transpose()?;
    let (text, pattern) = (text.as_string::<i32>(), pattern.as_string::<i32>());
    let mut patterns = Patterns::default();
    let value = |a: &Option<Int64Array>, i: usize, default: i64| match a {
        None => Some(default),
        Some(a) if a.is_null(i) => None,
        Some(a) => Some(a.value(i)),
    };
    let out = (0..text.len())
        .map(|i| {
            let (Some(start), Some(nth)) = (value(&starts, i, 1), value(&occurrences, i, 1)) else {
                return Ok(None);
            };
            if text.is_null(i) || pattern.is_null(i) {
                return Ok(None);
            }
            if start < 1 || nth < 1 {
                return exec_err!("regexp_position(): start and occurrence must be positive");
            }
            let s = text.value(i);
            let regex = patterns.get(pattern.value(i))?;
            let Some((offset, _)) = s.char_indices().nth((start - 1) as usize) else {
                return Ok(Some(-1));
            };
            let found = regex.find_iter(&s[offset..]).nth((nth - 1) as usize);
            Ok(Some(found.map_or(-1, |m| {
                s[..offset + m.start()].chars().count() as i64 + 1
            })))
        })
        .collect::<DFResult<Int64Array>>()?;
    Ok(Arc::new(out))
}

/// `regexp_split(string, pattern)`: "Splits string using the regular expression pattern and
/// returns an array. Trailing empty strings are preserved."
fn regexp_split(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let (text, pattern) = (utf8(&args[0])?, utf8(&args[1])?);
    let (text, pattern) = (text.as_string::<i32>(), pattern.as_string::<i32>());
    let mut patterns = Patterns::default();
    let mut out = ListBuilder::new(StringBuilder::new());
    for i in 0..text.len() {
        if text.is_null(i) || pattern.is_null(i) {
            out.append(false);
            continue;
        }
        let regex = patterns.get(pattern.value(i))?;
        for part in regex.split(text.value(i)) {
            out.values().append_value(part);
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_replacements_become_regex_crate_ones() {
        assert_eq!(replacement("$1a").unwrap(), "${1}a");
        assert_eq!(replacement("${name}!").unwrap(), "${name}!");
        assert_eq!(replacement("\\$5").unwrap(), "$$5");
        assert_eq!(replacement("a\\\\b").unwrap(), "a\\b");
        assert!(replacement("cost $").is_err());
    }
}
