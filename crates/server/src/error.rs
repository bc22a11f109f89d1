//! What can stop the server from starting or serving.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listening address is taken or not ours.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },

    /// Anyone who can reach a non-loopback address could run queries without a password.
    #[error(
        "listening on {addr} needs a password (set MINERVA_PG_PASSWORD or --password-file): without one, only loopback addresses are allowed"
    )]
    PasswordRequired {
        /// The non-loopback address asked for.
        addr: SocketAddr,
    },

    /// A TLS certificate or key cannot be used.
    #[error("TLS file '{}': {problem}", path.display())]
    Tls {
        /// The certificate or key file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },

    /// The password file cannot be read or holds no password.
    #[error("password file '{}': {problem}", path.display())]
    PasswordFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },

    /// The emulated `pg_catalog` could not be set up.
    #[error("cannot set up pg_catalog: {0}")]
    PgCatalog(#[source] Box<datafusion::error::DataFusionError>),
}
