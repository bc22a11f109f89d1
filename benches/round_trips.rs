//! What a store's latency costs each query, counted in round trips.
//!
//! Every request to the lake's store waits a fixed latency first (object_store's
//! `ThrottledStore` around the local files, served as `s3://lake`, so Minerva treats it as a
//! remote store: listings cached, ranges fetched one request each). Per query it reports the
//! time on local disk, the time over the slow store with cold caches, the difference in units
//! of the latency ("round trips": how many requests the query waited for one after another),
//! the requests sent and the most in flight, and the same for a repeat in a fresh engine (a new
//! process) that shares only the footer and listing cache on disk.
//!
//! ```text
//! cargo bench --bench round_trips                        # a 7-day lake, 10 row groups a file
//! cargo bench --bench round_trips -- --latency-ms 50
//! cargo bench --bench round_trips -- --lake /work/lakes/listing --queries benches/queries
//! ```
//!
//! Answers over the slow store must equal the local ones; the bench stops if one does not.

// A report for people: printing its table is what it is for.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use minerva_catalog::Catalog;
use minerva_demo::DemoSpec;
use minerva_engine::{Engine, ScanSummary};
use minerva_store::LatencyStore;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use url::Url;

struct Options {
    latency: Duration,
    lake: Option<PathBuf>,
    queries: Option<PathBuf>,
    days: u32,
    events_per_day: usize,
    rows_per_row_group: usize,
}

fn options() -> Options {
    let mut options = Options {
        latency: Duration::from_millis(100),
        lake: None,
        queries: None,
        days: 7,
        events_per_day: 300_000,
        rows_per_row_group: 30_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--latency-ms" => {
                options.latency = Duration::from_millis(value().parse().expect("milliseconds"))
            }
            "--lake" => options.lake = Some(PathBuf::from(value())),
            "--queries" => options.queries = Some(PathBuf::from(value())),
            "--days" => options.days = value().parse().expect("a number of days"),
            "--events-per-day" => options.events_per_day = value().parse().expect("a number"),
            "--rows-per-row-group" => {
                options.rows_per_row_group = value().parse().expect("a number")
            }
            // cargo bench passes `--bench`; criterion's other flags mean nothing here.
            _ => {}
        }
    }
    options
}

/// The built-in queries over the 7-day lake: a week-long count, a one-listing one-day lookup
/// (both on the dense path) and rows of one listing (DataFusion's scan).
fn default_queries() -> Vec<(String, String)> {
    [
        (
            "week_views",
            "SELECT count(*) AS views FROM views \
             WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-07' AND event_type = 'view'",
        ),
        (
            "one_listing_one_day",
            "SELECT count(*) AS views FROM views \
             WHERE listing_id = 1000000 AND dt = DATE '2024-01-03' AND event_type = 'view'",
        ),
        (
            "rows_of_one_listing",
            "SELECT event_time, user_id, price FROM views \
             WHERE listing_id = 1000000 AND dt = DATE '2024-01-03' ORDER BY event_time, user_id",
        ),
    ]
    .into_iter()
    .map(|(name, sql)| (name.to_string(), sql.to_string()))
    .collect()
}

fn queries_in(dir: &Path) -> Vec<(String, String)> {
    let mut queries: Vec<_> = std::fs::read_dir(dir)
        .expect("a directory of queries")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .map(|path| {
            let name = path
                .file_stem()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read_to_string(&path).expect("a query"))
        })
        .collect();
    queries.sort();
    queries
}

/// A copy of `catalog`'s `views` table whose location is `s3://lake/views`.
fn remote_catalog(lake: &Path, into: &Path) -> PathBuf {
    let catalog = into.join("catalog");
    std::fs::create_dir_all(catalog.join("default")).expect("a catalog directory");
    let table = std::fs::read_to_string(lake.join("catalog/default/views.toml")).expect("table");
    let moved: String = table
        .lines()
        .map(|line| match line.starts_with("location = ") {
            true => "location = \"s3://lake/views\"\n".to_string(),
            false => format!("{line}\n"),
        })
        .collect();
    std::fs::write(catalog.join("default/views.toml"), moved).expect("table file");
    catalog
}

