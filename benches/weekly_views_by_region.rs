//! Weekly views by region over a generated lake, and the same count on one day vs all days.
//!
//! Read the results as ratios: "one day" against "all days" shows what pruning saves; the
//! absolute times depend on the machine. The lake (28 days) is generated once per run into a
//! temporary directory. `MINERVA_BENCH_EVENTS_PER_DAY` scales it (default 200,000).
//!
//! `cargo bench --bench weekly_views_by_region`

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use minerva_demo::DemoSpec;
use minerva_engine::Engine;
use tokio::runtime::Runtime;

const WEEKLY_VIEWS_BY_REGION: &str = "\
    SELECT CAST(date_trunc('week', dt) AS DATE) AS week, region, count(*) AS views \
    FROM views \
    WHERE dt >= DATE '2024-01-01' AND dt < DATE '2024-01-29' AND event_type = 'view' \
    GROUP BY 1, 2";

fn rows(runtime: &Runtime, engine: &Engine, sql: &str) -> usize {
    let batches = runtime
        .block_on(engine.query(sql))
        .expect("the bench query runs");
    batches.iter().map(|b| b.num_rows()).sum()
}

fn bench(c: &mut Criterion) {
    let events_per_day = std::env::var("MINERVA_BENCH_EVENTS_PER_DAY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let spec = DemoSpec {
        days: 28,
        events_per_day,
        ..Default::default()
    };
    let lake = tempfile::tempdir().expect("a temporary directory");
    let summary =
        minerva_demo::write_lake(&spec, lake.path(), &|_| {}).expect("the lake is written");
    let engine = Engine::open(&summary.catalog).expect("the catalog opens");
    let runtime = Runtime::new().expect("a runtime");

    let regions = minerva_demo::regions().len();
    let mut group = c.benchmark_group(format!("{events_per_day} events/day"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));

    group.bench_function("weekly views by region, 4 weeks", |b| {
        b.iter(|| {
            let n = rows(&runtime, &engine, WEEKLY_VIEWS_BY_REGION);
            // Four weeks of (nearly) every region: a broken query cannot look fast.
            assert!(n > 3 * regions && n <= 4 * regions, "{n} rows");
        })
    });
    for (name, filter) in [
        ("views by region, one day", "dt = DATE '2024-01-15'"),
        ("views by region, all days", "true"),
    ] {
        let sql = format!("SELECT region, count(*) FROM views WHERE {filter} GROUP BY region");
        group.bench_function(name, |b| {
            b.iter(|| {
                let n = rows(&runtime, &engine, &sql);
                assert!(n > regions / 2 && n <= regions, "{n} rows");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
