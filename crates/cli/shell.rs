//! The interactive shell: statements end with `;`, backslash commands, completion, history,
//! progress, charts, and errors that point; Ctrl-C cancels a query or clears a half-typed one.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use minerva_catalog::{DEFAULT_DATABASE, Entry};
use minerva_engine::{Engine, EngineError, QueryOutput};
use minerva_sql::split_statements;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};
use tokio::runtime::Runtime;

use crate::args::OutputFormat;
use crate::helper::{META_COMMANDS, ShellHelper};
use crate::meta::Meta;
use crate::output::{CHART_ROWS, Printer};
use crate::progress::Progress;
use crate::settings::{Expanded, Settings};

const PROMPT: &str = "minerva> ";

/// Rows a table shows in the shell before it only counts the rest.
pub const MAX_TABLE_ROWS: usize = 100;

/// `\i` inside `\i` inside …: deeper than this is a loop.
const MAX_INCLUDE_DEPTH: usize = 16;

const HELP: &str = "\
Statements end with ';' and may span lines; Tab completes names, Ctrl-R searches history.
Catalog
  \\l                 databases             \\dt [PATTERN]   tables (web.*, view*)
  \\d TABLE           columns, location, format, how partitions are found
  \\dp TABLE          partitions with their files and bytes
  \\dv [DATABASE]     views                 \\df [PATTERN]   functions
Results
  \\x [on|off|auto]   one column per line   \\timing [on|off] time each statement
  \\format FORMAT     table, csv, tsv, json, ndjson, markdown, bar, parquet
  \\chart [bar|line]  draw the last result (a label column and numeric columns)
  \\o [FILE]          send results to FILE (\\o alone: back to the terminal)
  \\copy (QUERY) TO 'FILE'   write a result as .parquet, .csv, .json …
Input
  \\i FILE            run the statements in FILE
  \\e                 edit the last statement in $VISUAL or $EDITOR, then run it
  \\! COMMAND         run a shell command
Settings
  \\set               every setting and where it came from (default, file, env, flag, \\set)
  \\set NAME VALUE    format, null, pager, expanded, timing, max_scan, timeout
  \\unset NAME        back to its default
  \\cache clear       forget cached listings and Parquet footers
  \\q                 quit (also Ctrl-D)
SQL extras: SHOW TABLES, DESCRIBE t, SHOW PARTITIONS t, EXPLAIN [ANALYZE], CREATE TABLE … AS,
  INSERT INTO|OVERWRITE, COMPACT … INTO …, UNLOAD, VACUUM.
Ctrl-C cancels a running query, or clears a half-typed one.";

/// Where the shell keeps its history: the user's data directory.
fn history_path() -> Option<PathBuf> {
    dirs::data_dir().map(|dir| dir.join("minerva").join("history.txt"))
}

/// The shell's state between statements.
struct Shell<'a> {
    engine: &'a Engine,
    runtime: &'a Runtime,
    /// Waits on queries and Ctrl-C (see [`Shell::run_statement`]).
    control: Runtime,
    settings: Settings,
    printer: Printer<Box<dyn Write>>,
    /// Where `\o` sends results, when not the terminal.
    output: Option<PathBuf>,
    /// What `\e` edits.
    last_sql: Option<String>,
    /// SQL typed so far without its `;`.
    buffer: String,
    stdout_is_terminal: bool,
    depth: usize,
}

/// What a line of input came to.
enum Flow {
    Continue,
    Quit,
}

