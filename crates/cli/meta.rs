//! The shell's backslash commands, parsed: what each line asks for, before anything runs.

use crate::args::OutputFormat;
use crate::chart::Kind;
use crate::settings::Expanded;

/// What a backslash line asks for.
#[derive(Debug, PartialEq)]
pub enum Meta {
    Quit,
    Help,
    /// Run this SQL and print its result.
    Sql(String),
    /// `\d TABLE`: its columns, then where and how it is stored.
    Describe(String),
    /// `\dp TABLE`: partitions with their files and bytes.
    Partitions(String),
    /// `\set` alone: every setting and where it came from.
    ShowSettings,
    Set {
        name: String,
        value: String,
    },
    Unset(String),
    /// `\x` with no argument toggles on and off.
    Expanded(Option<Expanded>),
    /// `\timing` with no argument toggles.
    Timing(Option<bool>),
    Format(OutputFormat),
    /// `\o FILE`, or `\o` back to the terminal.
    Output(Option<String>),
    Include(String),
    Edit,
    Shell(String),
    Chart(Kind),
    ClearCache,
    Copy {
        query: String,
        path: String,
    },
    Invalid(String),
    Unknown,
}

/// psql's `*` and `?` wildcards as `SHOW TABLES` and `SHOW FUNCTIONS` patterns (`*` any text,
/// `_` one character), quoted for SQL.
fn like(pattern: &str) -> String {
    pattern.replace('\'', "''").replace('?', "_")
}

/// The same for `SHOW FUNCTIONS LIKE`, which is SQL's `LIKE` only.
fn sql_like(pattern: &str) -> String {
    like(pattern).replace('*', "%")
}

