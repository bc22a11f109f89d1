//! The write statements Minerva reads itself: `COMPACT … INTO …` and `VACUUM`, and the
//! `WITH [NO] DATA` suffix of Athena's `CREATE TABLE AS`. (`INSERT`, `CREATE TABLE AS` and
//! `UNLOAD` are standard enough for the engine's parser.)
//!
//! `COMPACT live_table [WHERE predicate]` does so for a live table: its speed table into its
//! batch table, with the live table's `[live.set]`.
//!
//! `COMPACT source INTO target [SET column = expression, …] [WHERE predicate]` appends the
//! rows of `source`'s objects that no earlier compaction into `target` consumed, columns
//! matched by name; `SET` computes a target column the source lacks (`SET dt =
//! date(event_time)`), and `WHERE` chooses the source's partitions. Expressions are kept as
//! written, for the engine to plan.

use std::time::Duration;

use minerva_catalog::DEFAULT_DATABASE;
use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use crate::error::{DdlError, Found};

/// A write statement that is not standard SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Maintenance {
    /// `COMPACT source INTO target [SET c = e, …] [WHERE p]`
    Compact {
        /// `(database, table)` read from.
        source: (String, String),
        /// `(database, table)` appended to.
        target: (String, String),
        /// Target columns computed from the source's: `(column, expression as written)`.
        set: Vec<(String, String)>,
        /// The predicate on the source, as written.
        filter: Option<String>,
    },
    /// `COMPACT live [WHERE p]`: compact a live table's speed side into its batch side, with
    /// the live table's `SET`.
    CompactLive {
        /// `(database, table)` of the live table.
        table: (String, String),
        /// The predicate on the speed table, as written.
        filter: Option<String>,
    },
    /// `VACUUM [TABLE] t [RETAIN n HOURS]`: delete files no commit names.
    Vacuum {
        /// `(database, table)`.
        table: (String, String),
        /// How long a replaced file is kept for queries still reading it.
        retain: Option<Duration>,
    },
}

/// Recognizes `COMPACT` and `VACUUM`. `None` leaves the statement to others.
pub fn parse(sql: &str) -> Option<Result<Maintenance, DdlError>> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let mut p = Parser::new(sql, tokens);
    if p.keyword("compact") {
        Some(p.compact())
    } else if p.keyword("vacuum") {
        Some(p.vacuum())
    } else {
        None
    }
}

/// A `CREATE TABLE … AS SELECT … WITH [NO] DATA` statement without its suffix, and whether it
/// said `NO DATA`. `None` when the statement does not end so.
pub fn strip_with_data(sql: &str) -> Option<(String, bool)> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let p = Parser::new(sql, tokens);
    if !p.starts_with(&["create"]) {
        return None;
    }
    let n = p.tokens.len();
    let word = |i: usize, k: &str| {
        matches!(&p.tokens[i].token, Token::Word(w)
            if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k))
    };
    let (start, no_data) =
        if n >= 3 && word(n - 3, "with") && word(n - 2, "no") && word(n - 1, "data") {
            (n - 3, true)
        } else if n >= 2 && word(n - 2, "with") && word(n - 1, "data") {
            (n - 2, false)
        } else {
            return None;
        };
    let offset = p.offset(p.tokens[start].span.start);
    Some((sql[..offset].trim_end().to_string(), no_data))
}

