//! A cancelled query gives its threads back: the next query runs at once.

use std::sync::mpsc;
use std::time::Duration;

use minerva_engine::Engine;

/// A join of 10¹⁰ rows, emitted many batches per input batch: minutes of work. (The filter keeps
/// the count from being answered by statistics alone.)
const ENDLESS: &str = "SELECT count(*) FROM generate_series(1, 100000) a \
    CROSS JOIN generate_series(1, 100000) b WHERE a.value <> b.value";

#[test]
fn an_aborted_join_frees_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::builder(minerva_catalog::Catalog::load(dir.path()).unwrap())
        .target_partitions(2)
        .build();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let endless = runtime.spawn({
        let engine = engine.clone();
        async move { engine.query(ENDLESS).await }
    });
    std::thread::sleep(Duration::from_millis(500));
    endless.abort();

    // The timer is this thread's, not the runtime's: a runtime whose workers are stuck in the
    // aborted join would never fire its own.
    let (sender, receiver) = mpsc::channel();
    runtime.spawn(async move {
        let _ = sender.send(engine.query("SELECT 7 AS n").await.map(|b| b[0].num_rows()));
    });
    // Measured in a debug build: 0.5 s with joins yielding, 39 s without (#3). The bound is a
    // liveness check with a wide margin, not a speed target.
    let answer = receiver.recv_timeout(Duration::from_secs(10));
    runtime.shutdown_background();
    assert!(
        matches!(answer, Ok(Ok(1))),
        "the next query did not run: {answer:?}"
    );
}
