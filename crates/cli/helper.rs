//! The shell's line editor helper: Tab completion (keywords, functions, databases, tables,
//! the columns of the tables a statement names, meta commands, settings, file paths), syntax
//! highlighting with the bracket under the cursor matched, and validation (Enter before the
//! statement's `;`, or inside an open string or bracket, continues it).
//!
//! Names come from the catalog's files and the session's function registry, never from
//! reading data; they are gathered on the first Tab and again whenever the catalog changes.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use minerva_catalog::{Catalog, DEFAULT_DATABASE, Entry};
use minerva_engine::Engine;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

/// The meta commands, for completion and for the list an unknown one prints.
pub const META_COMMANDS: &[&str] = &[
    "\\?", "\\chart", "\\copy", "\\cache", "\\d", "\\df", "\\dp", "\\dt", "\\dv", "\\e",
    "\\format", "\\i", "\\l", "\\o", "\\q", "\\set", "\\timing", "\\unset", "\\x", "\\!",
];

/// The SQL keywords completed: what Athena (Trino) queries and Minerva's statements use.
const KEYWORDS: &[&str] = &[
    "ALL",
    "ALTER",
    "ANALYZE",
    "AND",
    "ANY",
    "ARRAY",
    "AS",
    "ASC",
    "BETWEEN",
    "BIGINT",
    "BOOLEAN",
    "BY",
    "CASE",
    "CAST",
    "COMPACT",
    "CREATE",
    "CROSS",
    "CUBE",
    "CURRENT_DATE",
    "CURRENT_TIMESTAMP",
    "DATABASE",
    "DATABASES",
    "DATE",
    "DECIMAL",
    "DELETE",
    "DESC",
    "DESCRIBE",
    "DISTINCT",
    "DOUBLE",
    "DROP",
    "ELSE",
    "END",
    "EXCEPT",
    "EXISTS",
    "EXPLAIN",
    "EXTERNAL",
    "FALSE",
    "FILTER",
    "FIRST",
    "FOLLOWING",
    "FROM",
    "FULL",
    "FUNCTIONS",
    "GROUP",
    "GROUPING",
    "HAVING",
    "IF",
    "IN",
    "INNER",
    "INSERT",
    "INTEGER",
    "INTERSECT",
    "INTERVAL",
    "INTO",
    "IS",
    "JOIN",
    "LAST",
    "LATERAL",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LOCATION",
    "MAP",
    "NOT",
    "NULL",
    "NULLS",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "OVERWRITE",
    "PARTITION",
    "PARTITIONED",
    "PARTITIONS",
    "PRECEDING",
    "RANGE",
    "RECURSIVE",
    "REPAIR",
    "RIGHT",
    "ROLLUP",
    "ROW",
    "ROWS",
    "SCHEMA",
    "SELECT",
    "SET",
    "SHOW",
    "SMALLINT",
    "STORED",
    "TABLE",
    "TABLES",
    "TBLPROPERTIES",
    "THEN",
    "TIMESTAMP",
    "TINYINT",
    "TO",
    "TRUE",
    "TRY_CAST",
    "UNBOUNDED",
    "UNION",
    "UNLOAD",
    "UNNEST",
    "USING",
    "VACUUM",
    "VALUES",
    "VARCHAR",
    "VIEW",
    "VIEWS",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
    "ZONE",
];

/// After these words, a table (or database) name comes.
const BEFORE_TABLE: &[&str] = &[
    "FROM",
    "JOIN",
    "INTO",
    "TABLE",
    "DESCRIBE",
    "DESC",
    "UPDATE",
    "PARTITIONS",
    "COMPACT",
    "EXISTS",
];

/// What completion offers, gathered from the catalog and the function registry.
#[derive(Debug, Default)]
pub struct Vocabulary {
    databases: Vec<String>,
    /// `(database, table)` for every table, live table and view.
    tables: Vec<(String, String)>,
    /// `(database, table) → columns`, partition columns included.
    columns: std::collections::HashMap<(String, String), Vec<String>>,
    functions: Vec<String>,
}

