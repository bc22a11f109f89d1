//! The view statements, as Athena (Trino) writes them:
//!
//! - `CREATE [OR REPLACE] VIEW [db.]v [SECURITY DEFINER|INVOKER] AS query`, its query kept
//!   exactly as written (comments and layout too), for the catalog's `<db>/<v>.sql`;
//! - `DROP VIEW [IF EXISTS] [db.]v`;
//! - `SHOW CREATE VIEW [db.]v`;
//! - `SHOW VIEWS [IN|FROM db] [LIKE 'pattern']` (Athena's pattern: `*` any text, `|` or).

use minerva_catalog::DEFAULT_DATABASE;
use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::DdlError;
use crate::write::Parser;

/// A view statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewStatement {
    /// `CREATE [OR REPLACE] VIEW`
    Create {
        /// `(database, view)`.
        name: (String, String),
        /// `OR REPLACE`
        or_replace: bool,
        /// The query, as written.
        query: String,
    },
    /// `DROP VIEW [IF EXISTS]`
    Drop {
        /// `(database, view)`.
        name: (String, String),
        /// `IF EXISTS`
        if_exists: bool,
    },
    /// `SHOW CREATE VIEW`
    ShowCreate {
        /// `(database, view)`.
        name: (String, String),
    },
    /// `SHOW VIEWS`
    Show {
        /// `IN db`; the default database otherwise.
        database: String,
        /// `LIKE 'pattern'`
        like: Option<String>,
    },
}

/// Recognizes a view statement. `None` leaves the statement to others.
pub fn parse(sql: &str) -> Option<Result<ViewStatement, DdlError>> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let mut p = Parser::new(sql, tokens);
    if p.starts_with(&["create", "view"]) || p.starts_with(&["create", "or", "replace", "view"]) {
        Some(create(&mut p))
    } else if p.starts_with(&["drop", "view"]) {
        p.at = 2;
        Some(drop(&mut p))
    } else if p.starts_with(&["show", "create", "view"]) {
        p.at = 3;
        Some(p.table_name().and_then(|name| {
            p.end()?;
            Ok(ViewStatement::ShowCreate { name })
        }))
    } else if p.starts_with(&["show", "views"]) {
        p.at = 2;
        Some(show(&mut p))
    } else {
        None
    }
}

fn create(p: &mut Parser<'_>) -> Result<ViewStatement, DdlError> {
    p.keyword("create");
    let or_replace = p.keyword("or") && p.keyword("replace");
    p.keyword("view");
    let name = p.table_name()?;
    if p.keyword("security") && !p.keyword("definer") && !p.keyword("invoker") {
        return Err(p.expected("DEFINER or INVOKER"));
    }
    if !p.keyword("as") {
        return Err(p.expected("AS and the view's query"));
    }
    // From just after AS (comments before the query included) to its last token.
    let from = p.offset(p.tokens[p.at - 1].span.end);
    p.text_until(|_| false)
        .map_err(|_| p.expected("the view's query"))?;
    let to = p.offset(p.tokens[p.at - 1].span.end);
    let query = p.sql[from..to].trim().to_string();
    Ok(ViewStatement::Create {
        name,
        or_replace,
        query,
    })
}

fn drop(p: &mut Parser<'_>) -> Result<ViewStatement, DdlError> {
    let if_exists = if p.keyword("if") {
        if !p.keyword("exists") {
            return Err(p.expected("EXISTS"));
        }
        true
    } else {
        false
    };
    let name = p.table_name()?;
    p.end()?;
    Ok(ViewStatement::Drop { name, if_exists })
}

fn show(p: &mut Parser<'_>) -> Result<ViewStatement, DdlError> {
    let database = if p.keyword("in") || p.keyword("from") {
        p.identifier()?
    } else {
        DEFAULT_DATABASE.to_string()
    };
    let like = if p.keyword("like") {
        match p.tokens.get(p.at).map(|t| &t.token) {
            Some(Token::SingleQuotedString(s)) => {
                let s = s.clone();
                p.at += 1;
                Some(s)
            }
            _ => return Err(p.expected("a quoted pattern")),
        }
    } else {
        None
    };
    p.end()?;
    Ok(ViewStatement::Show { database, like })
}

