//! What the binary says on stderr: one line per message, and whether a failure is only a closed
//! pipe on stdout (which is not worth a word).

use std::io::Write;

/// Writes one line to stderr. If stderr itself is gone there is nowhere left to say so.
pub(crate) fn report(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

/// Whether `error` comes from writing to a reader that went away (`minerva … | head -1`).
pub(crate) fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
