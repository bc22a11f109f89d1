//! `minerva serve`: the catalog over the Postgres wire protocol until SIGTERM or Ctrl-C.

use std::path::Path;

use anyhow::{Context, Result};
use minerva_engine::Engine;
use minerva_server::{Server, ServerConfig, Tls, read_password_file};
use tokio::runtime::Runtime;

use crate::args::ServeArgs;
use crate::signals::shutdown_signal;
use crate::stderr::report;

/// The environment variable that holds the password.
const PASSWORD_VARIABLE: &str = "MINERVA_PG_PASSWORD";

pub(crate) fn run(
    engine: &Engine,
    catalog: &Path,
    args: &ServeArgs,
    runtime: &Runtime,
) -> Result<()> {
    let password = match &args.password_file {
        Some(file) => Some(read_password_file(file)?),
        None => std::env::var(PASSWORD_VARIABLE)
            .ok()
            .filter(|p| !p.is_empty()),
    };
    let mut config = ServerConfig::new(args.listen, password)?
        .allow_writes(args.allow_writes)
        .max_connections(args.max_connections)
        .max_concurrent_queries(args.max_queries)
        .grace(args.grace);
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config = config.tls(Tls::new(cert, key).required(args.require_tls));
    }
    let has_password = config.has_password();
    runtime.block_on(async {
        let server = Server::new(engine, config).await?;
        let running = server.bind().await?;
        // Listening for signals before saying so: a SIGTERM right after the startup line
        // must shut down cleanly, not kill.
        let shutdown = shutdown_signal(
            "minerva: shutting down: no new connections; running statements get the grace period",
        )?;
        let addr = running.local_addr();
        let access = if has_password {
            "password required (SCRAM-SHA-256)"
        } else {
            "no password: loopback clients only"
        };
        let tls = match (&args.tls_cert, args.require_tls) {
            (None, _) => "no TLS",
            (Some(_), false) => "TLS offered",
            (Some(_), true) => "TLS required",
        };
        let writes = if args.allow_writes { "writes allowed" } else { "read-only" };
        report(&format!(
            "minerva: serving catalog '{}' on postgres://{addr} ({access}; {tls}; {writes}); connect with: psql -h {} -p {} minerva",
            catalog.display(),
            addr.ip(),
            addr.port()
        ));
        running.serve(shutdown).await?;
        report("minerva: server stopped");
        Ok::<_, anyhow::Error>(())
    })
    .context("the server stopped")
}