/// Whether `name` matches Athena's `LIKE` pattern of `SHOW TABLES` and `SHOW VIEWS`: `*` is any
/// text, `|` separates alternatives, case does not matter.
pub fn matches_athena_pattern(pattern: &str, name: &str) -> bool {
    fn glob(pattern: &[char], name: &[char]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some(('*', rest)) => (0..=name.len()).any(|i| glob(rest, &name[i..])),
            Some((c, rest)) => name
                .split_first()
                .is_some_and(|(n, tail)| n.eq_ignore_ascii_case(c) && glob(rest, tail)),
        }
    }
    let name: Vec<char> = name.chars().collect();
    pattern.split('|').any(|alternative| {
        let alternative: Vec<char> = alternative.trim().chars().collect();
        glob(&alternative, &name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(db: &str, v: &str) -> (String, String) {
        (db.to_string(), v.to_string())
    }

    #[test]
    fn create_view_keeps_its_query_as_written() {
        let sql = "CREATE OR REPLACE VIEW web.daily AS\n-- views per day\nSELECT dt, count(*) AS n\n  FROM views GROUP BY dt; ";
        assert_eq!(
            parse(sql).unwrap().unwrap(),
            ViewStatement::Create {
                name: name("web", "daily"),
                or_replace: true,
                query: "-- views per day\nSELECT dt, count(*) AS n\n  FROM views GROUP BY dt"
                    .to_string()
            }
            .clone()
        );
        let plain = parse("create view v security invoker as select 1")
            .unwrap()
            .unwrap();
        assert_eq!(
            plain,
            ViewStatement::Create {
                name: name("default", "v"),
                or_replace: false,
                query: "select 1".to_string()
            }
        );
    }

    #[test]
    fn the_other_view_statements() {
        assert_eq!(
            parse("DROP VIEW IF EXISTS a.b").unwrap().unwrap(),
            ViewStatement::Drop {
                name: name("a", "b"),
                if_exists: true
            }
        );
        assert_eq!(
            parse("show create view v;").unwrap().unwrap(),
            ViewStatement::ShowCreate {
                name: name("default", "v")
            }
        );
        assert_eq!(
            parse("SHOW VIEWS IN web LIKE 'daily*|weekly'")
                .unwrap()
                .unwrap(),
            ViewStatement::Show {
                database: "web".to_string(),
                like: Some("daily*|weekly".to_string())
            }
        );
        assert!(parse("SELECT 1").is_none());
        assert!(parse("CREATE TABLE t AS SELECT 1").is_none());
    }

    #[test]
    fn malformed_view_statements_say_what_was_expected() {
        for (sql, expected) in [
            ("CREATE VIEW v SELECT 1", "AS and the view's query"),
            ("CREATE VIEW v AS", "the view's query"),
            (
                "CREATE VIEW v (a, b) AS SELECT 1, 2",
                "AS and the view's query",
            ),
            ("DROP VIEW IF v", "EXISTS"),
            ("DROP VIEW v w", "after the statement"),
            ("SHOW VIEWS LIKE daily", "a quoted pattern"),
        ] {
            let error = parse(sql).unwrap().unwrap_err().to_string();
            assert!(error.contains(expected), "{sql}: {error}");
        }
    }

    #[test]
    fn athena_patterns() {
        assert!(matches_athena_pattern("daily*", "daily_views"));
        assert!(matches_athena_pattern("*VIEWS", "daily_views"));
        assert!(matches_athena_pattern("a|daily*", "daily"));
        assert!(!matches_athena_pattern("daily", "daily_views"));
        assert!(matches_athena_pattern("*", ""));
    }

    proptest::proptest! {
        #[test]
        fn any_text_after_as_is_kept_exactly(query in "[a-z0-9 ,()*'\\n-]{1,40}") {
            let sql = format!("CREATE VIEW v AS {query}");
            if let Some(Ok(ViewStatement::Create { query: kept, .. })) = parse(&sql) {
                proptest::prop_assert!(query.contains(kept.as_str()));
            }
        }
    }
}