pub(crate) struct Parser<'a> {
    pub(crate) sql: &'a str,
    /// Tokens without whitespace and comments, and without a final `;`.
    pub(crate) tokens: Vec<TokenWithSpan>,
    pub(crate) at: usize,
    /// Byte offset of each line's start.
    lines: Vec<usize>,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(sql: &'a str, tokens: Vec<TokenWithSpan>) -> Self {
        let mut tokens: Vec<TokenWithSpan> = tokens
            .into_iter()
            .filter(|t| !matches!(t.token, Token::Whitespace(_)))
            .collect();
        while tokens.last().is_some_and(|t| t.token == Token::SemiColon) {
            tokens.pop();
        }
        let lines = std::iter::once(0)
            .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            sql,
            tokens,
            at: 0,
            lines,
        }
    }

    /// The byte offset of a 1-based line and (character) column.
    pub(crate) fn offset(&self, at: Location) -> usize {
        let line_start = self
            .lines
            .get((at.line as usize).saturating_sub(1))
            .copied()
            .unwrap_or(self.sql.len());
        self.sql[line_start..]
            .char_indices()
            .nth((at.column as usize).saturating_sub(1))
            .map_or(self.sql.len(), |(i, _)| line_start + i)
    }

    pub(crate) fn starts_with(&self, words: &[&str]) -> bool {
        words.iter().enumerate().all(|(i, k)| {
            matches!(self.tokens.get(i).map(|t| &t.token), Some(Token::Word(w))
                if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k))
        })
    }

    pub(crate) fn keyword(&mut self, keyword: &str) -> bool {
        let found = matches!(self.tokens.get(self.at).map(|t| &t.token), Some(Token::Word(w))
            if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword));
        if found {
            self.at += 1;
        }
        found
    }

    pub(crate) fn expected(&self, expected: &str) -> DdlError {
        DdlError::Expected {
            expected: expected.to_string(),
            found: match self.tokens.get(self.at) {
                Some(t) => Found::Token(t.token.to_string()),
                None => Found::End,
            },
        }
    }

    pub(crate) fn identifier(&mut self) -> Result<String, DdlError> {
        let name = self
            .tokens
            .get(self.at)
            .and_then(|t| crate::ddl::name_of(&t.token))
            .ok_or_else(|| self.expected("a name"))?;
        self.at += 1;
        Ok(name)
    }

    pub(crate) fn table_name(&mut self) -> Result<(String, String), DdlError> {
        let first = self.identifier()?;
        if self.tokens.get(self.at).map(|t| &t.token) == Some(&Token::Period) {
            self.at += 1;
            Ok((first, self.identifier()?))
        } else {
            Ok((DEFAULT_DATABASE.to_string(), first))
        }
    }

    /// The text from the current token up to (not including) the first token at bracket depth
    /// 0 for which `stop` holds, or to the end.
    pub(crate) fn text_until(&mut self, stop: impl Fn(&Token) -> bool) -> Result<String, DdlError> {
        let start = self.at;
        let mut depth = 0usize;
        while let Some(t) = self.tokens.get(self.at) {
            match &t.token {
                Token::LParen | Token::LBracket => depth += 1,
                Token::RParen | Token::RBracket => depth = depth.saturating_sub(1),
                token if depth == 0 && stop(token) => break,
                _ => {}
            }
            self.at += 1;
        }
        if self.at == start {
            return Err(self.expected("an expression"));
        }
        let from = self.offset(self.tokens[start].span.start);
        let to = self.offset(self.tokens[self.at - 1].span.end);
        Ok(self.sql[from..to].to_string())
    }

    fn compact(&mut self) -> Result<Maintenance, DdlError> {
        self.keyword("table");
        let source = self.table_name()?;
        if !self.keyword("into") {
            let filter = if self.keyword("where") {
                Some(self.text_until(|_| false)?)
            } else {
                None
            };
            if self.at < self.tokens.len() {
                return Err(self.expected("INTO, WHERE or the end"));
            }
            return Ok(Maintenance::CompactLive {
                table: source,
                filter,
            });
        }
        let target = self.table_name()?;
        let is_where = |t: &Token| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("where"));
        let mut set = Vec::new();
        if self.keyword("set") {
            loop {
                let column = self.identifier()?;
                if self.tokens.get(self.at).map(|t| &t.token) != Some(&Token::Eq) {
                    return Err(self.expected("'='"));
                }
                self.at += 1;
                let expression = self.text_until(|t| t == &Token::Comma || is_where(t))?;
                set.push((column, expression));
                if self.tokens.get(self.at).map(|t| &t.token) == Some(&Token::Comma) {
                    self.at += 1;
                } else {
                    break;
                }
            }
        }
        let filter = if self.keyword("where") {
            Some(self.text_until(|_| false)?)
        } else {
            None
        };
        self.end()?;
        Ok(Maintenance::Compact {
            source,
            target,
            set,
            filter,
        })
    }

    fn vacuum(&mut self) -> Result<Maintenance, DdlError> {
        self.keyword("table");
        let table = self.table_name()?;
        let retain = if self.keyword("retain") {
            let hours = match self.tokens.get(self.at).map(|t| &t.token) {
                Some(Token::Number(n, _)) => n
                    .parse::<f64>()
                    .ok()
                    .filter(|h| h.is_finite() && *h >= 0.0)
                    .ok_or_else(|| self.expected("a number of hours"))?,
                _ => return Err(self.expected("a number of hours")),
            };
            self.at += 1;
            if !self.keyword("hours") && !self.keyword("hour") {
                return Err(self.expected("HOURS"));
            }
            Some(Duration::from_secs_f64(hours * 3600.0))
        } else {
            None
        };
        self.end()?;
        Ok(Maintenance::Vacuum { table, retain })
    }

    pub(crate) fn end(&self) -> Result<(), DdlError> {
        match self.tokens.get(self.at) {
            None => Ok(()),
            Some(t) => Err(DdlError::Unexpected {
                token: t.token.to_string(),
                place: "after the statement",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(db: &str, t: &str) -> (String, String) {
        (db.to_string(), t.to_string())
    }

    #[test]
    fn compact_keeps_its_expressions_as_written() {
        let parsed = parse(
            "COMPACT views_raw INTO lake.\"Views\"\n  SET dt = date(event_time), n = coalesce(a, b)\n  WHERE datehour BETWEEN '2024/02/05/00' AND '2024/02/05/23' ;",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            parsed,
            Maintenance::Compact {
                source: names("default", "views_raw"),
                target: names("lake", "Views"),
                set: vec![
                    ("dt".into(), "date(event_time)".into()),
                    ("n".into(), "coalesce(a, b)".into())
                ],
                filter: Some("datehour BETWEEN '2024/02/05/00' AND '2024/02/05/23'".into()),
            }
        );
        assert_eq!(
            parse("COMPACT views_live WHERE datehour < '2024/02/05/12'")
                .unwrap()
                .unwrap(),
            Maintenance::CompactLive {
                table: names("default", "views_live"),
                filter: Some("datehour < '2024/02/05/12'".into()),
            }
        );
        let bare = parse("compact table a into b").unwrap().unwrap();
        assert!(matches!(bare, Maintenance::Compact { set, filter: None, .. } if set.is_empty()));
    }

    #[test]
    fn malformed_compaction_and_vacuum_say_what_was_expected() {
        for (sql, message) in [
            (
                "COMPACT a b",
                "expected INTO, WHERE or the end but found 'b'",
            ),
            (
                "COMPACT a INTO b SET dt date(x)",
                "expected '=' but found 'date'",
            ),
            (
                "COMPACT a INTO b SET dt = ",
                "expected an expression but the statement ended",
            ),
            (
                "COMPACT a INTO b WHERE",
                "expected an expression but the statement ended",
            ),
            (
                "VACUUM t RETAIN x HOURS",
                "expected a number of hours but found 'x'",
            ),
            ("VACUUM t RETAIN 2 DAYS", "expected HOURS but found 'DAYS'"),
            ("VACUUM t now", "unexpected 'now' after the statement"),
        ] {
            let error = parse(sql).unwrap().unwrap_err();
            assert_eq!(error.to_string(), message, "{sql}");
        }
        assert_eq!(parse("SELECT 1"), None);
    }

    #[test]
    fn vacuum_retains_hours() {
        assert_eq!(
            parse("VACUUM TABLE db.t RETAIN 0.5 HOURS")
                .unwrap()
                .unwrap(),
            Maintenance::Vacuum {
                table: names("db", "t"),
                retain: Some(Duration::from_secs(1800))
            }
        );
    }

    #[test]
    fn with_no_data_is_cut_from_create_table_as() {
        assert_eq!(
            strip_with_data(
                "CREATE TABLE t WITH (format = 'JSON') AS SELECT 'é' AS a\nWITH NO DATA;"
            ),
            Some((
                "CREATE TABLE t WITH (format = 'JSON') AS SELECT 'é' AS a".to_string(),
                true
            ))
        );
        assert_eq!(
            strip_with_data("create table t as select 1 with data"),
            Some(("create table t as select 1".to_string(), false))
        );
        assert_eq!(strip_with_data("CREATE TABLE t AS SELECT 1"), None);
        assert_eq!(strip_with_data("SELECT 'WITH NO DATA'"), None);
    }
}
