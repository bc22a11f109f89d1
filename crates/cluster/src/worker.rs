//! A worker: a gRPC (Arrow Flight) server that runs the plan fragments coordinators send it,
//! with the engine's functions and object stores (the same catalog and `storage.toml` as the
//! coordinator), reading its share of each scan from the store itself.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion_distributed::{DistributedExt, Worker, WorkerQueryContext};
use minerva_engine::Engine;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::codec::MinervaCodec;
use crate::error::ClusterError;
use crate::share::WorkerName;

/// A worker bound to its address, not yet serving.
#[derive(Debug)]
pub struct BoundWorker {
    engine: Engine,
    listener: TcpListener,
    address: SocketAddr,
    name: String,
}

impl BoundWorker {
    /// Binds `address` (port 0: any free port) for a worker running `engine`'s fragments.
    /// `name` is how coordinators reach it (shown in `EXPLAIN ANALYZE`); by default
    /// `http://` and the bound address.
    pub async fn bind(
        engine: Engine,
        address: SocketAddr,
        name: Option<String>,
    ) -> Result<Self, ClusterError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| ClusterError::Listen { address, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| ClusterError::Listen { address, source })?;
        Ok(Self {
            engine,
            listener,
            address,
            name: name.unwrap_or_else(|| format!("http://{address}")),
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Its name, as coordinators reach it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), ClusterError> {
        let engine = self.engine;
        let name = Arc::new(WorkerName(self.name));
        let worker = Worker::from_session_builder(move |ctx: WorkerQueryContext| {
            let engine = engine.clone();
            let name = Arc::clone(&name);
            async move { Ok::<_, DataFusionError>(fragment_session(&engine, ctx, name)) }
        })
        // What its GetWorkerInfo answers: the plans it reads.
        .with_version(crate::codec::WIRE);
        let address = self.address;
        tonic::transport::Server::builder()
            .add_service(worker.into_worker_server())
            .serve_with_incoming_shutdown(TcpIncoming::from(self.listener), shutdown)
            .await
            .map_err(|source| ClusterError::Serve { address, source })
    }
}

/// The session one fragment runs in: the engine's functions and stores, the fragment's own
/// settings, Minerva's codec, and the worker's name for its reports.
fn fragment_session(
    engine: &Engine,
    mut ctx: WorkerQueryContext,
    name: Arc<WorkerName>,
) -> SessionState {
    let config = ctx
        .builder
        .config()
        .take()
        .unwrap_or_default()
        .with_extension(name);
    engine.fragment_session(config, |builder| {
        builder.with_distributed_user_codec(MinervaCodec)
    })
}
