//! The console's errors.

use std::net::SocketAddr;

/// What stops the console.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the console on {address} stopped: {source}")]
    Serve {
        address: SocketAddr,
        source: std::io::Error,
    },
}

/// What the console's files (history, saved queries) could not do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "'{name}' is not a saved query's name: letters, digits, '_', '-' and '.', at most 100, not starting with '.'"
    )]
    Name { name: String },
}
