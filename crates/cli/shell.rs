//! The interactive shell: statements end with `;`, backslash commands, history, Ctrl-C.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Result;
use minerva_catalog::display_byte_size;
use minerva_engine::Engine;
use minerva_sql::split_statements;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;
use tokio::runtime::Runtime;

use crate::output::Printer;

const PROMPT: &str = "minerva> ";
const CONTINUATION: &str = "      -> ";

/// Rows a table shows in the shell before it only counts the rest.
pub const MAX_TABLE_ROWS: usize = 100;

const HELP: &str = "\
Statements end with ';' and may span lines. Besides SQL:
  \\dt               list tables (SHOW TABLES)
  \\dv               list views (SHOW VIEWS)
  \\d TABLE          describe a table's columns (DESCRIBE TABLE)
  \\set              show the settings
  \\set max_scan SIZE  stop queries that would read more (10GB, 500MiB; 'off' for none)
  \\set timeout TIME   stop queries that run longer (30s, 5m; 'off' for none)
  \\cache clear      forget cached listings and Parquet footers
  \\q                quit (also Ctrl-D)
  \\?                this help
SQL extras: SHOW TABLES, DESCRIBE t, SHOW PARTITIONS t, EXPLAIN, EXPLAIN ANALYZE,
  CREATE TABLE … AS, INSERT INTO|OVERWRITE, COMPACT … INTO …, UNLOAD, VACUUM.
Ctrl-C cancels a running query, or clears a half-typed one.";

/// Where the shell keeps its history: the user's data directory.
fn history_path() -> Option<PathBuf> {
    dirs::data_dir().map(|dir| dir.join("minerva").join("history.txt"))
}

/// Reads and runs statements until `\q` or end of input.
///
/// Long by design: the read-eval loop, one arm per kind of input line.
pub fn run<W: Write>(engine: &Engine, runtime: &Runtime, printer: &mut Printer<W>) -> Result<()> {
    let mut editor = DefaultEditor::new()?;
    let history = history_path();
    if let Some(path) = &history {
        // No history yet is the normal first run.
        let _ = editor.load_history(path);
    }
    let tables = engine.catalog().tables().count();
    printer.line(&format!(
        "minerva {} — catalog '{}' ({tables} tables). Type \\? for help, \\q to quit.",
        env!("CARGO_PKG_VERSION"),
        engine.catalog().root().display()
    ))?;
    for problem in engine.catalog().problems() {
        crate::stderr::report(&format!("warning: {problem}"));
    }

    let control = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.trim().is_empty() {
            PROMPT
        } else {
            CONTINUATION
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(error) => return Err(error.into()),
        };
        let trimmed = line.trim();
        if buffer.trim().is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            match meta_command(trimmed) {
                Meta::Quit => break,
                Meta::Help => printer.line(HELP)?,
                Meta::Sql(sql) => run_statement(engine, runtime, &control, printer, &sql)?,
                Meta::ShowSettings => printer.line(&format!(
                    "max_scan = {}\ntimeout = {}",
                    engine
                        .max_scan()
                        .map_or_else(|| "off".to_string(), display_byte_size),
                    display_timeout(engine.timeout())
                ))?,
                Meta::SetTimeout(after) => {
                    engine.set_timeout(after);
                    printer.line(&format!("timeout = {}", display_timeout(after)))?;
                }
                Meta::SetMaxScan(bytes) => {
                    engine.set_max_scan(bytes);
                    printer.line(&format!(
                        "max_scan = {}",
                        bytes.map_or_else(|| "off".to_string(), display_byte_size)
                    ))?;
                }
                Meta::Copy { query, path } => {
                    match runtime.block_on(engine.copy_to_file(&query, Path::new(&path))) {
                        Ok(rows) => printer.line(&format!("COPY {rows}"))?,
                        Err(error) => crate::stderr::report(&format!("error: {error}")),
                    }
                }
                Meta::ClearCache => {
                    engine.clear_caches();
                    printer.line("cache cleared: the next queries list and read footers again")?;
                }
                Meta::Invalid(message) => crate::stderr::report(&message),
                Meta::Unknown => crate::stderr::report(&format!(
                    "unknown command '{trimmed}': \\? lists the commands"
                )),
            }
            continue;
        }
        if buffer.trim().is_empty() && matches!(trimmed, "quit" | "exit") {
            break;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        let statements = split_statements(&buffer);
        if !statements.complete.is_empty() {
            let _ = editor.add_history_entry(buffer.trim());
        }
        let rest = statements.rest.clone();
        for sql in &statements.complete {
            run_statement(engine, runtime, &control, printer, sql)?;
        }
        buffer = if statements.has_unfinished() {
            rest
        } else {
            String::new()
        };
    }
    if let Some(path) = &history {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(error) = editor.save_history(path) {
            crate::stderr::report(&format!(
                "warning: cannot save history to '{}': {error}",
                path.display()
            ));
        }
    }
    Ok(())
}

