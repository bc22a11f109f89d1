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
