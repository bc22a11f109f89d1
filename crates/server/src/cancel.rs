//! Cancel requests: a client's second connection names a connection by its process id and
//! secret key, and that connection's running statement stops (its stream is dropped, which
//! stops the engine's tasks), whether it is still planning or already sending rows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use tokio::sync::watch;

/// One connection's cancel signal: a counter that a cancel request raises.
#[derive(Debug)]
pub(crate) struct Signal {
    raised: watch::Sender<u64>,
}

impl Signal {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            raised: watch::Sender::new(0),
        })
    }

    /// Where the counter is now: a statement started now is cancelled once it passes this.
    pub(crate) fn now(&self) -> u64 {
        *self.raised.borrow()
    }

    /// Cancels whatever the connection is running.
    pub(crate) fn raise(&self) {
        self.raised.send_modify(|n| *n += 1);
    }

    /// Resolves when a cancel arrives after `since`.
    pub(crate) fn raised_after(&self, since: u64) -> impl Future<Output = ()> + Send + 'static {
        let mut receiver = self.raised.subscribe();
        async move {
            if receiver.wait_for(|n| *n > since).await.is_err() {
                // The connection is gone: nothing will cancel this any more.
                std::future::pending::<()>().await;
            }
        }
    }
}

type Key = (i32, Vec<u8>);

/// The server's connections by process id and secret key.
#[derive(Debug, Default)]
pub(crate) struct Cancels {
    connections: Mutex<HashMap<Key, Arc<Signal>>>,
}

impl Cancels {
    pub(crate) fn register(
        self: &Arc<Self>,
        pid: i32,
        secret: Vec<u8>,
        signal: Arc<Signal>,
    ) -> Registered {
        let key = (pid, secret);
        self.connections
            .lock()
            .expect("cancel registry poisoned")
            .insert(key.clone(), signal);
        Registered {
            cancels: Arc::clone(self),
            key,
        }
    }

    fn cancel(&self, key: &Key) {
        let signal = self
            .connections
            .lock()
            .expect("cancel registry poisoned")
            .get(key)
            .cloned();
        if let Some(signal) = signal {
            signal.raise();
        }
    }
}

/// A connection's entry in [`Cancels`], removed when the connection ends.
#[derive(Debug)]
pub(crate) struct Registered {
    cancels: Arc<Cancels>,
    key: Key,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut connections) = self.cancels.connections.lock() {
            connections.remove(&self.key);
        }
    }
}

/// Answers pgwire's cancel requests from [`Cancels`]; a request naming no connection (or the
/// wrong secret) does nothing, as in Postgres.
#[derive(Debug)]
pub(crate) struct CancelRequests(pub(crate) Arc<Cancels>);

#[async_trait]
impl CancelHandler for CancelRequests {
    async fn on_cancel_request(&self, request: CancelRequest) {
        self.0
            .cancel(&(request.pid, request.secret_key.to_bytes().to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cancel_reaches_only_its_connection() {
        let cancels = Arc::new(Cancels::default());
        let (one, two) = (Signal::new(), Signal::new());
        let _a = cancels.register(1, vec![1], Arc::clone(&one));
        let _b = cancels.register(2, vec![2], Arc::clone(&two));
        let since = one.now();
        cancels.cancel(&(1, vec![9])); // the wrong secret
        assert_eq!(one.now(), since);
        cancels.cancel(&(1, vec![1]));
        one.raised_after(since).await;
        assert_eq!(two.now(), 0);
    }

    #[test]
    fn a_closed_connection_leaves_the_registry() {
        let cancels = Arc::new(Cancels::default());
        drop(cancels.register(1, vec![1], Signal::new()));
        assert!(cancels.connections.lock().unwrap().is_empty());
    }
}
