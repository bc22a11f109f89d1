//! The cost of S3's latency: planning one day against one month, and a query with cold
//! caches against the same query with warm ones, over a store that waits 20 ms per request
//! (object_store's `ThrottledStore` around an in-memory copy of a demo lake, as DataFusion's
//! own IO benches imitate S3).
//!
//! Read the pairs as ratios; only requests cost time here, so the ratios say how many
//! round trips pruning and caching save.
//!
//! `cargo bench --bench s3_latency`

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use minerva_catalog::Catalog;
use minerva_demo::DemoSpec;
use minerva_engine::Engine;
use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::throttle::{ThrottleConfig, ThrottledStore};
use tokio::runtime::Runtime;
use url::Url;

/// What one S3 request costs here: a typical first-byte latency from inside the region.
const REQUEST: Duration = Duration::from_millis(20);

const ONE_DAY: &str = "WHERE dt = DATE '2024-01-15'";
const ONE_MONTH: &str = "WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-31'";

/// A 35-day demo lake copied into an in-memory bucket, and a catalog whose `views` table
/// lives there.
fn lake(runtime: &Runtime, dir: &std::path::Path) -> Arc<InMemory> {
    let spec = DemoSpec {
        days: 35,
        events_per_day: 2_000,
        ..Default::default()
    };
    minerva_demo::write_lake(&spec, dir, &|_| {}).expect("the demo lake");
    let bucket = Arc::new(InMemory::new());
    let views = dir.join("views");
    for entry in walk(&views) {
        let key = entry
            .strip_prefix(&views)
            .expect("under views")
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&entry).expect("a lake file");
        runtime
            .block_on(object_store::ObjectStoreExt::put(
                bucket.as_ref(),
                &Path::from(format!("views/{key}")),
                bytes.into(),
            ))
            .expect("uploaded");
    }
    let table = std::fs::read_to_string(dir.join("catalog/default/views.toml")).expect("table");
    let moved: String = table
        .lines()
        .map(|line| {
            if line.starts_with("location = ") {
                "location = \"s3://lake/views\"\n".to_string()
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(dir.join("catalog/default/views.toml"), moved).expect("table file");
    std::fs::remove_file(dir.join("catalog/default/views_raw.toml")).expect("raw table");
    bucket
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn bench(c: &mut Criterion) {
    let runtime = Runtime::new().expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let bucket = lake(&runtime, dir.path());
    let slow: Arc<dyn ObjectStore> = Arc::new(ThrottledStore::new(
        bucket,
        ThrottleConfig {
            wait_get_per_call: REQUEST,
            wait_list_per_call: REQUEST,
            wait_list_with_delimiter_per_call: REQUEST,
            ..ThrottleConfig::default()
        },
    ));
    let engine = Engine::builder(Catalog::load(dir.path().join("catalog")).expect("catalog"))
        .object_store(Url::parse("s3://lake").expect("a URL"), slow)
        .build();
    let run = |sql: &str, expected: &str| {
        let batches = runtime.block_on(engine.query(sql)).expect("answered");
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .expect("printable")
            .to_string();
        assert!(text.contains(expected), "{sql}: {text}");
    };

    let mut planning = c.benchmark_group("plan over 20 ms requests, caches cold");
    planning
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for (name, filter, partitions) in [
        ("one day", ONE_DAY, "1 partition"),
        ("one month", ONE_MONTH, "31 partitions"),
    ] {
        let sql = format!("EXPLAIN SELECT count(*) FROM views {filter}");
        planning.bench_function(name, |b| {
            b.iter(|| {
                engine.clear_caches();
                run(&sql, partitions);
            })
        });
    }
    planning.finish();

    let mut caching = c.benchmark_group("one-day query over 20 ms requests");
    caching
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let sql = format!("SELECT count(*) AS n FROM views {ONE_DAY}");
    caching.bench_function("uncached", |b| {
        b.iter(|| {
            engine.clear_caches();
            run(&sql, "2000");
        })
    });
    run(&sql, "2000");
    caching.bench_function("cached listings and footers", |b| {
        b.iter(|| run(&sql, "2000"))
    });
    caching.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
