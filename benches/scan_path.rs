//! The scan and aggregate path: views by region over one day and over one month, with the
//! partitions pruned by `dt` and without (the same days chosen by `event_time`, a file column,
//! so every file is opened), each through the dense path and through DataFusion's hash
//! aggregation.
//!
//! Read the results as ratios within one run: dense / hash is what the dense path saves,
//! pruned / not pruned what partition pruning saves, one month / one day how the scan scales.
//! The lake (35 days) is generated once per run into a temporary directory;
//! `MINERVA_BENCH_EVENTS_PER_DAY` scales it (default 100,000).
//!
//! `cargo bench --bench scan_path`

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use minerva_catalog::Catalog;
use minerva_demo::DemoSpec;
use minerva_engine::Engine;
use tokio::runtime::Runtime;

fn answer(runtime: &Runtime, engine: &Engine, sql: &str) -> Vec<String> {
    let batches = runtime
        .block_on(engine.query(sql))
        .expect("the bench query runs");
    let mut rows: Vec<String> = arrow::util::pretty::pretty_format_batches(&batches)
        .expect("printable")
        .to_string()
        .lines()
        .map(str::to_string)
        .collect();
    rows.sort();
    rows
}

fn bench(c: &mut Criterion) {
    let events_per_day = std::env::var("MINERVA_BENCH_EVENTS_PER_DAY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let spec = DemoSpec {
        days: 35,
        events_per_day,
        ..Default::default()
    };
    let lake = tempfile::tempdir().expect("a temporary directory");
    let summary =
        minerva_demo::write_lake(&spec, lake.path(), &|_| {}).expect("the lake is written");
    let engine = |dense| {
        Engine::builder(Catalog::load(&summary.catalog).expect("the catalog opens"))
            .dense_aggregation(dense)
            .build()
    };
    let (dense, hash) = (engine(true), engine(false));
    let runtime = Runtime::new().expect("a runtime");

    let days = [
        ("one day", "DATE '2024-01-15'", "DATE '2024-01-15'"),
        ("one month", "DATE '2024-01-01'", "DATE '2024-01-31'"),
    ];
    let mut group = c.benchmark_group(format!("scan path, {events_per_day} events/day"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for (span, first, last) in days {
        for (pruning, column) in [("pruned", "dt"), ("not pruned", "CAST(event_time AS DATE)")] {
            let sql = format!(
                "SELECT region, count(*) FROM views \
                 WHERE {column} BETWEEN {first} AND {last} AND event_type = 'view' GROUP BY region"
            );
            // Both paths give the same answer: a broken path cannot look fast.
            let expected = answer(&runtime, &hash, &sql);
            assert_eq!(answer(&runtime, &dense, &sql), expected, "{sql}");
            for (path, engine) in [("dense", &dense), ("hash", &hash)] {
                group.bench_function(format!("{span}, {pruning}, {path}"), |b| {
                    b.iter(|| runtime.block_on(engine.query(&sql)).expect("it runs"))
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
