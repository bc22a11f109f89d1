//! Showing a result through a pager (`$PAGER`, `less -S` by default), as psql does when a
//! result is taller or wider than the terminal.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `pager` (a shell command line) with `text` on its standard input and waits for it.
/// The user quitting the pager before the end is not an error.
pub fn page(pager: &str, text: &str) -> std::io::Result<()> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(pager)
        .stdin(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        match stdin.write_all(text.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other?,
        }
    }
    let status = child.wait()?;
    match status.code() {
        // The shell could not find or run the command: the caller prints instead.
        Some(126 | 127) => Err(std::io::Error::other(format!(
            "pager '{pager}' cannot be run"
        ))),
        // `less` quit with q, or any pager's own exit status: the user saw the result.
        _ => Ok(()),
    }
}
