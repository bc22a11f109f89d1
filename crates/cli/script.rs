//! Running statements in order, as a script does: each one's result printed, each failure
//! reported on stderr, and the rest run regardless.

use std::io::Write;

use minerva_engine::Engine;
use tokio::runtime::Runtime;

use crate::output::Printer;

/// What running a list of statements came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every statement succeeded.
    Ok,
    /// At least one failed (each was reported).
    Failed,
    /// The reader of our output went away (`minerva … | head`): stop quietly.
    Closed,
}

/// Runs `statements` in order; error messages number them from 1. With `stats`, what each
/// statement read goes to stderr after it.
pub fn run<W: Write>(
    engine: &Engine,
    runtime: &Runtime,
    printer: &mut Printer<W>,
    statements: &[String],
    stats: bool,
) -> Outcome {
    let mut outcome = Outcome::Ok;
    for (i, sql) in statements.iter().enumerate() {
        let result = runtime.block_on(async {
            let output = engine.execute(sql).await?;
            let read = std::sync::Arc::clone(&output.stats);
            let printed = printer.print(output).await;
            if stats {
                crate::stderr::report(&read.summary().to_string());
            }
            for warning in engine.take_warnings() {
                crate::stderr::report(&format!("warning: {warning}"));
            }
            printed
        });
        if let Err(error) = result {
            if crate::stderr::is_broken_pipe(&error) {
                return Outcome::Closed;
            }
            crate::stderr::report(&format!(
                "statement {} ({}) failed: {error}",
                i + 1,
                snippet(sql)
            ));
            outcome = Outcome::Failed;
        }
    }
    outcome
}

/// The start of a statement, short enough to name it in one line.
pub fn snippet(sql: &str) -> String {
    const MAX: usize = 60;
    let flat = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX {
        flat
    } else {
        format!("{}…", flat.chars().take(MAX).collect::<String>())
    }
}