impl Vocabulary {
    /// The names in `catalog` and `functions`.
    pub fn new(catalog: &Catalog, functions: Vec<String>) -> Self {
        let mut vocabulary = Self {
            databases: catalog
                .databases()
                .into_iter()
                .map(str::to_string)
                .collect(),
            functions,
            ..Self::default()
        };
        for db in catalog.databases() {
            let mut names: BTreeSet<&str> = catalog.table_names(db).into_iter().collect();
            names.extend(catalog.view_names(db));
            for name in names {
                let key = (db.to_string(), name.to_string());
                let table = match catalog.entry(db, name) {
                    Some(Ok(Entry::Table(table))) => Some(table),
                    Some(Ok(Entry::Live(live))) => {
                        let (db, name) = live.batch();
                        catalog.table(db, name).and_then(Result::ok)
                    }
                    _ => None,
                };
                if let Some(table) = table {
                    let columns = table
                        .columns()
                        .unwrap_or_default()
                        .iter()
                        .chain(table.partition_columns())
                        .map(|c| c.name.clone())
                        .collect();
                    vocabulary.columns.insert(key.clone(), columns);
                }
                vocabulary.tables.push(key);
            }
        }
        vocabulary
    }

    /// Every function the session can call (scalar, aggregate, window), sorted.
    pub fn functions_of(engine: &Engine) -> Vec<String> {
        let state = engine.session().state();
        let mut names: Vec<String> = state
            .scalar_functions()
            .keys()
            .chain(state.aggregate_functions().keys())
            .chain(state.window_functions().keys())
            .filter(|name| !name.starts_with('$'))
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The table a name in a statement refers to: `name` in the default database, or
    /// `db.name`.
    fn table(&self, qualified: &[String]) -> Option<&(String, String)> {
        let (db, name) = match qualified {
            [name] => (DEFAULT_DATABASE, name.as_str()),
            [db, name] => (db.as_str(), name.as_str()),
            _ => return None,
        };
        self.tables
            .iter()
            .find(|(d, n)| d.eq_ignore_ascii_case(db) && n.eq_ignore_ascii_case(name))
    }

    /// Completions for the word ending at `pos` in `line`: where it starts, and the candidates.
    pub fn complete(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || matches!(c, '_' | '.' | '"'))
            .last()
            .map_or(pos, |(i, _)| i);
        let word = &before[start..];
        let statement = statement_tokens(line);
        // Aliases and the tables the statement names: `views v` → v is views.
        let named = self.named_tables(&statement);

        if let Some((qualifier, partial)) = word.rsplit_once('.') {
            let qualifier = qualifier.trim_matches('"');
            let partial = partial.trim_start_matches('"');
            let offset =
                start + qualifier.len() + 1 + (word.len() - qualifier.len() - 1 - partial.len());
            let mut found = Vec::new();
            // A database: its tables.
            for (db, table) in &self.tables {
                if db.eq_ignore_ascii_case(qualifier) && starts_with(table, partial) {
                    found.push(table.clone());
                }
            }
            // A table or an alias: its columns.
            for (alias, key) in &named {
                if alias.eq_ignore_ascii_case(qualifier) {
                    found.extend(
                        self.columns_of(key)
                            .filter(|c| starts_with(c, partial))
                            .cloned(),
                    );
                }
            }
            return (offset, dedup(found));
        }

        let previous = previous_word(before, start);
        let wants_table = previous
            .as_deref()
            .is_some_and(|w| BEFORE_TABLE.iter().any(|k| k.eq_ignore_ascii_case(w)));
        let lower = !word.chars().any(char::is_uppercase);
        let mut found = Vec::new();
        if !wants_table {
            if named.is_empty() && !word.is_empty() {
                // No table named yet (`SELECT reg…` before its FROM): any table's columns.
                let all: BTreeSet<&String> = self
                    .columns
                    .values()
                    .flatten()
                    .filter(|c| starts_with(c, word))
                    .collect();
                found.extend(all.into_iter().cloned());
            }
            for (_, key) in &named {
                found.extend(
                    self.columns_of(key)
                        .filter(|c| starts_with(c, word))
                        .cloned(),
                );
            }
        }
        found.extend(self.tables_named(word));
        if !wants_table && !word.is_empty() {
            found.extend(
                self.functions
                    .iter()
                    .filter(|f| starts_with(f, word))
                    .map(|f| format!("{f}(")),
            );
            found.extend(KEYWORDS.iter().filter(|k| starts_with(k, word)).map(|k| {
                if lower {
                    k.to_lowercase()
                } else {
                    k.to_string()
                }
            }));
        }
        (start, dedup(found))
    }

