//! Planning a one-day query on a table of 3 years of hourly partitions (26,280), three ways:
//! partition projection (computed, nothing listed), the partition registry (read from the
//! catalog), and listing the Hive layout.
//!
//! Read the three as ratios of each other; the absolute times depend on the machine and its
//! file system cache. The lake (one tiny Parquet file per hour, hard-linked) is built once per
//! run in a temporary directory.
//!
//! `cargo bench --bench partition_planning`

use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{Duration as Hours, NaiveDate};
use criterion::{Criterion, criterion_group, criterion_main};
use minerva_engine::Engine;
use tokio::runtime::Runtime;

const HOURS: i64 = 3 * 365 * 24;
const QUERY: &str = "EXPLAIN SELECT count(*) FROM {table} \
    WHERE datehour BETWEEN '2022-06-15-00' AND '2022-06-15-23'";

/// `datehour=yyyy-MM-dd-HH/part.parquet` for every hour of 2021–2023, and three catalog tables
/// over them.
fn build(root: &Path) {
    let lake = root.join("lake");
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1]))])
        .expect("a batch");
    let template = root.join("part.parquet");
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&template).expect("a file"),
        schema,
        None,
    )
    .expect("a writer");
    writer.write(&batch).expect("written");
    writer.close().expect("closed");

    let start = NaiveDate::from_ymd_opt(2021, 1, 1)
        .expect("a date")
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    let mut registry = String::new();
    for h in 0..HOURS {
        let name = format!(
            "datehour={}",
            (start + Hours::hours(h)).format("%Y-%m-%d-%H")
        );
        let dir = lake.join(&name);
        std::fs::create_dir_all(&dir).expect("a partition directory");
        std::fs::hard_link(&template, dir.join("part.parquet")).expect("a file");
        writeln!(registry, "{name}").expect("a line");
    }

    let catalog = root.join("catalog/default");
    std::fs::create_dir_all(&catalog).expect("the catalog");
    let table = |properties: &str| {
        format!(
            "location = \"../lake\"\ncolumns = [{{ name = \"n\", type = \"bigint\" }}]\n\
             partition_columns = [{{ name = \"datehour\", type = \"string\" }}]\n{properties}"
        )
    };
    let write = |name: &str, text: String| {
        std::fs::write(catalog.join(name), text).expect("a catalog file");
    };
    write("listed.toml", table(""));
    write("registered.toml", table(""));
    write("registered.partitions", registry);
    write(
        "projected.toml",
        table(
            "[properties]\n\
             \"projection.enabled\" = \"true\"\n\
             \"projection.datehour.type\" = \"date\"\n\
             \"projection.datehour.format\" = \"yyyy-MM-dd-HH\"\n\
             \"projection.datehour.range\" = \"2021-01-01-00,2023-12-31-23\"\n\
             \"projection.datehour.interval.unit\" = \"HOURS\"\n\
             \"storage.location.template\" = \"../lake/datehour=${datehour}/\"\n",
        ),
    );
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    build(dir.path());
    let engine = Engine::open(dir.path().join("catalog")).expect("the catalog opens");
    let runtime = Runtime::new().expect("a runtime");

    let mut group = c.benchmark_group("plan one day of 26,280 hourly partitions");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    for (table, method, total) in [
        ("projected", "projection", "of 26280 partitions"),
        ("registered", "registry", "of 26280 partitions"),
        ("listed", "listing", "24 partitions"),
    ] {
        let sql = QUERY.replace("{table}", table);
        group.bench_function(method, |b| {
            b.iter(|| {
                let batches = runtime.block_on(engine.query(&sql)).expect("planned");
                // The plan must really have chosen the day's 24 partitions, by this method.
                let plan = arrow::util::pretty::pretty_format_batches(&batches)
                    .expect("printable")
                    .to_string();
                assert!(
                    plan.contains(&format!("chosen by {method}"))
                        && plan.contains(total)
                        && plan.contains("24 files"),
                    "{plan}"
                );
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