/// Parses one backslash line.
pub fn parse(line: &str) -> Meta {
    if let Some(rest) = line.strip_prefix("\\copy") {
        return copy_command(rest.trim());
    }
    if let Some(command) = line.strip_prefix("\\!") {
        return Meta::Shell(command.trim().to_string());
    }
    let mut words = line.split_whitespace();
    let command = words.next().unwrap_or_default();
    let argument: Vec<&str> = words.collect();
    let rest = argument.join(" ");
    match (command, argument.as_slice()) {
        ("\\q", []) => Meta::Quit,
        ("\\?" | "\\h" | "\\help", []) => Meta::Help,
        ("\\l", []) => Meta::Sql("SHOW DATABASES".into()),
        ("\\dt" | "\\d", []) => Meta::Sql("SHOW TABLES".into()),
        ("\\dt", [pattern]) => match pattern.split_once('.') {
            Some((db, "*" | "")) => Meta::Sql(format!("SHOW TABLES IN {db}")),
            Some((db, table)) => Meta::Sql(format!("SHOW TABLES IN {db} LIKE '{}'", like(table))),
            None => Meta::Sql(format!("SHOW TABLES LIKE '{}'", like(pattern))),
        },
        ("\\dv", []) => Meta::Sql("SHOW VIEWS".into()),
        ("\\dv", [database]) => Meta::Sql(format!("SHOW VIEWS IN {database}")),
        ("\\df", []) => Meta::Sql("SHOW FUNCTIONS".into()),
        ("\\df", [pattern]) => Meta::Sql(format!("SHOW FUNCTIONS LIKE '{}'", sql_like(pattern))),
        ("\\d", [table]) => Meta::Describe((*table).to_string()),
        ("\\dp", [table]) => Meta::Partitions((*table).to_string()),
        ("\\dp", []) => Meta::Invalid("\\dp: name a table: \\dp views".into()),
        ("\\set", []) => Meta::ShowSettings,
        ("\\set", [name, value @ ..]) if !value.is_empty() => Meta::Set {
            name: (*name).to_string(),
            value: value.join(" "),
        },
        ("\\set", [name]) => Meta::Invalid(format!(
            "\\set {name}: give a value (\\set {name} VALUE), or \\unset {name} for its default"
        )),
        ("\\unset", [name]) => Meta::Unset((*name).to_string()),
        ("\\x", []) => Meta::Expanded(None),
        ("\\x", [value]) => match Expanded::parse(value) {
            Some(mode) => Meta::Expanded(Some(mode)),
            None => Meta::Invalid(format!("\\x: '{value}' is not on, off or auto")),
        },
        ("\\timing", []) => Meta::Timing(None),
        ("\\timing", [value]) => match value.to_ascii_lowercase().as_str() {
            "on" => Meta::Timing(Some(true)),
            "off" => Meta::Timing(Some(false)),
            _ => Meta::Invalid(format!("\\timing: '{value}' is not on or off")),
        },
        ("\\format", [name]) => {
            use clap::ValueEnum;
            match OutputFormat::from_str(name, true) {
                Ok(format) => Meta::Format(format),
                Err(_) => Meta::Invalid(format!(
                    "\\format: '{name}' is not a format: {}",
                    OutputFormat::value_variants()
                        .iter()
                        .map(|f| f.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        ("\\o", []) => Meta::Output(None),
        ("\\o", _) => Meta::Output(Some(unquote(&rest))),
        ("\\i", []) => Meta::Invalid("\\i: name a file: \\i queries.sql".into()),
        ("\\i", _) => Meta::Include(unquote(&rest)),
        ("\\e", []) => Meta::Edit,
        ("\\chart", []) => Meta::Chart(Kind::Auto),
        ("\\chart", [kind]) => match Kind::parse(kind) {
            Some(kind) => Meta::Chart(kind),
            None => Meta::Invalid(format!("\\chart: '{kind}' is not bar or line")),
        },
        ("\\cache", ["clear"]) => Meta::ClearCache,
        _ => Meta::Unknown,
    }
}

fn unquote(text: &str) -> String {
    let text = text.trim();
    text.strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .unwrap_or(text)
        .to_string()
}

/// `(QUERY) TO 'FILE'` or `TABLE TO 'FILE'`, as psql's `\copy … TO` spells it.
fn copy_command(rest: &str) -> Meta {
    let usage = || {
        Meta::Invalid(
            "\\copy: write \\copy (SELECT …) TO 'file.parquet' or \\copy table TO 'file.csv'"
                .to_string(),
        )
    };
    let (query, after) = if rest.starts_with('(') {
        // The parenthesised query ends at its matching ')', outside quotes.
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut end = None;
        for (i, c) in rest.char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '(') => depth += 1,
                (None, ')') => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            return usage();
        };
        (rest[1..end].trim().to_string(), &rest[end + 1..])
    } else {
        let Some((table, after)) = rest.split_once(char::is_whitespace) else {
            return usage();
        };
        (format!("SELECT * FROM {table}"), after)
    };
    let after = after.trim();
    let Some(target) = after
        .strip_prefix("TO ")
        .or_else(|| after.strip_prefix("to "))
    else {
        return usage();
    };
    let path = target.trim().trim_end_matches(';').trim();
    let path = path
        .strip_prefix('\'')
        .and_then(|p| p.strip_suffix('\''))
        .unwrap_or(path);
    if path.is_empty() || query.is_empty() {
        return usage();
    }
    Meta::Copy {
        query,
        path: path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(line: &str) -> String {
        match parse(line) {
            Meta::Sql(sql) => sql,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn catalog_commands_are_sql() {
        assert_eq!(sql("\\dt"), "SHOW TABLES");
        assert_eq!(sql("\\dt view*"), "SHOW TABLES LIKE 'view*'");
        assert_eq!(sql("\\dt web.*"), "SHOW TABLES IN web");
        assert_eq!(sql("\\dt web.h?ts"), "SHOW TABLES IN web LIKE 'h_ts'");
        assert_eq!(sql("\\l"), "SHOW DATABASES");
        assert_eq!(sql("\\dv web"), "SHOW VIEWS IN web");
        assert_eq!(sql("\\df date*"), "SHOW FUNCTIONS LIKE 'date%'");
        assert_eq!(parse("\\d  web.hits"), Meta::Describe("web.hits".into()));
        assert_eq!(parse("\\dp views"), Meta::Partitions("views".into()));
    }

    #[test]
    fn settings_and_display_commands() {
        assert_eq!(parse("\\q"), Meta::Quit);
        assert_eq!(parse("\\q now"), Meta::Unknown);
        assert_eq!(parse("\\nope"), Meta::Unknown);
        assert_eq!(parse("\\x"), Meta::Expanded(None));
        assert_eq!(parse("\\x auto"), Meta::Expanded(Some(Expanded::Auto)));
        assert!(matches!(parse("\\x sideways"), Meta::Invalid(_)));
        assert_eq!(parse("\\timing on"), Meta::Timing(Some(true)));
        assert_eq!(parse("\\format JSON"), Meta::Format(OutputFormat::Json));
        assert!(matches!(parse("\\format xml"), Meta::Invalid(m) if m.contains("markdown")));
        assert_eq!(
            parse("\\set max_scan 10 GB"),
            Meta::Set {
                name: "max_scan".into(),
                value: "10 GB".into()
            }
        );
        assert_eq!(parse("\\unset null"), Meta::Unset("null".into()));
        assert_eq!(
            parse("\\o 'out file.csv'"),
            Meta::Output(Some("out file.csv".into()))
        );
        assert_eq!(parse("\\o"), Meta::Output(None));
        assert_eq!(parse("\\i q.sql"), Meta::Include("q.sql".into()));
        assert_eq!(parse("\\! echo hi"), Meta::Shell("echo hi".into()));
        assert_eq!(parse("\\chart line"), Meta::Chart(Kind::Line));
        assert_eq!(parse("\\cache clear"), Meta::ClearCache);
    }

    #[test]
    fn copy_takes_a_query_or_a_table() {
        assert_eq!(
            parse("\\copy (SELECT ')' AS a, (1) FROM t) TO 'out.parquet'"),
            Meta::Copy {
                query: "SELECT ')' AS a, (1) FROM t".into(),
                path: "out.parquet".into()
            }
        );
        assert_eq!(
            parse("\\copy views to /tmp/v.csv;"),
            Meta::Copy {
                query: "SELECT * FROM views".into(),
                path: "/tmp/v.csv".into()
            }
        );
        assert!(matches!(parse("\\copy (SELECT 1 TO 'x'"), Meta::Invalid(_)));
        assert!(matches!(parse("\\copy views"), Meta::Invalid(_)));
    }
}
