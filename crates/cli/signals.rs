//! Stopping a long-running command (`serve`, `worker`) on SIGTERM or Ctrl-C.

use std::future::Future;

use anyhow::{Context, Result};

use crate::stderr::report;

/// A future that resolves on SIGTERM or Ctrl-C (SIGINT), saying `message` then; the handlers
/// are installed now.
#[cfg(unix)]
pub(crate) fn shutdown_signal(message: &'static str) -> Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        report(message);
    })
}

#[cfg(not(unix))]
pub(crate) fn shutdown_signal(message: &'static str) -> Result<impl Future<Output = ()>> {
    Ok(async move {
        let _ = tokio::signal::ctrl_c().await;
        report(message);
    })
}