    /// Tables (and `database.` prefixes) whose names start with `prefix`.
    fn tables_named(&self, prefix: &str) -> Vec<String> {
        let mut found = Vec::new();
        for (db, table) in &self.tables {
            let name = if db == DEFAULT_DATABASE {
                table.clone()
            } else {
                format!("{db}.{table}")
            };
            if starts_with(&name, prefix) {
                found.push(name);
            }
        }
        for db in &self.databases {
            if db != DEFAULT_DATABASE && starts_with(db, prefix) && !prefix.contains('.') {
                found.push(format!("{db}."));
            }
        }
        dedup(found)
    }

    fn columns_of<'a>(&'a self, key: &(String, String)) -> impl Iterator<Item = &'a String> {
        self.columns.get(key).into_iter().flatten()
    }

    /// The catalog tables `tokens` name, each with the name or alias that refers to it.
    fn named_tables(&self, tokens: &[Token]) -> Vec<(String, (String, String))> {
        let words: Vec<&Token> = tokens
            .iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect();
        let mut named = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let Token::Word(first) = words[i] else {
                i += 1;
                continue;
            };
            let mut parts = vec![first.value.clone()];
            let mut next = i + 1;
            if words.get(next) == Some(&&Token::Period)
                && let Some(Token::Word(second)) = words.get(next + 1)
            {
                parts.push(second.value.clone());
                next += 2;
            }
            if let Some(key) = self.table(&parts) {
                named.push((parts.last().cloned().unwrap_or_default(), key.clone()));
                // `t alias` or `t AS alias`.
                let alias = match (words.get(next), words.get(next + 1)) {
                    (Some(Token::Word(w)), Some(Token::Word(a))) if w.keyword == Keyword::AS => {
                        Some(a)
                    }
                    (Some(Token::Word(a)), _) if a.keyword == Keyword::NoKeyword => Some(a),
                    _ => None,
                };
                if let Some(alias) = alias {
                    named.push((alias.value.clone(), key.clone()));
                }
            }
            i = next;
        }
        named
    }
}

fn starts_with(candidate: &str, prefix: &str) -> bool {
    candidate.len() >= prefix.len()
        && candidate.is_char_boundary(prefix.len())
        && candidate[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn dedup(found: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    found
        .into_iter()
        .filter(|f| seen.insert(f.clone()))
        .collect()
}

/// The statement's tokens, as far as they tokenize (an open string ends them).
fn statement_tokens(text: &str) -> Vec<Token> {
    let mut text = text.to_string();
    loop {
        match Tokenizer::new(&GenericDialect {}, &text).tokenize() {
            Ok(tokens) => return tokens,
            Err(_) if !text.is_empty() => {
                // Cut at the last quote and try again: the start still names the tables.
                match text.rfind(['\'', '"']) {
                    Some(i) => text.truncate(i),
                    None => return Vec::new(),
                }
            }
            Err(_) => return Vec::new(),
        }
    }
}

/// The word before the one at `start`, if any.
fn previous_word(before: &str, start: usize) -> Option<String> {
    before[..start]
        .split(|c: char| c.is_whitespace() || c == '(' || c == ',')
        .rev()
        .find(|w| !w.is_empty())
        .map(str::to_string)
}

/// Completion for the arguments of meta commands: `\d views`, `\i path`, `\set timing`.
fn complete_meta(
    vocabulary: Option<&Vocabulary>,
    line: &str,
    pos: usize,
) -> Option<(usize, Vec<String>)> {
    let before = &line[..pos];
    let Some((command, argument)) = before.split_once(char::is_whitespace) else {
        let found = META_COMMANDS
            .iter()
            .filter(|c| c.starts_with(before))
            .map(|c| c.to_string())
            .collect();
        return Some((0, found));
    };
    let argument = argument.trim_start();
    let start = pos - argument.len();
    let words = |options: &[&str]| -> Vec<String> {
        options
            .iter()
            .filter(|o| o.starts_with(argument))
            .map(|o| o.to_string())
            .collect()
    };
    match command {
        "\\d" | "\\dp" | "\\dt" | "\\copy" => Some((start, vocabulary?.tables_named(argument))),
        "\\dv" | "\\l" => {
            let vocabulary = vocabulary?;
            Some((
                start,
                words(
                    &vocabulary
                        .databases
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                ),
            ))
        }
        "\\df" => {
            let vocabulary = vocabulary?;
            Some((
                start,
                words(
                    &vocabulary
                        .functions
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                ),
            ))
        }
        "\\format" => Some((
            start,
            words(&[
                "table", "csv", "tsv", "json", "ndjson", "markdown", "bar", "parquet",
            ]),
        )),
        "\\x" => Some((start, words(&["on", "off", "auto"]))),
        "\\timing" => Some((start, words(&["on", "off"]))),
        "\\chart" => Some((start, words(&["bar", "line"]))),
        "\\set" | "\\unset" => Some((start, words(crate::settings::SETTABLE))),
        _ => None,
    }
}

/// The rustyline helper.
pub struct ShellHelper {
    engine: Engine,
    /// Built on the first Tab; rebuilt when the catalog is reloaded.
    vocabulary: Mutex<Option<(Arc<Catalog>, Arc<Vocabulary>)>>,
    files: FilenameCompleter,
    colour: bool,
    bracket: std::cell::Cell<Option<usize>>,
}

impl std::fmt::Debug for ShellHelper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShellHelper")
            .field("colour", &self.colour)
            .finish()
    }
}