/// Reads and runs statements until `\q` or end of input.
pub fn run(engine: &Engine, runtime: &Runtime, settings: Settings) -> Result<()> {
    let config = Config::builder()
        .max_history_size(settings.history_size.value)?
        .history_ignore_dups(true)?
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .build();
    let mut editor: Editor<ShellHelper, DefaultHistory> = Editor::with_config(config)?;
    let colour = std::env::var_os("NO_COLOR").is_none()
        && std::env::var("TERM").map_or(true, |term| term != "dumb");
    editor.set_helper(Some(ShellHelper::new(engine.clone(), colour)));
    let history = history_path();
    if let Some(path) = &history {
        // No history yet is the normal first run.
        let _ = editor.load_history(path);
    }
    let stdout_is_terminal = std::io::stdout().is_terminal();
    let mut shell = Shell {
        engine,
        runtime,
        control: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        printer: Printer::new(
            settings.format.value,
            Box::new(std::io::stdout()) as Box<dyn Write>,
            Some(MAX_TABLE_ROWS),
        )
        .keep(CHART_ROWS),
        settings,
        output: None,
        last_sql: None,
        buffer: String::new(),
        stdout_is_terminal,
        depth: 0,
    };
    let tables = engine.catalog().tables().count();
    shell.say(&format!(
        "minerva {} — catalog '{}' ({tables} tables). Type \\? for help, \\q to quit.",
        env!("CARGO_PKG_VERSION"),
        engine.catalog().root().display()
    ))?;
    for problem in engine.catalog().problems() {
        crate::stderr::report(&format!("warning: {problem}"));
    }

    loop {
        let prompt = if shell.buffer.trim().is_empty() {
            PROMPT.to_string()
        } else {
            "      -> ".to_string()
        };
        let text = match editor.readline(&prompt) {
            Ok(text) => text,
            Err(ReadlineError::Interrupted) => {
                shell.buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(error) => return Err(error.into()),
        };
        if !text.trim().is_empty() {
            let _ = editor.add_history_entry(text.trim());
        }
        let flow = if text.trim() == "\\e" && shell.buffer.trim().is_empty() {
            // A temporary file that cannot be written is the edit's failure, not the shell's.
            match shell.edit(&mut editor) {
                Ok(flow) => flow,
                Err(error) if crate::stderr::is_broken_pipe(&error) => return Err(error),
                Err(error) => {
                    crate::stderr::report(&format!("\\e: {error:#}"));
                    Flow::Continue
                }
            }
        } else {
            shell.input(&text)?
        };
        if matches!(flow, Flow::Quit) {
            break;
        }
    }
    shell.finish_output();
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

impl Shell<'_> {
    /// A notice or status line: always to the terminal, even while `\o` sends results to a
    /// file.
    fn say(&mut self, text: &str) -> Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")?;
        out.flush()?;
        Ok(())
    }

    /// Handles typed (or `\i`-read, or edited) text: backslash lines as they come, SQL once
    /// its `;` is there.
    fn input(&mut self, text: &str) -> Result<Flow> {
        for line in text.lines() {
            let trimmed = line.trim();
            if self.buffer.trim().is_empty() && trimmed.starts_with('\\') {
                if let Flow::Quit = self.meta(trimmed)? {
                    return Ok(Flow::Quit);
                }
                continue;
            }
            if self.buffer.trim().is_empty() && matches!(trimmed, "quit" | "exit") {
                return Ok(Flow::Quit);
            }
            self.buffer.push_str(line);
            self.buffer.push('\n');
            let statements = split_statements(&self.buffer);
            let rest = statements.rest.clone();
            let unfinished = statements.has_unfinished();
            for sql in &statements.complete {
                self.run_statement(sql)?;
            }
            self.buffer = if unfinished { rest } else { String::new() };
        }
        Ok(Flow::Continue)
    }

    fn meta(&mut self, line: &str) -> Result<Flow> {
        match crate::meta::parse(line) {
            Meta::Quit => return Ok(Flow::Quit),
            Meta::Help => self.say(HELP)?,
            Meta::Sql(sql) => self.run_statement(&sql)?,
            Meta::Describe(table) => self.describe(&table)?,
            Meta::Partitions(table) => self.partitions(&table)?,
            Meta::ShowSettings => {
                let text = self.settings.describe();
                self.say(&text)?;
            }
            Meta::Set { name, value } => match self.settings.set(&name, &value) {
                Ok(shown) => {
                    self.apply_engine_settings();
                    self.say(&shown)?;
                }
                Err(error) => crate::stderr::report(&error.to_string()),
            },
            Meta::Unset(name) => match self.settings.unset(&name) {
                Ok(shown) => {
                    self.apply_engine_settings();
                    self.say(&shown)?;
                }
                Err(error) => crate::stderr::report(&error.to_string()),
            },
            Meta::Expanded(mode) => {
                let mode = mode.unwrap_or(match self.settings.expanded.value {
                    Expanded::Off => Expanded::On,
                    _ => Expanded::Off,
                });
                let shown = self.settings.set("expanded", &mode.to_string())?;
                self.say(&format!("Expanded display is {mode}. ({shown})"))?;
            }
            Meta::Timing(on) => {
                let on = on.unwrap_or(!self.settings.timing.value);
                self.settings.set("timing", if on { "on" } else { "off" })?;
                self.say(&format!("Timing is {}.", if on { "on" } else { "off" }))?;
            }
            Meta::Format(format) => {
                self.settings.set("format", format.name())?;
                self.say(&format!("format = {}", format.name()))?;
            }
            Meta::Output(target) => self.set_output(target),
            Meta::Include(path) => return self.include(Path::new(&path)),
            Meta::Edit => {
                crate::stderr::report(
                    "\\e: only at the prompt, with no statement half-typed (Ctrl-C clears it)",
                );
            }
            Meta::Shell(command) => {
                let command = if command.is_empty() {
                    std::env::var("SHELL").unwrap_or_else(|_| "sh".into())
                } else {
                    command
                };
                if let Err(error) = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(&command)
                    .status()
                {
                    crate::stderr::report(&format!("\\!: cannot run '{command}': {error}"));
                }
            }
            Meta::Chart(kind) => {
                let width = console::Term::stdout()
                    .size_checked()
                    .map_or(80, |(_, cols)| usize::from(cols));
                let drawn = match self.printer.last() {
                    None => Err(crate::chart::ChartError::NoResult),
                    Some((schema, batches)) => crate::chart::draw(schema, batches, kind, width),
                };
                match drawn {
                    Ok(chart) => {
                        let mut out = std::io::stdout().lock();
                        out.write_all(chart.as_bytes())?;
                        out.flush()?;
                    }
                    Err(error) => crate::stderr::report(&format!("\\chart: {error}")),
                }
            }
            Meta::Copy { query, path } => {
                match self
                    .runtime
                    .block_on(self.engine.copy_to_file(&query, Path::new(&path)))
                {
                    Ok(rows) => self.say(&format!("COPY {rows}"))?,
                    Err(error) => self.report_error(&query, &anyhow::Error::from(error)),
                }
            }
            Meta::ClearCache => {
                self.engine.clear_caches();
                self.say("cache cleared: the next queries list and read footers again")?;
            }
            Meta::Invalid(message) => crate::stderr::report(&message),
            Meta::Unknown => crate::stderr::report(&format!(
                "unknown command '{line}': the commands are {} (\\? explains them)",
                META_COMMANDS.join(" ")
            )),
        }
        Ok(Flow::Continue)
    }

    /// `\set max_scan` and `\set timeout` change the engine's limits.
    fn apply_engine_settings(&self) {
        self.engine.set_max_scan(self.settings.max_scan.value);
        self.engine.set_timeout(self.settings.timeout.value);
    }

    fn set_output(&mut self, target: Option<String>) {
        self.finish_output();
        let Some(path) = target else {
            return;
        };
        let path = PathBuf::from(path);
        match std::fs::File::create(&path) {
            Ok(file) => {
                *self.printer.get_mut() = Box::new(std::io::BufWriter::new(file));
                self.output = Some(path);
            }
            Err(error) => {
                crate::stderr::report(&format!("\\o: cannot write '{}': {error}", path.display()))
            }
        }
    }

    /// Flushes `\o`'s file and sends results to the terminal again.
    fn finish_output(&mut self) {
        if self.output.take().is_some() {
            if let Err(error) = self.printer.get_mut().flush() {
                crate::stderr::report(&format!("\\o: cannot write the file: {error}"));
            }
            *self.printer.get_mut() = Box::new(std::io::stdout());
        }
    }

    fn include(&mut self, path: &Path) -> Result<Flow> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            crate::stderr::report(&format!(
                "\\i {}: files include each other more than {MAX_INCLUDE_DEPTH} deep",
                path.display()
            ));
            return Ok(Flow::Continue);
        }
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                crate::stderr::report(&format!("\\i: cannot read '{}': {error}", path.display()));
                return Ok(Flow::Continue);
            }
        };
        let outer = std::mem::take(&mut self.buffer);
        self.depth += 1;
        let flow = self.input(&text);
        self.depth -= 1;
        // A last statement without its `;` runs at the end of the file, as scripts do.
        let rest = std::mem::replace(&mut self.buffer, outer);
        if !minerva_sql::is_blank(&rest) {
            self.run_statement(rest.trim())?;
        }
        flow
    }

    /// `\e`: the last statement in the user's editor; what is saved runs.
    fn edit(&mut self, editor: &mut Editor<ShellHelper, DefaultHistory>) -> Result<Flow> {
        let command = std::env::var("VISUAL")
            .or_else(|_| std::env::var("EDITOR"))
            .unwrap_or_else(|_| "vi".to_string());
        let file = tempfile::Builder::new()
            .prefix("minerva-")
            .suffix(".sql")
            .tempfile()
            .context("cannot make a temporary file")?;
        let mut text = self.last_sql.clone().unwrap_or_default();
        if !text.is_empty() && !text.trim_end().ends_with(';') {
            text.push(';');
        }
        std::fs::write(file.path(), format!("{text}\n"))?;
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{command} \"$1\""))
            .arg("sh")
            .arg(file.path())
            .status();
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => {
                crate::stderr::report(&format!(
                    "\\e: '{command}' exited with {status}; nothing run"
                ));
                return Ok(Flow::Continue);
            }
            Err(error) => {
                crate::stderr::report(&format!("\\e: cannot run '{command}': {error}"));
                return Ok(Flow::Continue);
            }
        }
        let edited = std::fs::read_to_string(file.path())?;
        if minerva_sql::is_blank(&edited) {
            return Ok(Flow::Continue);
        }
        let _ = editor.add_history_entry(edited.trim());
        self.say(edited.trim_end())?;
        let flow = self.input(&edited)?;
        // Edited text without a `;` runs as it is: the editor was the place to finish it.
        let rest = std::mem::take(&mut self.buffer);
        if !minerva_sql::is_blank(&rest) {
            self.run_statement(rest.trim())?;
        }
        Ok(flow)
    }

    /// `\d TABLE`: its columns (DESCRIBE), then where and how it is stored.
    fn describe(&mut self, name: &str) -> Result<()> {
        self.run_statement(&format!("DESCRIBE {name}"))?;
        let (database, table) = split_name(name);
        let catalog = self.engine.catalog();
        let lines = match catalog.entry(&database, &table) {
            Some(Ok(Entry::Table(table))) => {
                let partitioned = table
                    .partition_columns()
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.ty))
                    .collect::<Vec<_>>();
                let found = if table.projection().is_some() {
                    "projection: computed from the table's projection.* properties, nothing listed"
                        .to_string()
                } else if let Some(registry) = table.registry() {
                    format!("registry: {} registered partitions", registry.len())
                } else if partitioned.is_empty() {
                    "unpartitioned: every file under the location".to_string()
                } else {
                    "listing: the Hive layout (column=value/) under the location".to_string()
                };
                vec![
                    format!("Location: {}", table.location()),
                    format!("Format: {}", table.format()),
                    format!(
                        "Partitioned by: {}",
                        if partitioned.is_empty() {
                            "(none)".to_string()
                        } else {
                            partitioned.join(", ")
                        }
                    ),
                    format!("Partitions found by {found}"),
                ]
            }
            Some(Ok(Entry::Live(live))) => vec![format!(
                "Live table: batch {}.{} + speed {}.{}",
                live.batch().0,
                live.batch().1,
                live.speed().0,
                live.speed().1
            )],
            Some(Ok(Entry::View(_))) => vec!["View: SHOW CREATE VIEW shows its query".to_string()],
            _ => Vec::new(),
        };
        if !lines.is_empty() {
            self.say(&lines.join("\n"))?;
        }
        Ok(())
    }

    /// `\dp TABLE`: each partition with its files and bytes.
    fn partitions(&mut self, name: &str) -> Result<()> {
        let (database, table) = split_name(name);
        let started = Instant::now();
        let progress = Progress::start(std::io::stderr().is_terminal());
        // Ctrl-C drops the listing.
        let engine = self.engine;
        let listed = self.control.block_on(async {
            tokio::select! {
                listed = engine.partition_files(&database, &table) => Some(listed),
                _ = tokio::signal::ctrl_c() => None,
            }
        });
        drop(progress);
        let Some(listed) = listed else {
            crate::stderr::report("\\dp cancelled");
            return Ok(());
        };
        match listed {
            Ok(batch) => {
                let rows = batch.num_rows();
                let schema = batch.schema();
                let stream = RecordBatchStreamAdapter::new(
                    Arc::clone(&schema),
                    futures::stream::iter([Ok(batch)]),
                );
                self.configure_printer();
                let output = QueryOutput::new(schema, Box::pin(stream));
                self.control.block_on(self.printer.print(output))?;
                self.say(&format!(
                    "({rows} partitions, {:.3} s)",
                    started.elapsed().as_secs_f64()
                ))?;
            }
            Err(error) => self.report_error(&format!("\\dp {name}"), &error.into()),
        }
        Ok(())
    }

    fn configure_printer(&mut self) {
        let to_terminal = self.output.is_none() && self.stdout_is_terminal;
        let screen = to_terminal
            .then(|| console::Term::stdout().size_checked())
            .flatten()
            .map(|(rows, cols)| (usize::from(rows), usize::from(cols)));
        self.printer.configure(
            self.settings.format.value,
            &self.settings.null.value,
            self.settings.expanded.value,
            screen,
            if to_terminal {
                self.settings.pager.value.clone()
            } else {
                None
            },
        );
    }

    /// An error with the statement's line and a caret where the engine says it is.
    fn report_error(&self, sql: &str, error: &anyhow::Error) {
        let position = error
            .downcast_ref::<EngineError>()
            .and_then(|e| e.position(sql));
        crate::stderr::report(&crate::pointing::render(
            &format!("error: {error}"),
            sql,
            position,
        ));
    }

    /// Runs one statement, printing its rows and a status line, or its error; Ctrl-C cancels
    /// it. Only a failure to write to the terminal is returned: the shell goes on after query
    /// errors.
    ///
    /// The query plans and runs on `runtime`; this thread waits on `control`, a current-thread
    /// runtime that drives its own signal handling. A multi-thread runtime delivers signals
    /// from its worker threads, and a CPU-bound operator that does not yield can hold them all.
    fn run_statement(&mut self, sql: &str) -> Result<()> {
        self.last_sql = Some(sql.to_string());
        self.configure_printer();
        if self.printer.format() == OutputFormat::Parquet {
            match &self.output {
                None => {
                    crate::stderr::report(
                        "format parquet is binary: send results to a file with \\o FILE.parquet (or \\copy)",
                    );
                    return Ok(());
                }
                // A Parquet file holds one result: each statement's replaces the last.
                Some(path) => match std::fs::File::create(path) {
                    Ok(file) => *self.printer.get_mut() = Box::new(std::io::BufWriter::new(file)),
                    Err(error) => {
                        crate::stderr::report(&format!(
                            "\\o: cannot write '{}': {error}",
                            path.display()
                        ));
                        return Ok(());
                    }
                },
            }
        }
        let started = Instant::now();
        let stats = Arc::new(Mutex::new(None));
        let progress = Progress::start(std::io::stderr().is_terminal());
        self.printer.before_output(progress.clearer());
        let planning = self.runtime.spawn({
            let engine = self.engine.clone();
            let sql = sql.to_string();
            async move { engine.execute(&sql).await }
        });
        let abort_planning = planning.abort_handle();
        let printer = &mut self.printer;
        let result = self.control.block_on(async {
            let cancelled = tokio::signal::ctrl_c();
            tokio::pin!(cancelled);
            let output = tokio::select! {
                planned = planning => match planned {
                    Ok(Ok(output)) => {
                        *stats.lock().expect("stats slot poisoned") = Some(Arc::clone(&output.stats));
                        progress.watch(Arc::clone(&output.stats));
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
        drop(progress);
        match result {
            Some(Ok(rows)) => {
                let status = match stats.lock().expect("stats slot poisoned").as_ref() {
                    Some(stats) => stats.summary().to_string(),
                    None => format!("{rows} rows, {:.3} s", started.elapsed().as_secs_f64()),
                };
                self.say(&format!("({status})"))?;
            }
            Some(Err(error)) if crate::stderr::is_broken_pipe(&error) => return Err(error),
            Some(Err(error)) => self.report_error(sql, &error),
            None => crate::stderr::report("query cancelled"),
        }
        if self.settings.timing.value {
            self.say(&format!(
                "Time: {:.3} ms",
                started.elapsed().as_secs_f64() * 1000.0
            ))?;
        }
        for warning in self.engine.take_warnings() {
            crate::stderr::report(&format!("warning: {warning}"));
        }
        Ok(())
    }
}

/// `db.table` or `table` (in the default database), as SQL resolves unquoted names.
fn split_name(name: &str) -> (String, String) {
    let unquote = |s: &str| {
        if s.starts_with('"') && s.ends_with('"') && s.len() >= 2 {
            s[1..s.len() - 1].to_string()
        } else {
            s.to_lowercase()
        }
    };
    match name.split_once('.') {
        Some((db, table)) => (unquote(db), unquote(table)),
        None => (DEFAULT_DATABASE.to_string(), unquote(name)),
    }
}
