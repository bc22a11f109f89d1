//! Listening, admitting connections within the limit, and shutting down: no new connections,
//! running statements get the grace period to finish, then everything still open is closed.

use std::net::SocketAddr;
use std::sync::Arc;

use minerva_engine::Engine;
use pgwire::api::PgWireServerHandlers;
use pgwire::tokio::process_socket;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig as RustlsConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::auth::{Gate, GateSettings, Secret};
use crate::cancel::{CancelRequests, Cancels, Signal};
use crate::catalog::PgCatalog;
use crate::config::{ServerConfig, Tls};
use crate::connection::{Connection, Handler, Shared};
use crate::error::ServerError;
use crate::sqlstate::code;

/// A server ready to listen.
pub struct Server {
    engine: Engine,
    config: ServerConfig,
    shared: Arc<Shared>,
    cancels: Arc<Cancels>,
    secret: Option<Arc<Secret>>,
    tls: Option<(TlsAcceptor, Vec<u8>)>,
}

impl Server {
    /// A server for `engine` (its catalog, stores, limits) as `config` asks: the TLS files are
    /// read and the password hashed now, so that a mistake shows before anything listens.
    pub async fn new(engine: &Engine, config: ServerConfig) -> Result<Self, ServerError> {
        let engine = engine.clone().read_only(!config.allow_writes);
        let tls = config.tls.as_ref().map(load_tls).transpose()?;
        let shared = Arc::new(Shared {
            pg: PgCatalog::new(&engine).await?,
            queries: Arc::new(Semaphore::new(config.max_concurrent_queries)),
        });
        Ok(Self {
            secret: config.password.as_deref().map(Secret::new),
            engine,
            config,
            shared,
            cancels: Arc::new(Cancels::default()),
            tls,
        })
    }

    /// Binds the listening address.
    pub async fn bind(self) -> Result<Running, ServerError> {
        let addr = self.config.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Running {
            server: self,
            listener,
            local,
        })
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn load_tls(tls: &Tls) -> Result<(TlsAcceptor, Vec<u8>), ServerError> {
    let problem = |path: &std::path::Path, problem: String| ServerError::Tls {
        path: path.to_path_buf(),
        problem,
    };
    let cert_pem = std::fs::read(&tls.cert).map_err(|e| problem(&tls.cert, e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| problem(&tls.cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(problem(&tls.cert, "no certificate in it".to_string()));
    }
    let key =
        PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| problem(&tls.key, e.to_string()))?;
    let config = RustlsConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| problem(&tls.cert, e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| problem(&tls.key, e.to_string()))?;
    Ok((TlsAcceptor::from(Arc::new(config)), cert_pem))
}

/// A bound server.
#[derive(Debug)]
pub struct Running {
    server: Server,
    listener: TcpListener,
    local: SocketAddr,
}

/// pgwire's handlers of one connection.
struct Handlers {
    gate: Arc<Gate>,
    handler: Arc<Handler>,
    cancel: Arc<CancelRequests>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl pgwire::api::query::SimpleQueryHandler> {
        Arc::clone(&self.handler)
    }

    fn extended_query_handler(&self) -> Arc<impl pgwire::api::query::ExtendedQueryHandler> {
        Arc::clone(&self.handler)
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        Arc::clone(&self.gate)
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        Arc::clone(&self.cancel)
    }
}

impl Running {
    /// The address it listens on (the port the OS chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets running statements
    /// finish within the grace period, and closes every connection.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let Running {
            server, listener, ..
        } = self;
        let server = Arc::new(server);
        let connections_allowed = Arc::new(Semaphore::new(server.config.max_connections));
        let mut connections = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => accepted,
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            };
            let Ok((socket, _peer)) = accepted else {
                // A connection that failed before it was ours (reset, out of descriptors):
                // the next one may do better.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            let _ = socket.set_nodelay(true);
            // Past the limit a connection is still answered, with SQLSTATE 53300, up to as
            // many again; beyond that it is closed at once.
            let permit = Arc::clone(&connections_allowed).try_acquire_owned().ok();
            if permit.is_none() && connections.len() >= 2 * server.config.max_connections {
                drop(socket);
                continue;
            }
            let server = Arc::clone(&server);
            connections.spawn(async move {
                let refuse = permit.is_none().then(|| {
                    (
                        code::TOO_MANY_CONNECTIONS,
                        format!(
                            "sorry, too many clients already (the server allows {})",
                            server.config.max_connections
                        ),
                    )
                });
                let handlers = match server.handlers(refuse) {
                    Ok(handlers) => handlers,
                    Err(_) => return,
                };
                let tls = server.tls.as_ref().map(|(acceptor, _)| acceptor.clone());
                // A client that breaks the protocol or goes away ends only its connection.
                let _ = process_socket(socket, tls, handlers).await;
                drop(permit);
            });
        }
        drop(listener);
        // Running statements hold a turn each: wait until all turns are back, or the grace.
        let all = u32::try_from(server.config.max_concurrent_queries).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(server.config.grace, server.shared.queries.acquire_many(all))
            .await;
        server.shared.queries.close();
        connections.abort_all();
        while connections.join_next().await.is_some() {}
        Ok(())
    }
}

impl Server {
    fn handlers(
        &self,
        refuse: Option<(&'static str, String)>,
    ) -> pgwire::error::PgWireResult<Handlers> {
        let signal = Signal::new();
        let gate = Gate::new(GateSettings {
            secret: self.secret.clone(),
            cert_pem: self.tls.as_ref().map(|(_, pem)| pem.clone()),
            require_tls: self.config.tls.as_ref().is_some_and(|t| t.required),
            refuse,
            cancels: Arc::clone(&self.cancels),
            signal: Arc::clone(&signal),
        })?;
        let connection =
            Connection::new(self.engine.new_session(), Arc::clone(&self.shared), signal);
        Ok(Handlers {
            gate: Arc::new(gate),
            handler: Arc::new(Handler(Arc::new(connection))),
            cancel: Arc::new(CancelRequests(Arc::clone(&self.cancels))),
        })
    }
}
