//! Reading a remote store (issue #18): many requests in flight, footers from the disk cache in
//! a new process, never a changed object's old footer, damaged cache files ignored.
//!
//! The store is the lake's directory behind `minerva_store::LatencyStore` (every request
//! waits first), served as `s3://lake` so the engine treats it as remote. Round trips as wall
//! time are measured by `cargo bench --bench round_trips`, not here.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use minerva_catalog::Catalog;
use minerva_demo::DemoSpec;
use minerva_engine::{Engine, ScanSummary};
use minerva_store::LatencyStore;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use url::Url;

use crate::support::DemoLake;

const WEEK: &str = "SELECT count(*) AS views FROM views \
    WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-07' AND event_type = 'view'";
const ROWS: &str = "SELECT event_time, user_id, price FROM views \
    WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-07' AND listing_id < 1000300 \
    ORDER BY event_time, user_id";

/// One file's rows, all of its row groups: DataFusion's scan, not the dense path.
const ONE_FILE: &str = "SELECT event_time, user_id, price FROM views \
    WHERE dt = DATE '2024-01-03' ORDER BY event_time DESC, user_id LIMIT 5";

/// Seven days, one file a day, ten row groups a file.
fn week_lake() -> DemoLake {
    DemoLake::new(DemoSpec {
        days: 7,
        events_per_day: 2_000,
        rows_per_file: 2_000,
        rows_per_row_group: 200,
        ..Default::default()
    })
}

/// The lake's catalog with `views` at `s3://lake/views`.
fn remote_catalog(lake: &DemoLake) -> PathBuf {
    let catalog = lake.dir.path().join("remote-catalog");
    std::fs::create_dir_all(catalog.join("default")).unwrap();
    let table = std::fs::read_to_string(lake.catalog().join("default/views.toml")).unwrap();
    let moved: String = table
        .lines()
        .map(|line| match line.starts_with("location = ") {
            true => "location = \"s3://lake/views\"\n".to_string(),
            false => format!("{line}\n"),
        })
        .collect();
    std::fs::write(catalog.join("default/views.toml"), moved).unwrap();
    catalog
}

/// A new engine (a new process, as far as caches go) over the slow store, with `cache` on disk.
fn remote_engine(lake: &DemoLake, cache: &Path, latency: Duration) -> Engine {
    let files = LocalFileSystem::new_with_prefix(lake.dir.path()).unwrap();
    let slow: Arc<dyn ObjectStore> = Arc::new(LatencyStore::new(Arc::new(files), latency));
    Engine::builder(Catalog::load(remote_catalog(lake)).unwrap())
        .object_store(Url::parse("s3://lake").unwrap(), slow)
        .target_partitions(2)
        .disk_cache(cache)
        .build()
}

