//! Which way a statement goes: the connection's own business (answered here), a question
//! about the database (the emulated `pg_catalog`), or the engine.

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    DataType as SqlType, Expr, ObjectName, Statement as SqlStatement, visit_expressions,
    visit_relations,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// A statement about the connection rather than the data, answered as Postgres would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SessionStatement {
    /// `BEGIN`, `START TRANSACTION`: reads need no transaction; accepted as a no-op.
    Begin,
    /// `COMMIT`, `END`.
    Commit,
    /// `ROLLBACK`, `ABORT`.
    Rollback,
    /// `SET name = value` of a Postgres setting (not `datafusion.*`/`minerva.*`).
    Set { name: String, value: String },
    /// `SHOW name` of a Postgres setting.
    Show { name: String },
    /// `DEALLOCATE name` / `DEALLOCATE ALL`.
    Deallocate { name: Option<String> },
    /// `DECLARE name CURSOR FOR query`: the query runs, its rows wait to be fetched.
    Declare { name: String, query: String },
    /// `FETCH [FORWARD] [n | ALL] [FROM | IN] name`: the next rows of a cursor.
    Fetch { name: String, count: Option<usize> },
    /// `CLOSE name` / `CLOSE ALL`.
    Close { name: Option<String> },
    /// Accepted and done nothing about (`DISCARD ALL`, `RESET`, `SAVEPOINT`, `UNLISTEN`…):
    /// the command tag to answer with.
    Nothing { tag: String },
}

/// The words of `sql`, lower case (identifiers unquoted), without whitespace and comments.
fn words(sql: &str) -> Vec<String> {
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        return Vec::new();
    };
    tokens
        .into_iter()
        .filter_map(|token| match token {
            Token::Word(word) => Some(word.value.to_lowercase()),
            Token::SingleQuotedString(s) => Some(format!("'{s}")),
            Token::Number(n, _) => Some(n),
            Token::Eq => Some("=".to_string()),
            Token::Comma => Some(",".to_string()),
            Token::Period => Some(".".to_string()),
            Token::Minus => Some("-".to_string()),
            Token::Whitespace(_) | Token::SemiColon => None,
            other => Some(other.to_string()),
        })
        .collect()
}

/// Settings the engine owns: `SET`/`SHOW` of these go to it.
fn engine_setting(name: &str) -> bool {
    name.starts_with("datafusion.") || name.starts_with("minerva.")
}

/// What the engine's `SHOW` answers (catalog commands, its own settings).
const ENGINE_SHOW: &[&str] = &[
    "tables",
    "partitions",
    "functions",
    "columns",
    "create",
    "databases",
    "schemas",
    "views",
    "all",
];

/// The connection's own statement `sql` is, if it is one.
pub(crate) fn session_statement(sql: &str) -> Option<SessionStatement> {
    let words = words(sql);
    let word = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let tag = |t: &str| Some(SessionStatement::Nothing { tag: t.to_string() });
    match word(0) {
        "begin" => Some(SessionStatement::Begin),
        "start" if word(1) == "transaction" => Some(SessionStatement::Begin),
        "commit" | "end" => Some(SessionStatement::Commit),
        "rollback" | "abort" if word(1) == "to" => tag("ROLLBACK"),
        "rollback" | "abort" => Some(SessionStatement::Rollback),
        "savepoint" => tag("SAVEPOINT"),
        "release" => tag("RELEASE"),
        "discard" => tag(&format!("DISCARD {}", word(1).to_uppercase())),
        "reset" => tag("RESET"),
        "unlisten" => tag("UNLISTEN"),
        "listen" => tag("LISTEN"),
        "close" => Some(SessionStatement::Close {
            name: (word(1) != "all").then(|| word(1).to_string()),
        }),
        "declare" => declare(sql, &words),
        "fetch" => fetch(&words[1..]),
        "deallocate" => {
            let name = match word(1) {
                "prepare" => word(2),
                name => name,
            };
            Some(SessionStatement::Deallocate {
                name: (name != "all" && !name.is_empty()).then(|| name.to_string()),
            })
        }
        "set" => set_statement(&words[1..]),
        "show" => {
            let name = match words[1..].concat().as_str() {
                "transactionisolationlevel" => "transaction_isolation".to_string(),
                "timezone" => "timezone".to_string(),
                name => name.to_string(),
            };
            if name.is_empty() || engine_setting(&name) || ENGINE_SHOW.contains(&word(1)) {
                return None;
            }
            Some(SessionStatement::Show { name })
        }
        _ => None,
    }
}

