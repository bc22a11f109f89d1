//! The statements the console is running: each one's stream, pulled a page at a time, so a
//! result of any size is never held (the next batch is read only when a page asks for it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;
use minerva_engine::{QueryOutput, QueryStats};

/// A running statement.
pub(crate) struct Query {
    pub(crate) schema: arrow::datatypes::SchemaRef,
    pub(crate) stats: Arc<QueryStats>,
    /// The rows not yet pulled; `None` once the stream ended. Locked while a page is pulled.
    stream: tokio::sync::Mutex<Option<SendableRecordBatchStream>>,
    /// A batch pulled past the last page's end: the next page starts with it.
    left: tokio::sync::Mutex<Option<RecordBatch>>,
    touched: Mutex<Instant>,
    /// Set when the query is cancelled: a page waiting for rows stops waiting.
    cancelled: tokio::sync::watch::Sender<bool>,
}

/// One page of a query's rows.
pub(crate) struct Page {
    pub(crate) batches: Vec<RecordBatch>,
    pub(crate) done: bool,
}

impl Query {
    fn new(output: QueryOutput) -> Self {
        Self {
            schema: output.schema,
            stats: output.stats,
            stream: tokio::sync::Mutex::new(Some(output.stream)),
            left: tokio::sync::Mutex::new(None),
            touched: Mutex::new(Instant::now()),
            cancelled: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Stops the query now: its stream is dropped (by the page waiting on it, if one is),
    /// which stops its work.
    pub(crate) fn cancel(&self) {
        self.cancelled.send_replace(true);
        if let Ok(mut stream) = self.stream.try_lock() {
            *stream = None;
        }
    }

    fn touch(&self) {
        *self.touched.lock().expect("query clock poisoned") = Instant::now();
    }

    fn idle(&self) -> Duration {
        self.touched.lock().expect("query clock poisoned").elapsed()
    }

    /// The next `max` rows at most (fewer once the stream ends).
    pub(crate) async fn page(&self, max: usize) -> datafusion::error::Result<Page> {
        self.touch();
        let mut cancelled = self.cancelled.subscribe();
        let mut stream = self.stream.lock().await;
        let mut left = self.left.lock().await;
        let mut batches = Vec::new();
        let mut rows = 0;
        loop {
            let batch = match left.take() {
                Some(batch) => batch,
                None => match stream.as_mut() {
                    None => break,
                    Some(s) => {
                        let next = tokio::select! {
                            next = s.next() => next,
                            _ = cancelled.wait_for(|c| *c) => {
                                *stream = None;
                                return Err(DataFusionError::Execution(
                                    "the query was cancelled".to_string(),
                                ));
                            }
                        };
                        match next {
                            Some(batch) => batch?,
                            None => {
                                *stream = None;
                                break;
                            }
                        }
                    }
                },
            };
            let room = max - rows;
            if batch.num_rows() > room {
                batches.push(batch.slice(0, room));
                *left = Some(batch.slice(room, batch.num_rows() - room));
                rows = max;
            } else {
                rows += batch.num_rows();
                batches.push(batch);
            }
            if rows >= max {
                break;
            }
        }
        let done = stream.is_none() && left.is_none();
        self.touch();
        Ok(Page { batches, done })
    }

    /// The stream of the rows not yet pulled (the batch a page left over first).
    pub(crate) async fn rest(&self) -> SendableRecordBatchStream {
        let stream = self.stream.lock().await.take();
        let left = self.left.lock().await.take();
        let schema = self.schema.clone();
        let head = futures::stream::iter(left.map(Ok));
        let tail = futures::stream::iter(stream).flatten();
        Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                schema,
                head.chain(tail),
            ),
        )
    }
}

/// The running statements by id. A statement nobody pulled from for [`IDLE`] is dropped (its
/// work stops) when the next one starts: a closed browser tab holds nothing for long.
pub(crate) struct Queries {
    running: Mutex<HashMap<u64, Arc<Query>>>,
    next: AtomicU64,
    /// How long a statement waits for its next page ([`IDLE`]).
    idle: Duration,
}

impl Default for Queries {
    fn default() -> Self {
        Self {
            running: Mutex::default(),
            next: AtomicU64::new(0),
            idle: IDLE,
        }
    }
}

/// How long a statement waits for its next page before it is dropped.
pub(crate) const IDLE: Duration = Duration::from_secs(600);

impl Queries {
    /// Keeps `output` as a new running statement; its id.
    pub(crate) fn start(&self, output: QueryOutput) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut running = self.running.lock().expect("queries poisoned");
        running.retain(|_, query| query.idle() < self.idle);
        running.insert(id, Arc::new(Query::new(output)));
        id
    }

    /// Cancels every running statement (the console is stopping).
    pub(crate) fn cancel_all(&self) {
        let running = std::mem::take(&mut *self.running.lock().expect("queries poisoned"));
        for query in running.values() {
            query.cancel();
        }
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<Query>> {
        self.running
            .lock()
            .expect("queries poisoned")
            .get(&id)
            .cloned()
    }

    /// Forgets statement `id` (a page already pulling from it still gets its rows); the
    /// statement, if it was running.
    pub(crate) fn forget(&self, id: u64) -> Option<Arc<Query>> {
        self.running.lock().expect("queries poisoned").remove(&id)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::Schema;
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;

    use super::*;

    fn output() -> QueryOutput {
        let schema = Arc::new(Schema::empty());
        let stream = RecordBatchStreamAdapter::new(Arc::clone(&schema), futures::stream::empty());
        QueryOutput::new(schema, Box::pin(stream))
    }

    #[test]
    fn a_statement_nobody_reads_is_dropped_when_the_next_starts() {
        let queries = Queries::default();
        let first = queries.start(output());
        let second = queries.start(output());
        assert!(queries.get(first).is_some() && queries.get(second).is_some());
        let impatient = Queries {
            idle: Duration::ZERO,
            ..Queries::default()
        };
        let first = impatient.start(output());
        let second = impatient.start(output());
        assert!(impatient.get(first).is_none(), "idle past the limit");
        assert!(impatient.get(second).is_some());
        assert!(impatient.forget(second).is_some());
        assert!(impatient.get(second).is_none());
    }
}
