//! Splitting text into SQL statements at `;`, as psql does: on sqlparser's tokens, so quotes
//! of every kind (`'…'`, `"…"`, `` `…` ``, `$$…$$`), escapes and comments are read exactly as the
//! parser will read them.

use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

/// Text split at the semicolons that end statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statements {
    /// The statements ended by `;`, trimmed, without the `;`; blank ones are dropped.
    pub complete: Vec<String>,
    /// What follows the last `;`: an unfinished statement, or blank.
    pub rest: String,
}

impl Statements {
    /// Whether `rest` holds anything but white space and comments.
    pub fn has_unfinished(&self) -> bool {
        !is_blank(&self.rest)
    }

    /// Every statement, the unfinished one last: what a script means.
    pub fn all(self) -> Vec<String> {
        let rest = self.rest.trim();
        let mut all = self.complete;
        if !is_blank(rest) {
            all.push(rest.to_string());
        }
        all
    }
}

/// The tokens of `text` as far as they can be read: all of them, or those before an open quote
/// or comment (the rest of the text is then an unfinished statement).
fn tokens(text: &str) -> (Vec<TokenWithSpan>, bool) {
    let mut tokens = Vec::new();
    let complete = Tokenizer::new(&GenericDialect {}, text)
        .tokenize_with_location_into_buf(&mut tokens)
        .is_ok();
    (tokens, complete)
}

/// Byte offsets of 1-based (line, column) locations in `text` (columns count characters).
struct Offsets<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Offsets<'a> {
    fn new(text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, line_starts }
    }

    fn of(&self, at: Location) -> usize {
        let Some(&start) = (at.line as usize)
            .checked_sub(1)
            .and_then(|l| self.line_starts.get(l))
        else {
            return self.text.len();
        };
        let column = (at.column as usize).saturating_sub(1);
        self.text[start..]
            .char_indices()
            .nth(column)
            .map_or(self.text.len(), |(i, _)| start + i)
    }
}

/// Splits `text` into statements.
pub fn split_statements(text: &str) -> Statements {
    let (tokens, _) = tokens(text);
    let offsets = Offsets::new(text);
    let mut complete = Vec::new();
    let mut start = 0;
    for token in tokens.iter().filter(|t| t.token == Token::SemiColon) {
        let end = offsets.of(token.span.start);
        let statement = text[start..end].trim();
        if !is_blank(statement) {
            complete.push(statement.to_string());
        }
        start = offsets.of(token.span.end);
    }
    Statements {
        complete,
        rest: text[start..].to_string(),
    }
}

/// Whether `text` holds only white space and comments. An unclosed `/*` comment is blank too:
/// unfinished input, not a statement.
pub fn is_blank(text: &str) -> bool {
    let (tokens, complete) = tokens(text);
    let only_space = tokens
        .iter()
        .all(|t| matches!(t.token, Token::Whitespace(_) | Token::EOF));
    if complete || !only_space {
        return complete && only_space;
    }
    let read = tokens
        .last()
        .map_or(0, |t| Offsets::new(text).of(t.span.end));
    text[read..].trim_start().starts_with("/*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_semicolons_outside_quotes_and_comments() {
        let s = split_statements(
            "select 1; select ';' as \"a;b\" -- c;\n; /* ; */ select 'it''s';  select",
        );
        assert_eq!(
            s.complete,
            [
                "select 1",
                "select ';' as \"a;b\" -- c;",
                "/* ; */ select 'it''s'"
            ]
        );
        assert_eq!(s.rest, "  select");
        assert!(s.has_unfinished());
        assert_eq!(s.all().len(), 4);
    }

    #[test]
    fn blank_statements_and_comments_are_dropped() {
        let s = split_statements(";;  -- nothing\n; /* x */ ;\n-- tail");
        assert!(s.complete.is_empty());
        assert!(!s.has_unfinished());
        assert!(s.all().is_empty());
    }

    #[test]
    fn an_open_quote_keeps_the_statement_unfinished() {
        let s = split_statements("select 'a;\nb");
        assert!(s.complete.is_empty());
        assert!(s.has_unfinished());
        let s = split_statements("select 'a;\nb';");
        assert_eq!(s.complete, ["select 'a;\nb'"]);
    }

    #[test]
    fn backticks_and_dollar_quotes_hide_semicolons() {
        // SHOW CREATE TABLE prints backquoted names; Athena's DDL is pasted with them.
        let s = split_statements("select `a;b` from t; select $$x;y$$; select 'ü;' -- é;\n;");
        assert_eq!(
            s.complete,
            ["select `a;b` from t", "select $$x;y$$", "select 'ü;' -- é;"]
        );
        assert!(!s.has_unfinished());
    }

    #[test]
    fn open_comments_are_blank_and_open_strings_are_not() {
        assert!(is_blank("  /* still typing ; "));
        assert!(is_blank("-- a comment\n/* and */"));
        assert!(!is_blank("select 'open"));
        assert!(!is_blank("/* done */ select"));
    }

    /// A piece of a statement: anything the tokenizer reads as one unit, `;` inside included.
    fn piece() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let inner = "[a-z ;,.]{0,6}";
        prop_oneof![
            "[a-z_][a-z0-9_]{0,5}",
            "[0-9]{1,4}",
            Just("(".to_string()),
            Just(")".to_string()),
            Just("=".to_string()),
            inner.prop_map(|t| format!("'{}'", t.replace(' ', "''"))),
            inner.prop_map(|t| format!("\"{}\"", t.replace(' ', "\"\""))),
            inner.prop_map(|t| format!("`{t}`")),
            inner.prop_map(|t| format!("$${t}$$")),
            inner.prop_map(|t| format!("/*{t}*/")),
            inner.prop_map(|t| format!("--{t}\n")),
        ]
    }

    proptest::proptest! {
        /// Statements made of any tokens split back into themselves: the splitter ends a
        /// statement exactly where the tokenizer sees a `;`.
        #[test]
        fn splits_where_the_tokenizer_sees_semicolons(
            statements in proptest::collection::vec(
                proptest::collection::vec(piece(), 1..6),
                1..5,
            ),
        ) {
            let texts: Vec<String> = statements
                .iter()
                .map(|pieces| format!("select {}", pieces.join(" ")))
                .collect();
            let script = texts.join(";\n");
            let expected: Vec<String> = texts.iter().map(|t| t.trim().to_string()).collect();
            proptest::prop_assert_eq!(split_statements(&script).all(), expected);
        }
    }
}
