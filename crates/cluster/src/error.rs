//! What can go wrong in setting up a cluster.

use std::net::SocketAddr;

/// A cluster that cannot be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// `--cluster` named no worker.
    #[error("a cluster needs at least one worker URL (http://host:port)")]
    NoWorkers,
    /// A worker's URL is not `http://host:port`.
    #[error("'{url}' is not a worker URL: write http://host:port")]
    WorkerUrl {
        /// The text given.
        url: String,
    },
    /// No worker of the cluster accepts connections.
    #[error("no worker of the cluster answers (tried {})", workers.join(", "))]
    NoWorkerAnswers {
        /// The workers tried.
        workers: Vec<String>,
    },
    /// Workers stopped answering while a query ran on them: the query failed.
    #[error("the query failed: worker {} stopped answering ({source}); the next query runs on the workers that answer", workers.join(", "))]
    WorkerLost {
        /// The workers that no longer answer.
        workers: Vec<String>,
        /// The error the query stopped with.
        source: Box<datafusion::error::DataFusionError>,
    },
    /// The worker could not listen on its address.
    #[error("the worker cannot listen on {address}: {source}")]
    Listen {
        /// The address asked for.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The worker's server stopped with an error.
    #[error("the worker on {address} stopped: {source}")]
    Serve {
        /// Its address.
        address: SocketAddr,
        /// Why.
        source: tonic::transport::Error,
    },
}
