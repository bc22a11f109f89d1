//! How the server listens, authenticates and limits its clients.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::ServerError;

/// TLS: the server's certificate chain and private key, both PEM files.
#[derive(Debug, Clone)]
pub struct Tls {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    /// Refuse clients that do not use TLS (Postgres's `hostssl`).
    pub(crate) required: bool,
}

impl Tls {
    /// TLS with the certificate chain in `cert` and the key in `key` (PEM); clients may still
    /// connect without it unless [`Tls::required`] is set.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            cert: cert.into(),
            key: key.into(),
            required: false,
        }
    }

    /// Refuses clients that do not use TLS.
    pub fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }
}

/// What `minerva serve` was asked for. Built with [`ServerConfig::new`], which checks that a
/// non-loopback address comes with a password.
#[derive(Clone)]
pub struct ServerConfig {
    pub(crate) listen: SocketAddr,
    pub(crate) password: Option<String>,
    pub(crate) tls: Option<Tls>,
    pub(crate) allow_writes: bool,
    pub(crate) max_connections: usize,
    pub(crate) max_concurrent_queries: usize,
    pub(crate) grace: Duration,
}

impl std::fmt::Debug for ServerConfig {
    /// Everything but the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("tls", &self.tls)
            .field("allow_writes", &self.allow_writes)
            .field("max_connections", &self.max_connections)
            .field("max_concurrent_queries", &self.max_concurrent_queries)
            .field("grace", &self.grace)
            .finish()
    }
}

impl ServerConfig {
    /// The default number of connections served at once.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 100;
    /// The default number of statements running at once (the rest wait their turn).
    pub const DEFAULT_MAX_CONCURRENT_QUERIES: usize = 16;
    /// How long running queries may go on after a shutdown is asked for.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

    /// A server on `listen`, with `password` for every user (SCRAM-SHA-256). Without a
    /// password only a loopback address is allowed, and only loopback clients are served.
    pub fn new(listen: SocketAddr, password: Option<String>) -> Result<Self, ServerError> {
        let password = password.filter(|p| !p.is_empty());
        if password.is_none() && !listen.ip().is_loopback() {
            return Err(ServerError::PasswordRequired { addr: listen });
        }
        Ok(Self {
            listen,
            password,
            tls: None,
            allow_writes: false,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            max_concurrent_queries: Self::DEFAULT_MAX_CONCURRENT_QUERIES,
            grace: Self::DEFAULT_GRACE,
        })
    }

    /// Offers (or requires) TLS.
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Lets clients run writes and DDL (read-only otherwise).
    pub fn allow_writes(mut self, allow: bool) -> Self {
        self.allow_writes = allow;
        self
    }

    /// Connections served at once; more are refused with SQLSTATE 53300.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Statements running at once across all connections; more wait for a turn.
    pub fn max_concurrent_queries(mut self, n: usize) -> Self {
        self.max_concurrent_queries = n.max(1);
        self
    }

    /// How long running queries may finish after a shutdown is asked for, before they are
    /// cancelled.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The address to listen on.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// Whether clients need a password.
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }
}

/// The password in `path`: its first line, without the line break.
pub fn read_password_file(path: &Path) -> Result<String, ServerError> {
    let text = std::fs::read_to_string(path).map_err(|e| ServerError::PasswordFile {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })?;
    let password = text.lines().next().unwrap_or("").to_string();
    if password.is_empty() {
        return Err(ServerError::PasswordFile {
            path: path.to_path_buf(),
            problem: "the first line is empty".to_string(),
        });
    }
    Ok(password)
}
