//! Splitting text into SQL statements at `;`, as psql does: quotes and comments respected.

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

#[derive(Clone, Copy, PartialEq)]
enum State {
    Code,
    SingleQuote,
    DoubleQuote,
    LineComment,
    BlockComment,
}

/// Splits `text` into statements.
pub fn split_statements(text: &str) -> Statements {
    let mut complete = Vec::new();
    let mut start = 0;
    let mut state = State::Code;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        state = match (state, c) {
            (State::Code, '\'') => State::SingleQuote,
            (State::Code, '"') => State::DoubleQuote,
            (State::Code, '-') if next == Some('-') => {
                chars.next();
                State::LineComment
            }
            (State::Code, '/') if next == Some('*') => {
                chars.next();
                State::BlockComment
            }
            (State::Code, ';') => {
                let statement = text[start..i].trim();
                if !is_blank(statement) {
                    complete.push(statement.to_string());
                }
                start = i + 1;
                State::Code
            }
            // A doubled quote inside a quoted string or identifier is an escaped quote: the
            // first closes and the second reopens, which leaves the state as it was.
            (State::SingleQuote, '\'') => State::Code,
            (State::DoubleQuote, '"') => State::Code,
            (State::LineComment, '\n') => State::Code,
            (State::BlockComment, '*') if next == Some('/') => {
                chars.next();
                State::Code
            }
            (state, _) => state,
        };
    }
    Statements {
        complete,
        rest: text[start..].to_string(),
    }
}

/// Whether `text` holds only white space and comments.
pub fn is_blank(text: &str) -> bool {
    let mut rest = text.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix("/*") {
            match after.split_once("*/") {
                Some((_, r)) => rest = r.trim_start(),
                // An unclosed comment is unfinished input, not a statement.
                None => return true,
            }
        } else {
            return rest.is_empty();
        }
    }
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
}
