//! Minerva's console server: the HTTP API `minerva ui` serves (see the crate's README).
//!
//! - `POST /api/query` `{"sql": "…"}` starts a statement: `{"id", "columns": [{"name", "type"}]}`.
//! - `GET /api/query/{id}/rows?max=N` pulls the next rows (at most N, 1,000 by default):
//!   `{"rows": [[…], …], "done": bool, "status": "Run time: …"}` (the status once done).
//! - `GET /api/query/{id}/csv` streams the rows not yet pulled as CSV, then forgets the query.
//! - `GET /api/query/{id}/parquet` the same as one Parquet file, a row group at a time.
//! - `DELETE /api/query/{id}` cancels it: its stream is dropped, which stops the work.
//! - `GET /api/catalog` the databases, their tables and views, columns and partitions.
//! - `GET /api/history` the statements run, latest first (kept on disk, per user).
//! - `GET /api/saved`, `PUT /api/saved/{name}` `{"sql"}`, `DELETE /api/saved/{name}`: saved
//!   queries, `.sql` files in the catalog's [`SAVED_DIR`].
//!
//! Every request needs the token (`Authorization: Bearer TOKEN`, or `?token=TOKEN`).

mod api;
mod auth;
mod catalog;
mod error;
mod page;
mod queries;
mod saved;

pub use auth::Token;
pub use error::{ConsoleError, StoreError};
pub use saved::{Entry, History, SavedQueries};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use minerva_engine::Engine;
use tokio::net::TcpListener;

/// The directory of the catalog that holds saved queries: a dot-directory, which the catalog
/// loader skips (it is no database).
pub const SAVED_DIR: &str = ".queries";

/// A console bound to its address, not yet serving.
#[derive(Debug)]
pub struct BoundConsole {
    engine: Engine,
    listener: TcpListener,
    address: SocketAddr,
    token: Token,
    history: Option<History>,
    saved: SavedQueries,
}

impl BoundConsole {
    /// Binds `address` (port 0: any free port) for a console on `engine`, with a new random
    /// token.
    pub async fn bind(engine: Engine, address: SocketAddr) -> Result<Self, ConsoleError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| ConsoleError::Listen { address, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| ConsoleError::Listen { address, source })?;
        let saved = SavedQueries::new(engine.catalog().root().join(SAVED_DIR));
        Ok(Self {
            engine,
            listener,
            address,
            token: Token::random(),
            history: None,
            saved,
        })
    }

    /// Keeps the statements run in `history` (none by default).
    pub fn history(mut self, history: History) -> Self {
        self.history = Some(history);
        self
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The token every request must carry.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The console's URL, with the token (the API is under `/api`).
    pub fn url(&self) -> String {
        format!("http://{}/?token={}", self.address, self.token.as_str())
    }

    /// Serves until `shutdown` completes; running queries are cancelled then.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ConsoleError> {
        let address = self.address;
        let state = Arc::new(api::State::new(
            self.engine,
            self.token,
            self.history,
            self.saved,
        ));
        let stopping = Arc::clone(&state);
        let shutdown = async move {
            shutdown.await;
            stopping.stop();
        };
        axum::serve(self.listener, api::router(state))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| ConsoleError::Serve { address, source })
    }
}