impl ShellHelper {
    pub fn new(engine: Engine, colour: bool) -> Self {
        Self {
            engine,
            vocabulary: Mutex::new(None),
            files: FilenameCompleter::new(),
            colour,
            bracket: std::cell::Cell::new(None),
        }
    }

    /// The vocabulary of the catalog as it is now.
    pub fn vocabulary(&self) -> Arc<Vocabulary> {
        let catalog = self.engine.catalog();
        let mut slot = self.vocabulary.lock().expect("vocabulary lock poisoned");
        match slot.as_ref() {
            Some((built_for, vocabulary)) if Arc::ptr_eq(built_for, &catalog) => {
                Arc::clone(vocabulary)
            }
            _ => {
                let vocabulary = Arc::new(Vocabulary::new(
                    &catalog,
                    Vocabulary::functions_of(&self.engine),
                ));
                *slot = Some((catalog, Arc::clone(&vocabulary)));
                vocabulary
            }
        }
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let pairs = |found: Vec<String>| {
            found
                .into_iter()
                .map(|f| Pair {
                    display: f.clone(),
                    replacement: f,
                })
                .collect()
        };
        let trimmed = line.trim_start();
        if trimmed.starts_with('\\') {
            let offset = line.len() - trimmed.len();
            let command = trimmed.split_whitespace().next().unwrap_or_default();
            if matches!(command, "\\i" | "\\o" | "\\e") && trimmed.contains(char::is_whitespace) {
                return self.files.complete(line, pos, ctx);
            }
            let vocabulary = self.vocabulary();
            return Ok(
                match complete_meta(Some(&vocabulary), trimmed, pos - offset) {
                    Some((start, found)) => (start + offset, pairs(found)),
                    None => (pos, Vec::new()),
                },
            );
        }
        let (start, found) = self.vocabulary().complete(line, pos);
        Ok((start, pairs(found)))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Validator for ShellHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(if is_complete(ctx.input()) {
            ValidationResult::Valid(None)
        } else {
            ValidationResult::Incomplete
        })
    }
}

/// Whether Enter after `input` should run it: a meta command, `quit`, a blank line, or SQL
/// that ends with `;` outside strings, comments and brackets.
pub fn is_complete(input: &str) -> bool {
    let trimmed = input.trim();
    if trimmed.is_empty() || trimmed.starts_with('\\') || matches!(trimmed, "quit" | "exit") {
        return true;
    }
    if minerva_sql::split_statements(input).has_unfinished() {
        return false;
    }
    // `;` inside an open bracket is not the end (it is not valid SQL either: the statement
    // goes on until the bracket closes, and then says so).
    let mut depth = 0i64;
    for token in statement_tokens(input) {
        match token {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket => depth -= 1,
            _ => {}
        }
    }
    depth <= 0
}

