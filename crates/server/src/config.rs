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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_loopback_address_needs_a_password() {
        let anywhere: SocketAddr = "0.0.0.0:5433".parse().unwrap();
        assert!(matches!(
            ServerConfig::new(anywhere, None),
            Err(ServerError::PasswordRequired { .. })
        ));
        assert!(matches!(
            ServerConfig::new(anywhere, Some(String::new())),
            Err(ServerError::PasswordRequired { .. })
        ));
        assert!(ServerConfig::new(anywhere, Some("s3cret".into())).is_ok());
        let loopback: SocketAddr = "127.0.0.1:5433".parse().unwrap();
        assert!(!ServerConfig::new(loopback, None).unwrap().has_password());
        let v6: SocketAddr = "[::1]:5433".parse().unwrap();
        assert!(ServerConfig::new(v6, None).is_ok());
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let config =
            ServerConfig::new("127.0.0.1:5433".parse().unwrap(), Some("hunter2".into())).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<set>"), "{shown}");
    }

    #[test]
    fn a_password_file_gives_its_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("password");
        std::fs::write(&file, "correct horse\nignored\n").unwrap();
        assert_eq!(read_password_file(&file).unwrap(), "correct horse");
        std::fs::write(&file, "\n").unwrap();
        let empty = read_password_file(&file).unwrap_err().to_string();
        assert!(
            empty.contains("first line is empty") && empty.contains("password"),
            "{empty}"
        );
        let missing = read_password_file(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("nope"), "{missing}");
    }
}