async fn run(engine: &Engine, sql: &str) -> (String, ScanSummary) {
    let output = engine.execute(sql).await.unwrap();
    let stats = Arc::clone(&output.stats);
    let batches: Vec<_> = output.stream.try_collect().await.unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    (text, stats.summary())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_go_out_together_whatever_the_core_count() {
    let lake = week_lake();
    let local = lake.engine();
    let cache = tempfile::tempdir().unwrap();
    for (sql, at_least) in [(WEEK, 7), (ROWS, 7), (ONE_FILE, 5)] {
        let (expected, _) = run(&local, sql).await;
        let engine = remote_engine(&lake, cache.path(), Duration::from_millis(20));
        let (answer, summary) = run(&engine, sql).await;
        assert_eq!(answer, expected, "{sql}");
        // Two cores, yet the seven footers and then the row groups go out many at a time;
        // one file's ten row groups, too, in DataFusion's scan (byte ranges in many streams).
        assert!(
            summary.most_in_flight >= at_least,
            "{sql}: at most {} in flight ({})",
            summary.most_in_flight,
            summary.describe_store()
        );
        assert!(summary.store_wait > Duration::ZERO);
        std::fs::remove_dir_all(cache.path()).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_process_reads_footers_from_the_disk_cache() {
    let lake = week_lake();
    for sql in [WEEK, ROWS] {
        let cache = tempfile::tempdir().unwrap();
        let (first, cold) = run(&remote_engine(&lake, cache.path(), Duration::ZERO), sql).await;
        assert_eq!(cold.footers_cached, 0, "{sql}");
        let (again, warm) = run(&remote_engine(&lake, cache.path(), Duration::ZERO), sql).await;
        assert_eq!(again, first, "{sql}");
        assert_eq!(warm.footers_cached as usize, cold.objects, "{sql}");
        assert!(
            warm.get_requests < cold.get_requests && warm.list_requests == 0,
            "{sql}: {} then {}",
            cold.describe_scan(),
            warm.describe_scan()
        );
        assert!(warm.describe_scan().contains("from the disk cache"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_object_is_never_read_with_its_old_footer() {
    let lake = week_lake();
    let cache = tempfile::tempdir().unwrap();
    let one_day =
        "SELECT count(*) AS n, sum(price) AS total FROM views WHERE dt = DATE '2024-01-03'";
    let (before, _) = run(&remote_engine(&lake, cache.path(), Duration::ZERO), one_day).await;
    // The same key, new content: another day's file written over it.
    let day = |d: &str| lake.views().join(format!("dt={d}/part-00000.zstd.parquet"));
    std::fs::copy(day("2024-01-05"), day("2024-01-03")).unwrap();
    let expected = run(&lake.engine(), one_day).await.0;
    assert_ne!(expected, before);
    // Listings are reused for their TTL (a changed object keeps its listed size until then):
    // list afresh, and the footer on disk must not answer for the new object.
    std::fs::write(
        lake.dir.path().join("remote-catalog/storage.toml"),
        "listing_ttl = \"0s\"\n",
    )
    .unwrap();
    let (after, summary) = run(&remote_engine(&lake, cache.path(), Duration::ZERO), one_day).await;
    assert_eq!(after, expected);
    assert_eq!(summary.footers_cached, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_cache_file_is_a_warning_and_the_query_answers() {
    let lake = week_lake();
    let cache = tempfile::tempdir().unwrap();
    let (expected, _) = run(&remote_engine(&lake, cache.path(), Duration::ZERO), WEEK).await;
    let footers: Vec<_> = std::fs::read_dir(cache.path().join("footers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(footers.len(), 7);
    let mut bytes = std::fs::read(&footers[0]).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&footers[0], bytes).unwrap();
    let engine = remote_engine(&lake, cache.path(), Duration::ZERO);
    let (answer, summary) = run(&engine, WEEK).await;
    assert_eq!(answer, expected);
    assert_eq!(summary.footers_cached, 6);
    let warnings = engine.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("damaged cache file"), "{warnings:?}");
    assert!(engine.take_warnings().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scan_limit_holds_with_many_requests_in_flight() {
    let lake = week_lake();
    let cache = tempfile::tempdir().unwrap();
    let engine = remote_engine(&lake, cache.path(), Duration::from_millis(5));
    let (_, full) = run(&engine, WEEK).await;
    engine.clear_caches();
    std::fs::remove_dir_all(cache.path()).unwrap();
    let limit = full.bytes / 2;
    let engine = remote_engine(&lake, cache.path(), Duration::from_millis(5));
    engine.set_max_scan(Some(limit));
    let error = engine.query(WEEK).await.unwrap_err().to_string();
    assert!(error.contains("would read more than"), "{error}");
}

/// A text column whose dictionary overflowed into plain pages is answered by the hash
/// fallback, also when its footer comes from the disk cache: the footer is kept as written,
/// page encoding statistics included (a re-encoded footer loses them, and the dense path would
/// then decode millions of plain strings into dictionaries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_footer_from_disk_keeps_what_chooses_the_path() {
    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    let root = tempfile::tempdir().unwrap();
    let catalog = root.path().join("catalog");
    crate::support::write_table_file(
        &catalog,
        "default",
        "sessions",
        r#"
location = "s3://lake/sessions"
columns = [{ name = "user_id", type = "bigint" }, { name = "session", type = "string" }]
partition_columns = [{ name = "dt", type = "date" }]
"#,
    );
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int64, false),
        Field::new("session", DataType::Utf8, true),
    ]));
    let users = Int64Array::from_iter_values((0..5_000).map(|i| i % 700));
    let sessions: StringArray = (0..5_000)
        .map(|i| Some(format!("session-{:06}", i % 3_000)))
        .collect();
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(users), Arc::new(sessions)],
    )
    .unwrap();
    let path = root.path().join("sessions/dt=2024-03-01/a.parquet");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // A small dictionary page: it fills, and the rest of the chunk is written plain.
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_dictionary_page_size_limit(1_024)
        .set_data_page_row_count_limit(500)
        .set_write_batch_size(500)
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        Arc::clone(&schema),
        Some(properties),
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let cache = root.path().join("cache");
    let engine = || {
        let files = LocalFileSystem::new_with_prefix(root.path()).unwrap();
        Engine::builder(Catalog::load(&catalog).unwrap())
            .object_store(
                Url::parse("s3://lake").unwrap(),
                Arc::new(LatencyStore::new(Arc::new(files), Duration::ZERO)),
            )
            .disk_cache(&cache)
            .build()
    };
    let sql = "EXPLAIN ANALYZE SELECT DISTINCT session FROM sessions WHERE dt = DATE '2024-03-01'";
    let (cold, _) = run(&engine(), sql).await;
    assert!(cold.contains("hash_fallback=1"), "{cold}");
    let (warm, summary) = run(&engine(), sql).await;
    assert_eq!(summary.footers_cached, 1);
    assert!(warm.contains("hash_fallback=1"), "{warm}");
    let count = "SELECT count(*) AS n FROM (SELECT DISTINCT session FROM sessions WHERE dt = DATE '2024-03-01')";
    assert!(run(&engine(), count).await.0.contains("3000"));
}

/// Over a remote store the dense path rules pages out by a filter's page index and takes hourly
/// keys from it, fetching ahead only the pages left, and answers as the local lake does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_pages_a_filter_leaves_are_fetched() {
    use arrow::array::{Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use parquet::file::properties::WriterProperties;

    let dir = tempfile::tempdir().unwrap();
    let table = |location: &str| {
        format!(
            "location = \"{location}\"\ncolumns = [\n  {{ name = \"id\", type = \"bigint\" }},\n  \
             {{ name = \"kind\", type = \"string\" }},\n  {{ name = \"n\", type = \"bigint\" }},\n  \
             {{ name = \"at\", type = \"timestamp\" }},\n]\npartition_columns = [{{ name = \"dt\", type = \"date\" }}]\n"
        )
    };
    crate::support::write_table_file(
        &dir.path().join("local"),
        "default",
        "events",
        &table("../events"),
    );
    crate::support::write_table_file(
        &dir.path().join("remote"),
        "default",
        "events",
        &table("s3://lake/events"),
    );
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("n", DataType::Int64, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
    ]));
    let rows = 0..20_000_i64;
    let start = 19_783 * 86_400 * 1_000_000_i64; // 2024-03-01
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.clone().map(|i| i / 4))),
            Arc::new(StringArray::from_iter_values(
                rows.clone()
                    .map(|i| ["view", "call"][(i % 5 == 0) as usize]),
            )),
            Arc::new(
                rows.clone()
                    .map(|i| (i % 7 != 0).then_some(i % 1_000))
                    .collect::<Int64Array>(),
            ),
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                rows.map(|i| start + i * 1_000_000),
            )),
        ],
    )
    .unwrap();
    // Times without a dictionary (as where a writer gave up on one): pages of values alone.
    let props = WriterProperties::builder()
        .set_column_dictionary_enabled("at".into(), false)
        .set_data_page_row_count_limit(500)
        .set_write_batch_size(100)
        .set_max_row_group_row_count(Some(5_000))
        .build();
    let path = dir.path().join("events/dt=2024-03-01/part.parquet");
    crate::support::write_parquet_with(&path, &batch, Some(props));

    let local = Engine::builder(Catalog::load(dir.path().join("local")).unwrap())
        .target_partitions(2)
        .build();
    let files = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
    let slow: Arc<dyn ObjectStore> =
        Arc::new(LatencyStore::new(Arc::new(files), Duration::from_millis(2)));
    let remote = Engine::builder(Catalog::load(dir.path().join("remote")).unwrap())
        .object_store(Url::parse("s3://lake").unwrap(), slow)
        .target_partitions(2)
        .build();
    // (What is fetched ahead is checked range by range in `scan::readahead`'s tests: a store
    // merges ranges closer than a MiB into one request, so bytes here would not tell.)
    for (sql, metric) in [
        (
            "SELECT kind, count(*), sum(n) FROM events WHERE id BETWEEN 2010 AND 2030 GROUP BY 1 ORDER BY 1",
            "page_index_pages_pruned=10 total → 1 matched",
        ),
        (
            "SELECT hour(at), count(*), max(n) FROM events GROUP BY 1 ORDER BY 1",
            "key_runs_from_page_index=",
        ),
    ] {
        let (expected, _) = run(&local, sql).await;
        let (answer, _) = run(&remote, sql).await;
        assert_eq!(answer, expected, "{sql}");
        let (analyzed, _) = run(&remote, &format!("EXPLAIN ANALYZE {sql}")).await;
        assert!(analyzed.contains(metric), "{sql}: {analyzed}");
    }
}