impl Highlighter for ShellHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.colour {
            return Cow::Borrowed(line);
        }
        Cow::Owned(highlight(line, self.bracket.get()))
    }

    fn highlight_char(&self, line: &str, pos: usize, kind: CmdKind) -> bool {
        if kind == CmdKind::ForcedRefresh {
            self.bracket.set(None);
        } else {
            self.bracket.set(matching_bracket(line, pos));
        }
        self.colour
    }
}

impl Helper for ShellHelper {}

const KEYWORD_STYLE: &str = "\x1b[1;34m";
const STRING_STYLE: &str = "\x1b[32m";
const NUMBER_STYLE: &str = "\x1b[33m";
const BRACKET_STYLE: &str = "\x1b[1;7m";
const RESET: &str = "\x1b[0m";

/// `line` with keywords, strings and numbers coloured, and the bracket at byte `bracket` shown
/// reversed. Text that does not tokenize (an open string) is left as typed.
pub fn highlight(line: &str, bracket: Option<usize>) -> String {
    if line.trim_start().starts_with('\\') {
        return line.to_string();
    }
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, line).tokenize_with_location() else {
        return line.to_string();
    };
    // Byte offsets of each line's start, to turn (line, column) into offsets.
    let mut line_starts = vec![0];
    line_starts.extend(line.match_indices('\n').map(|(i, _)| i + 1));
    let offset = |l: u64, c: u64| -> Option<usize> {
        let start = *line_starts.get(usize::try_from(l).ok()?.checked_sub(1)?)?;
        let rest = &line[start..];
        let skip = usize::try_from(c).ok()?.checked_sub(1)?;
        Some(start + rest.char_indices().nth(skip).map_or(rest.len(), |(i, _)| i))
    };
    let mut out = String::with_capacity(line.len() * 2);
    let mut at = 0;
    for token in &tokens {
        let style = match &token.token {
            Token::Word(w) if w.quote_style.is_none() && w.keyword != Keyword::NoKeyword => {
                // Plural nouns of SHOW … are also common table names (`views`): left plain.
                let noun = ["VIEWS", "TABLES", "PARTITIONS", "FUNCTIONS", "DATABASES"]
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(&w.value));
                if !noun && KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(&w.value)) {
                    KEYWORD_STYLE
                } else {
                    continue;
                }
            }
            Token::SingleQuotedString(_) => STRING_STYLE,
            Token::Number(..) => NUMBER_STYLE,
            _ => continue,
        };
        let (Some(from), Some(to)) = (
            offset(token.span.start.line, token.span.start.column),
            offset(token.span.end.line, token.span.end.column),
        ) else {
            continue;
        };
        if from < at || to > line.len() || from >= to {
            continue;
        }
        out.push_str(&bracketed(&line[at..from], at, bracket));
        out.push_str(style);
        out.push_str(&line[from..to]);
        out.push_str(RESET);
        at = to;
    }
    out.push_str(&bracketed(&line[at..], at, bracket));
    out
}

fn bracketed(text: &str, at: usize, bracket: Option<usize>) -> String {
    match bracket {
        Some(b) if b >= at && b < at + text.len() => {
            let i = b - at;
            format!(
                "{}{BRACKET_STYLE}{}{RESET}{}",
                &text[..i],
                &text[i..=i],
                &text[i + 1..]
            )
        }
        _ => text.to_string(),
    }
}