/// `DECLARE name [BINARY] [INSENSITIVE] [[NO] SCROLL] CURSOR [WITH[OUT] HOLD] FOR query`.
fn declare(sql: &str, words: &[String]) -> Option<SessionStatement> {
    let name = words.get(1)?.clone();
    let cursor = words.iter().position(|w| w == "cursor")?;
    words.get(cursor + 1..)?.iter().position(|w| w == "for")?;
    // The query is the text after the first `FOR` that follows `CURSOR` (ASCII lower case
    // keeps byte offsets).
    let lower = sql.to_ascii_lowercase();
    let after_cursor = find_word(&lower, "cursor", 0)? + "cursor".len();
    let at = find_word(&lower, "for", after_cursor)? + "for".len();
    Some(SessionStatement::Declare {
        name,
        query: sql[at..].trim().trim_end_matches(';').to_string(),
    })
}

/// The byte offset of `word` in `text` at or after `from`, standing alone.
fn find_word(text: &str, word: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = from;
    while let Some(found) = text.get(at..)?.find(word) {
        let start = at + found;
        let end = start + word.len();
        let alone = |i: Option<&u8>| !i.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
        if alone(start.checked_sub(1).and_then(|i| bytes.get(i))) && alone(bytes.get(end)) {
            return Some(start);
        }
        at = end;
    }
    None
}

/// `FETCH`'s direction and cursor: `NEXT`, `FORWARD`, `n`, `FORWARD n`, `ALL`, `FORWARD ALL`.
fn fetch(words: &[String]) -> Option<SessionStatement> {
    let mut words: Vec<&str> = words.iter().map(String::as_str).collect();
    let name = words.pop()?.to_string();
    if matches!(words.last(), Some(&"from" | &"in")) {
        words.pop();
    }
    let count = match words.as_slice() {
        [] | ["next"] | ["forward"] => Some(1),
        ["all"] | ["forward", "all"] => None,
        [n] | ["forward", n] => Some(n.parse().ok()?),
        _ => return None,
    };
    Some(SessionStatement::Fetch { name, count })
}

/// `SET [SESSION | LOCAL] name {= | TO} value`, `SET TIME ZONE value`, `SET SESSION
/// CHARACTERISTICS …`, `SET NAMES value`.
fn set_statement(words: &[String]) -> Option<SessionStatement> {
    let mut words = words;
    if matches!(words.first().map(String::as_str), Some("session" | "local")) {
        words = &words[1..];
    }
    let text = |w: &[String]| {
        w.iter()
            .map(|v| v.strip_prefix('\'').unwrap_or(v).to_string())
            .collect::<Vec<_>>()
            .join(" ")
            .replace(" , ", ", ")
    };
    match words {
        [time, zone, value @ ..] if time == "time" && zone == "zone" => {
            Some(SessionStatement::Set {
                name: "timezone".to_string(),
                value: text(value),
            })
        }
        [names, value @ ..] if names == "names" => Some(SessionStatement::Set {
            name: "client_encoding".to_string(),
            value: text(value),
        }),
        [characteristics, ..] if characteristics == "characteristics" => {
            Some(SessionStatement::Nothing {
                tag: "SET".to_string(),
            })
        }
        [transaction, ..] if transaction == "transaction" => Some(SessionStatement::Nothing {
            tag: "SET".to_string(),
        }),
        _ => {
            let at = words.iter().position(|w| w == "=" || w == "to")?;
            let name = words[..at].concat();
            if name.is_empty() || engine_setting(&name) {
                return None;
            }
            Some(SessionStatement::Set {
                name,
                value: text(&words[at + 1..]),
            })
        }
    }
}

/// The command tag of a statement that changes something rather than answering with rows
/// (`INSERT`, `CREATE TABLE`, …), or `None` for one that answers with rows.
pub(crate) fn change_tag(sql: &str) -> Option<String> {
    let words = words(sql);
    let word = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    match word(0) {
        "insert" => Some("INSERT".to_string()),
        "create" | "drop" | "alter" => {
            let mut object = words[1..]
                .iter()
                .map(String::as_str)
                .filter(|w| !matches!(*w, "or" | "replace" | "external" | "if" | "not" | "exists"));
            let object = object.next().unwrap_or("").to_uppercase();
            if word(0) == "create" && words.iter().any(|w| w == "as") && object == "TABLE" {
                return Some("SELECT".to_string());
            }
            Some(format!("{} {object}", word(0).to_uppercase()))
        }
        "msck" | "compact" | "optimize" | "vacuum" | "unload" | "refresh" => {
            Some(word(0).to_uppercase())
        }
        "set" => Some("SET".to_string()),
        _ => None,
    }
}