enum Meta {
    Quit,
    Help,
    Sql(String),
    ShowSettings,
    SetMaxScan(Option<u64>),
    SetTimeout(Option<std::time::Duration>),
    ClearCache,
    Copy { query: String, path: String },
    Invalid(String),
    Unknown,
}

fn display_timeout(after: Option<std::time::Duration>) -> String {
    after.map_or_else(
        || "off".to_string(),
        |d| humantime::format_duration(d).to_string(),
    )
}

fn meta_command(line: &str) -> Meta {
    if let Some(rest) = line.strip_prefix("\\copy") {
        return copy_command(rest.trim());
    }
    let mut words = line.split_whitespace();
    let command = words.next().unwrap_or_default();
    let argument: Vec<&str> = words.collect();
    match (command, argument.as_slice()) {
        ("\\q", []) => Meta::Quit,
        ("\\?" | "\\h", []) => Meta::Help,
        ("\\dt" | "\\d", []) => Meta::Sql("SHOW TABLES".into()),
        ("\\dv", []) => Meta::Sql("SHOW VIEWS".into()),
        ("\\dv", [database]) => Meta::Sql(format!("SHOW VIEWS IN {database}")),
        ("\\d", [table]) => Meta::Sql(format!("DESCRIBE {table}")),
        ("\\set", []) => Meta::ShowSettings,
        ("\\set", ["max_scan", size @ ..]) if !size.is_empty() => {
            let size = size.join(" ");
            if matches!(size.as_str(), "off" | "none" | "unlimited") {
                Meta::SetMaxScan(None)
            } else {
                match minerva_catalog::parse_byte_size(&size) {
                    Ok(bytes) => Meta::SetMaxScan(Some(bytes)),
                    Err(message) => Meta::Invalid(format!("\\set max_scan: {message}")),
                }
            }
        }
        ("\\set", ["timeout", duration @ ..]) if !duration.is_empty() => {
            let duration = duration.join(" ");
            if matches!(duration.as_str(), "off" | "none" | "unlimited") {
                Meta::SetTimeout(None)
            } else {
                match humantime::parse_duration(&duration) {
                    Ok(after) => Meta::SetTimeout(Some(after)),
                    Err(e) => {
                        Meta::Invalid(format!("\\set timeout: '{duration}': {e} (e.g. 30s, 5m)"))
                    }
                }
            }
        }
        ("\\set", [name, ..]) => Meta::Invalid(format!(
            "unknown setting '{name}': the settings are max_scan SIZE and timeout DURATION"
        )),
        ("\\cache", ["clear"]) => Meta::ClearCache,
        _ => Meta::Unknown,
    }
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

/// Runs one statement, printing its rows and a status line, or its error; Ctrl-C cancels it.
/// Only a failure to write to the terminal is returned: the shell goes on after query errors.
///
/// The query plans and runs on `runtime`; this thread waits on `control`, a current-thread
/// runtime that drives its own signal handling. A multi-thread runtime delivers signals from its
/// worker threads, and a CPU-bound operator that does not yield can hold them all.
fn run_statement<W: Write>(
    engine: &Engine,
    runtime: &Runtime,
    control: &Runtime,
    printer: &mut Printer<W>,
    sql: &str,
) -> Result<()> {
    let started = Instant::now();
    let stats = Arc::new(Mutex::new(None));
    let planning = runtime.spawn({
        let engine = engine.clone();
        let sql = sql.to_string();
        async move { engine.execute(&sql).await }
    });
    let abort_planning = planning.abort_handle();
    let result = control.block_on(async {
        let cancelled = tokio::signal::ctrl_c();
        tokio::pin!(cancelled);
        let output = tokio::select! {
            planned = planning => match planned {
                Ok(Ok(output)) => {
                    *stats.lock().expect("stats slot poisoned") = Some(Arc::clone(&output.stats));
                    output
                }
                Ok(Err(error)) => return Some(Err(anyhow::Error::from(error))),
                Err(error) => return Some(Err(anyhow::Error::from(error))),
            },
            _ = &mut cancelled => {
                abort_planning.abort();
                return None;
            }
        };
        // Dropping the output's stream on Ctrl-C aborts the tasks producing it.
        tokio::select! {
            printed = printer.print(output) => Some(printed),
            _ = &mut cancelled => None,
        }
    });
    match result {
        Some(Ok(rows)) => {
            let status = match stats.lock().expect("stats slot poisoned").as_ref() {
                Some(stats) => stats.summary().to_string(),
                None => format!("{rows} rows, {:.3} s", started.elapsed().as_secs_f64()),
            };
            printer.line(&format!("({status})"))?;
        }
        Some(Err(error)) if crate::stderr::is_broken_pipe(&error) => return Err(error),
        Some(Err(error)) => crate::stderr::report(&format!("error: {error}")),
        None => crate::stderr::report("query cancelled"),
    }
    for warning in engine.take_warnings() {
        crate::stderr::report(&format!("warning: {warning}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_commands_map_to_sql() {
        assert!(matches!(meta_command("\\q"), Meta::Quit));
        assert!(matches!(meta_command("\\dt"), Meta::Sql(s) if s == "SHOW TABLES"));
        assert!(matches!(meta_command("\\dv"), Meta::Sql(s) if s == "SHOW VIEWS"));
        assert!(matches!(meta_command("\\dv web"), Meta::Sql(s) if s == "SHOW VIEWS IN web"));
        assert!(matches!(meta_command("\\d  web.hits"), Meta::Sql(s) if s == "DESCRIBE web.hits"));
        assert!(matches!(meta_command("\\x"), Meta::Unknown));
        assert!(matches!(meta_command("\\q now"), Meta::Unknown));
        assert!(matches!(
            meta_command("\\set max_scan 10GB"),
            Meta::SetMaxScan(Some(10_000_000_000))
        ));
        assert!(matches!(
            meta_command("\\set max_scan off"),
            Meta::SetMaxScan(None)
        ));
        assert!(matches!(
            meta_command("\\set timeout 90s"),
            Meta::SetTimeout(Some(d)) if d == std::time::Duration::from_secs(90)
        ));
        assert!(matches!(
            meta_command("\\set timeout off"),
            Meta::SetTimeout(None)
        ));
        assert!(matches!(
            meta_command("\\set timeout soon"),
            Meta::Invalid(_)
        ));
        assert!(matches!(
            meta_command("\\set max_scan lots"),
            Meta::Invalid(_)
        ));
        assert!(matches!(meta_command("\\cache clear"), Meta::ClearCache));
        assert!(matches!(
            meta_command("\\copy (SELECT ')' AS a, (1) FROM t) TO 'out.parquet'"),
            Meta::Copy { query, path } if query == "SELECT ')' AS a, (1) FROM t" && path == "out.parquet"
        ));
        assert!(matches!(
            meta_command("\\copy views to /tmp/v.csv;"),
            Meta::Copy { query, path } if query == "SELECT * FROM views" && path == "/tmp/v.csv"
        ));
        assert!(matches!(
            meta_command("\\copy (SELECT 1 TO 'x'"),
            Meta::Invalid(_)
        ));
        assert!(matches!(meta_command("\\copy views"), Meta::Invalid(_)));
    }
}