/// The byte offset of the bracket matching the one at (or just before) `pos`, outside strings.
pub fn matching_bracket(line: &str, pos: usize) -> Option<usize> {
    let bytes = line.as_bytes();
    let at = [pos, pos.checked_sub(1)?]
        .into_iter()
        .find(|&i| matches!(bytes.get(i), Some(b'(' | b')' | b'[' | b']')))?;
    let (open, close, forward) = match bytes[at] {
        b'(' => (b'(', b')', true),
        b')' => (b'(', b')', false),
        b'[' => (b'[', b']', true),
        _ => (b'[', b']', false),
    };
    let mut depth = 0i32;
    let indices: Box<dyn Iterator<Item = usize>> = if forward {
        Box::new(at..bytes.len())
    } else {
        Box::new((0..=at).rev())
    };
    for i in indices {
        if bytes[i] == open {
            depth += if forward { 1 } else { -1 };
        } else if bytes[i] == close {
            depth += if forward { -1 } else { 1 };
        }
        if depth == 0 {
            return (i != at).then_some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> Vocabulary {
        let mut v = Vocabulary {
            databases: vec!["default".into(), "web".into()],
            tables: vec![
                ("default".into(), "views".into()),
                ("default".into(), "views_raw".into()),
                ("web".into(), "hits".into()),
            ],
            functions: vec!["date_trunc".into(), "day_of_week".into(), "count".into()],
            ..Vocabulary::default()
        };
        v.columns.insert(
            ("default".into(), "views".into()),
            vec!["region".into(), "listing_id".into(), "dt".into()],
        );
        v.columns.insert(
            ("web".into(), "hits".into()),
            vec!["url".into(), "referrer".into()],
        );
        v
    }

    fn complete(line: &str) -> Vec<String> {
        vocabulary().complete(line, line.len()).1
    }

    #[test]
    fn completes_tables_after_from_and_columns_of_named_tables() {
        assert_eq!(complete("SELECT * FROM vi"), ["views", "views_raw"]);
        assert_eq!(complete("select * from web.h"), ["hits"]);
        let line = "SELECT reg FROM views";
        assert_eq!(
            vocabulary().complete(line, 10),
            (7, vec!["region".to_string()])
        );
        let line = "SELECT v.li FROM views v";
        assert_eq!(
            vocabulary().complete(line, 11),
            (9, vec!["listing_id".to_string()])
        );
        let line = "SELECT ur FROM web.hits AS h";
        assert_eq!(vocabulary().complete(line, 9).1, ["url"]);
        assert_eq!(complete("SELECT date_t"), ["date_trunc("]);
        assert_eq!(complete("SELECT ref"), ["referrer"]);
        assert_eq!(complete("sel"), ["select"]);
        assert_eq!(complete("SEL"), ["SELECT"]);
        assert_eq!(complete("SELECT * FROM w"), ["web.hits", "web."]);
    }

    #[test]
    fn completes_meta_commands_and_their_arguments() {
        let v = vocabulary();
        assert_eq!(
            complete_meta(Some(&v), "\\ti", 3),
            Some((0, vec!["\\timing".into()]))
        );
        assert_eq!(
            complete_meta(Some(&v), "\\d vi", 5),
            Some((3, vec!["views".into(), "views_raw".into()]))
        );
        assert_eq!(
            complete_meta(Some(&v), "\\x a", 4),
            Some((3, vec!["auto".into()]))
        );
        assert_eq!(
            complete_meta(Some(&v), "\\set ti", 7),
            Some((5, vec!["timing".into(), "timeout".into()]))
        );
    }

    #[test]
    fn enter_runs_only_finished_statements() {
        assert!(is_complete("SELECT 1;"));
        assert!(is_complete("\\dt"));
        assert!(is_complete(""));
        assert!(!is_complete("SELECT 1"));
        assert!(!is_complete("SELECT 'a;\n"));
        assert!(!is_complete("SELECT (1;"));
        assert!(is_complete("SELECT 'a;b';"));
    }

    #[test]
    fn highlights_keywords_strings_numbers_and_the_matching_bracket() {
        let line = "SELECT count(1), 'x' FROM t";
        assert_eq!(
            highlight(line, None),
            "\x1b[1;34mSELECT\x1b[0m count(\x1b[33m1\x1b[0m), \x1b[32m'x'\x1b[0m \x1b[1;34mFROM\x1b[0m t"
        );
        assert_eq!(matching_bracket(line, 12), Some(14));
        assert_eq!(matching_bracket(line, 15), Some(12));
        assert_eq!(matching_bracket("f((a)", 1), None);
        assert_eq!(highlight("SELECT 'open", None), "SELECT 'open");
        assert_eq!(highlight("FROM views", None), "\x1b[1;34mFROM\x1b[0m views");
        // Columns count characters: what follows Korean text is coloured in place (a byte
        // index past a 3-byte character would land mid-character and cut wrongly).
        assert_eq!(
            highlight("SELECT '서울', 1\nFROM t", None),
            "\x1b[1;34mSELECT\x1b[0m \x1b[32m'서울'\x1b[0m, \x1b[33m1\x1b[0m\n\x1b[1;34mFROM\x1b[0m t"
        );
    }
}