/// An answer as an order-independent digest: its row count and the wrapping sum of a hash
/// of each row's text (a seed-scale answer can be millions of rows; none is held).
#[derive(Debug, PartialEq, Eq)]
struct Digest {
    rows: usize,
    sum: u64,
}

/// Runs `sql`; its answer's digest, its summary and its wall time.
async fn run(engine: &Engine, sql: &str) -> (Digest, ScanSummary, Duration) {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let started = Instant::now();
    let output = engine.execute(sql).await.expect("a query that runs");
    let stats = Arc::clone(&output.stats);
    let mut digest = Digest { rows: 0, sum: 0 };
    let mut stream = output.stream;
    let options = arrow::util::display::FormatOptions::default();
    while let Some(batch) = stream.try_next().await.expect("its rows") {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<_, _>>()
            .expect("printable");
        for row in 0..batch.num_rows() {
            let mut hasher = DefaultHasher::new();
            for formatter in &formatters {
                formatter.value(row).to_string().hash(&mut hasher);
            }
            digest.sum = digest.sum.wrapping_add(hasher.finish());
        }
        digest.rows += batch.num_rows();
    }
    (digest, stats.summary(), started.elapsed())
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let lake = match &options.lake {
        Some(lake) => lake.clone(),
        None => {
            let spec = DemoSpec {
                days: options.days,
                events_per_day: options.events_per_day,
                rows_per_file: options.events_per_day,
                rows_per_row_group: options.rows_per_row_group,
                ..Default::default()
            };
            let dir = scratch.path().join("lake");
            minerva_demo::write_lake(&spec, &dir, &|_| {}).expect("the demo lake");
            dir
        }
    };
    let queries = match &options.queries {
        Some(dir) => queries_in(dir),
        None => default_queries(),
    };
    let catalog = remote_catalog(&lake, scratch.path());
    let cache = scratch.path().join("cache");
    let local = Engine::open(lake.join("catalog")).expect("the lake's catalog");
    let slow = || -> Arc<dyn ObjectStore> {
        let files = LocalFileSystem::new_with_prefix(&lake).expect("the lake directory");
        Arc::new(LatencyStore::new(Arc::new(files), options.latency))
    };
    // A fresh engine is a fresh process: nothing cached in memory, only on disk.
    let remote = || {
        Engine::builder(Catalog::load(&catalog).expect("the remote catalog"))
            .object_store(Url::parse("s3://lake").expect("a URL"), slow())
            .disk_cache(&cache)
            .build()
    };
    let latency = options.latency.as_secs_f64();
    println!(
        "Round trips: wall time added by {} ms per request, in units of it; lake {}\n",
        options.latency.as_millis(),
        lake.display()
    );
    println!(
        "| query | local (s) | remote (s) | round trips | requests | most in flight | repeat (s) | repeat round trips | repeat requests | footers from disk |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (name, sql) in &queries {
        let (expected, _, _) = runtime.block_on(run(&local, sql));
        let (_, _, on_disk) = runtime.block_on(run(&local, sql));
        let _ = std::fs::remove_dir_all(&cache);
        let (answer, cold, cold_time) = runtime.block_on(run(&remote(), sql));
        assert_eq!(answer, expected, "{name}: the slow store's answer differs");
        let (answer, warm, warm_time) = runtime.block_on(run(&remote(), sql));
        assert_eq!(answer, expected, "{name}: the repeat's answer differs");
        let trips = |took: Duration| (took.saturating_sub(on_disk)).as_secs_f64() / latency;
        let requests = |s: &ScanSummary| s.get_requests + s.list_requests + s.head_requests;
        println!(
            "| {name} | {:.3} | {:.3} | {:.1} | {} | {} | {:.3} | {:.1} | {} | {} |",
            on_disk.as_secs_f64(),
            cold_time.as_secs_f64(),
            trips(cold_time),
            requests(&cold),
            cold.most_in_flight,
            warm_time.as_secs_f64(),
            trips(warm_time),
            requests(&warm),
            warm.footers_cached,
        );
    }
}
