//! Commands answered from the catalog or the session rather than planned as SQL: `SHOW TABLES`,
//! `DESCRIBE t` (and Trino's `SHOW COLUMNS FROM t`), `SHOW PARTITIONS t`, `SHOW FUNCTIONS`.

use minerva_catalog::DEFAULT_DATABASE;
use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// A catalog command and the table it names, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `SHOW TABLES [FROM|IN database] [[LIKE] 'pattern']`
    ShowTables {
        database: Option<String>,
        like: Option<String>,
    },
    /// `DESCRIBE [TABLE] t`, `DESC t`
    Describe { database: String, table: String },
    /// `SHOW PARTITIONS t`
    ShowPartitions { database: String, table: String },
    /// `SHOW FUNCTIONS [LIKE 'pattern']`
    ShowFunctions { like: Option<String> },
}

/// Recognizes a catalog command; anything else is left to DataFusion.
pub fn parse(sql: &str) -> Option<Command> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql).tokenize().ok()?;
    let mut words: Vec<Token> = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    if words.last() == Some(&Token::SemiColon) {
        words.pop();
    }
    let keyword = |i: usize, expected: &str| match words.get(i) {
        Some(Token::Word(w)) => w.quote_style.is_none() && w.value.eq_ignore_ascii_case(expected),
        _ => false,
    };
    if keyword(0, "show") && keyword(1, "tables") {
        let (database, rest) = if keyword(2, "from") || keyword(2, "in") {
            (Some(identifier(words.get(3)?)?), &words[4..])
        } else {
            (None, &words[2..])
        };
        return match rest {
            [] => Some(Command::ShowTables {
                database,
                like: None,
            }),
            // Trino's `LIKE 'pattern'`, or Athena's bare `'pattern'`.
            [Token::Word(w), Token::SingleQuotedString(pattern)]
                if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("like") =>
            {
                Some(Command::ShowTables {
                    database,
                    like: Some(pattern.clone()),
                })
            }
            [Token::SingleQuotedString(pattern)] => Some(Command::ShowTables {
                database,
                like: Some(pattern.clone()),
            }),
            _ => None,
        };
    }
    if keyword(0, "show") && keyword(1, "partitions") {
        let (database, table) = table_name(&words[2..])?;
        return Some(Command::ShowPartitions { database, table });
    }
    if keyword(0, "show") && keyword(1, "functions") {
        return match &words[2..] {
            [] => Some(Command::ShowFunctions { like: None }),
            [Token::Word(w), Token::SingleQuotedString(pattern)]
                if w.value.eq_ignore_ascii_case("like") =>
            {
                Some(Command::ShowFunctions {
                    like: Some(pattern.clone()),
                })
            }
            _ => None,
        };
    }
    // Trino's `SHOW COLUMNS FROM t` is `DESCRIBE t`.
    if keyword(0, "show") && keyword(1, "columns") && (keyword(2, "from") || keyword(2, "in")) {
        let (database, table) = table_name(&words[3..])?;
        return Some(Command::Describe { database, table });
    }
    if keyword(0, "describe") || keyword(0, "desc") {
        let skip = if keyword(1, "table") { 2 } else { 1 };
        let (database, table) = table_name(&words[skip..])?;
        return Some(Command::Describe { database, table });
    }
    None
}

/// An identifier as SQL resolves it: unquoted names are lower-cased.
fn identifier(token: &Token) -> Option<String> {
    match token {
        Token::Word(w) if w.quote_style.is_some() => Some(w.value.clone()),
        Token::Word(w) => Some(w.value.to_lowercase()),
        _ => None,
    }
}

/// `table` or `database.table`, and nothing after it.
fn table_name(tokens: &[Token]) -> Option<(String, String)> {
    match tokens {
        [table] => Some((DEFAULT_DATABASE.to_string(), identifier(table)?)),
        [database, Token::Period, table] => Some((identifier(database)?, identifier(table)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(db: &str, t: &str) -> Option<Command> {
        Some(Command::Describe {
            database: db.into(),
            table: t.into(),
        })
    }

    #[test]
    fn recognizes_commands() {
        assert_eq!(
            parse("show tables"),
            Some(Command::ShowTables {
                database: None,
                like: None
            })
        );
        assert_eq!(
            parse("SHOW TABLES IN Web;"),
            Some(Command::ShowTables {
                database: Some("web".into()),
                like: None
            })
        );
        assert_eq!(
            parse("show tables from web like 'hit%'"),
            Some(Command::ShowTables {
                database: Some("web".into()),
                like: Some("hit%".into())
            })
        );
        assert_eq!(
            parse("show tables in web 'hit*|x'"),
            Some(Command::ShowTables {
                database: Some("web".into()),
                like: Some("hit*|x".into())
            })
        );
        assert_eq!(
            parse("SHOW TABLES LIKE '%s'"),
            Some(Command::ShowTables {
                database: None,
                like: Some("%s".into())
            })
        );
        assert_eq!(parse("describe views"), describe("default", "views"));
        assert_eq!(parse("DESC TABLE web.\"Hits\" ;"), describe("web", "Hits"));
        assert_eq!(parse("SHOW COLUMNS FROM web.hits"), describe("web", "hits"));
        assert_eq!(
            parse("show functions like 'json%'"),
            Some(Command::ShowFunctions {
                like: Some("json%".into())
            })
        );
        assert_eq!(
            parse("show partitions views"),
            Some(Command::ShowPartitions {
                database: "default".into(),
                table: "views".into()
            })
        );
    }

    #[test]
    fn leaves_everything_else_to_sql() {
        for sql in [
            "select 1",
            "show columns views",
            "show functions like",
            "describe select 1",
            "show tables like x",
            "show tables in",
            "desc",
        ] {
            assert_eq!(parse(sql), None, "{sql}");
        }
    }
}