/// Whether a (Postgres-dialect) statement asks about the database itself: it reads
/// `pg_catalog`, or calls a function only the emulated catalog has, or casts to an
/// object-identifier type (`'t'::regclass`).
pub(crate) fn reads_pg_catalog(
    statement: &SqlStatement,
    catalog_functions: &HashSet<String>,
) -> bool {
    let names = |name: &ObjectName| -> Vec<String> {
        name.0
            .iter()
            .map(|part| {
                part.as_ident()
                    .map_or_else(|| part.to_string(), |i| i.value.to_lowercase())
            })
            .collect()
    };
    let relations = visit_relations(statement, |relation| {
        let parts = names(relation);
        let pg = match parts.as_slice() {
            [.., schema, _] => schema == "pg_catalog",
            [table] => table.starts_with("pg_"),
            [] => false,
        };
        if pg {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if relations.is_break() {
        return true;
    }
    visit_expressions(statement, |expr| {
        let pg = match expr {
            Expr::Function(function) => {
                let parts = names(&function.name);
                match parts.as_slice() {
                    [.., schema, _] if schema == "pg_catalog" => true,
                    [.., name] => catalog_functions.contains(name),
                    [] => false,
                }
            }
            Expr::Cast { data_type, .. } => is_oid_type(data_type),
            _ => false,
        };
        if pg {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

fn is_oid_type(data_type: &SqlType) -> bool {
    match data_type {
        SqlType::Regclass => true,
        SqlType::Custom(name, _) => {
            name.0
                .last()
                .and_then(|part| part.as_ident())
                .is_some_and(|ident| {
                    let name = ident.value.to_lowercase();
                    name == "oid" || name.starts_with("reg")
                })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::parser::Parser;

    fn set(name: &str, value: &str) -> Option<SessionStatement> {
        Some(SessionStatement::Set {
            name: name.into(),
            value: value.into(),
        })
    }

    #[test]
    fn the_connections_own_statements() {
        assert_eq!(session_statement("BEGIN"), Some(SessionStatement::Begin));
        assert_eq!(
            session_statement("start transaction read only"),
            Some(SessionStatement::Begin)
        );
        assert_eq!(session_statement("COMMIT;"), Some(SessionStatement::Commit));
        assert_eq!(
            session_statement("SET extra_float_digits = 3"),
            set("extra_float_digits", "3")
        );
        assert_eq!(
            session_statement("SET DateStyle TO 'ISO'"),
            set("datestyle", "ISO")
        );
        assert_eq!(
            session_statement("set time zone 'UTC'"),
            set("timezone", "UTC")
        );
        assert_eq!(
            session_statement("SET SESSION search_path TO default, public"),
            set("search_path", "default, public")
        );
        assert_eq!(
            session_statement("SET datafusion.execution.batch_size = 10"),
            None
        );
        assert_eq!(
            session_statement("show transaction isolation level"),
            Some(SessionStatement::Show {
                name: "transaction_isolation".into()
            })
        );
        assert_eq!(session_statement("SHOW TABLES"), None);
        assert_eq!(session_statement("SHOW minerva.io_concurrency"), None);
        assert_eq!(
            session_statement("DISCARD ALL"),
            Some(SessionStatement::Nothing {
                tag: "DISCARD ALL".into()
            })
        );
        assert_eq!(session_statement("SELECT 1"), None);
        assert_eq!(
            session_statement(r#"DECLARE "c" NO SCROLL CURSOR WITH HOLD FOR SELECT "for" FROM t;"#),
            Some(SessionStatement::Declare {
                name: "c".into(),
                query: r#"SELECT "for" FROM t"#.into()
            })
        );
        assert_eq!(
            session_statement(r#"FETCH FORWARD 100 FROM "c""#),
            Some(SessionStatement::Fetch {
                name: "c".into(),
                count: Some(100)
            })
        );
        assert_eq!(
            session_statement("fetch all in c"),
            Some(SessionStatement::Fetch {
                name: "c".into(),
                count: None
            })
        );
        assert_eq!(
            session_statement("CLOSE ALL"),
            Some(SessionStatement::Close { name: None })
        );
    }

    #[test]
    fn changes_answer_with_tags() {
        assert_eq!(
            change_tag("INSERT INTO t SELECT 1").as_deref(),
            Some("INSERT")
        );
        assert_eq!(
            change_tag("CREATE EXTERNAL TABLE t (a int) LOCATION 'x'").as_deref(),
            Some("CREATE TABLE")
        );
        assert_eq!(
            change_tag("CREATE TABLE t AS SELECT 1").as_deref(),
            Some("SELECT")
        );
        assert_eq!(change_tag("select * from t").as_deref(), None);
        assert_eq!(
            change_tag("WITH x AS (SELECT 1) SELECT * FROM x").as_deref(),
            None
        );
    }

    #[test]
    fn catalog_questions_are_recognised() {
        let functions: HashSet<String> = ["format_type", "current_schema"]
            .into_iter()
            .map(String::from)
            .collect();
        let reads = |sql: &str| {
            let statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
                .unwrap()
                .remove(0);
            reads_pg_catalog(&statement, &functions)
        };
        assert!(reads("SELECT relname FROM pg_catalog.pg_class"));
        assert!(reads("SELECT * FROM pg_namespace"));
        assert!(reads("SELECT current_schema()"));
        assert!(reads("SELECT 'views'::regclass"));
        assert!(reads("SELECT pg_catalog.array_to_string(ARRAY[1], ',')"));
        assert!(!reads("SELECT count(*) FROM views WHERE dt = '2024-01-01'"));
        assert!(!reads("SELECT format('%s', 1)"));
    }
}
