//! The `WITH (…)` properties of Athena's `CREATE TABLE AS` and `UNLOAD`, read from the parsed
//! statement.

use datafusion::sql::sqlparser::ast::{Expr, SqlOption, Value};
use minerva_catalog::Format;

use super::files::Codec;
use crate::error::{EngineError, Result, WriteProblem};

const CTAS_KNOWN: &str = "format, write_compression, partitioned_by, external_location, field_delimiter, sorted_by, target_file_size, row_group_rows, table_type, is_external";
const UNLOAD_KNOWN: &str = "format, compression, partitioned_by, field_delimiter";

/// What a `WITH (…)` clause asks for.
#[derive(Debug, Default)]
pub(crate) struct WriteOptions {
    pub(crate) format: Option<Format>,
    pub(crate) compression: Option<Codec>,
    pub(crate) partitioned_by: Vec<String>,
    pub(crate) location: Option<String>,
    pub(crate) field_delimiter: Option<String>,
    pub(crate) sorted_by: Vec<String>,
    /// Properties kept verbatim on the table (`target_file_size`, …).
    pub(crate) properties: Vec<(String, String)>,
}

impl WriteOptions {
    /// Reads a `CREATE TABLE AS`'s options.
    pub(crate) fn for_table(options: &[SqlOption], target: &str) -> Result<Self> {
        Self::read(options, target, false)
    }

    /// Reads an `UNLOAD`'s options.
    pub(crate) fn for_unload(options: &[SqlOption], target: &str) -> Result<Self> {
        Self::read(options, target, true)
    }

    fn read(options: &[SqlOption], target: &str, unload: bool) -> Result<Self> {
        let error = |problem| EngineError::Write {
            target: target.to_string(),
            problem,
        };
        let bad = |property: &str, value: &Expr, expected| {
            error(WriteProblem::BadProperty {
                property: property.to_string(),
                value: value.to_string(),
                expected,
            })
        };
        let mut out = Self::default();
        for option in options {
            let SqlOption::KeyValue { key, value } = option else {
                return Err(error(WriteProblem::UnknownProperty {
                    property: option.to_string(),
                    known: if unload { UNLOAD_KNOWN } else { CTAS_KNOWN },
                }));
            };
            let name = key.value.to_ascii_lowercase();
            match (name.as_str(), unload) {
                ("format", _) => {
                    let text = string(value)
                        .ok_or_else(|| bad(&name, value, "'PARQUET', 'JSON' or 'TEXTFILE'"))?;
                    out.format = Some(match text.to_ascii_uppercase().as_str() {
                        "PARQUET" => Format::Parquet,
                        "JSON" => Format::Json,
                        "TEXTFILE" | "CSV" => Format::Csv,
                        _ => {
                            return Err(bad(
                                &name,
                                value,
                                "'PARQUET', 'JSON' or 'TEXTFILE' (ORC and AVRO are not written)",
                            ));
                        }
                    });
                }
                ("write_compression" | "parquet_compression", false) | ("compression", true) => {
                    let text = string(value)
                        .ok_or_else(|| bad(&name, value, "'ZSTD', 'SNAPPY', 'GZIP' or 'NONE'"))?;
                    out.compression =
                        Some(Codec::parse(&text).ok_or_else(|| {
                            bad(&name, value, "'ZSTD', 'SNAPPY', 'GZIP' or 'NONE'")
                        })?);
                }
                ("partitioned_by", _) => {
                    out.partitioned_by = strings(value)
                        .ok_or_else(|| {
                            bad(&name, value, "an ARRAY of column names, e.g. ARRAY['dt']")
                        })?
                        .into_iter()
                        .map(|c| c.to_lowercase())
                        .collect();
                }
                ("sorted_by", false) => {
                    out.sorted_by = strings(value)
                        .ok_or_else(|| {
                            bad(
                                &name,
                                value,
                                "an ARRAY of column names, e.g. ARRAY['listing_id', 'event_time']",
                            )
                        })?
                        .into_iter()
                        .map(|c| c.to_lowercase())
                        .collect();
                }
                ("external_location" | "location", false) => {
                    out.location = Some(string(value).ok_or_else(|| {
                        bad(
                            &name,
                            value,
                            "a quoted location, e.g. 's3://bucket/prefix/'",
                        )
                    })?);
                }
                ("field_delimiter", _) => {
                    let text = string(value)
                        .ok_or_else(|| bad(&name, value, "one quoted character, e.g. ','"))?;
                    if text.len() != 1 {
                        return Err(bad(
                            &name,
                            value,
                            "one (ASCII) character, e.g. ',' or '\\t'",
                        ));
                    }
                    out.field_delimiter = Some(text);
                }
                ("bucketed_by" | "bucket_count", _) => {
                    return Err(error(WriteProblem::Refused {
                        property: name,
                        why: "Minerva does not write bucketed tables; sort instead with sorted_by = ARRAY[…], which lets row groups be skipped",
                    }));
                }
                ("table_type", false) => {
                    if !string(value).is_some_and(|t| t.eq_ignore_ascii_case("hive")) {
                        return Err(error(WriteProblem::Refused {
                            property: name,
                            why: "Minerva writes Hive-layout tables (table_type = 'HIVE'), not Iceberg",
                        }));
                    }
                }
                ("is_external", false) => {}
                ("target_file_size" | "row_group_rows", false) => {
                    let text = string(value)
                        .or_else(|| number(value))
                        .ok_or_else(|| bad(&name, value, "a quoted size or number"))?;
                    out.properties.push((name, text));
                }
                _ => {
                    return Err(error(WriteProblem::UnknownProperty {
                        property: name,
                        known: if unload { UNLOAD_KNOWN } else { CTAS_KNOWN },
                    }));
                }
            }
        }
        Ok(out)
    }
}

fn string(value: &Expr) -> Option<String> {
    match value {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        Expr::Identifier(ident) => Some(ident.value.clone()),
        _ => None,
    }
}

fn number(value: &Expr) -> Option<String> {
    match value {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Some(n.to_string()),
            _ => None,
        },
        _ => None,
    }
}

fn strings(value: &Expr) -> Option<Vec<String>> {
    match value {
        Expr::Array(array) => array.elem.iter().map(string).collect(),
        Expr::Tuple(items) => items.iter().map(string).collect(),
        Expr::Nested(inner) => strings(inner),
        single => string(single).map(|s| vec![s]),
    }
}
