//! The catalog at its boundary: table files in, a predicate on partition columns in, the exact
//! partitions (and how they were found) out, over an in-memory store. One table per way of
//! finding partitions; the expected prefixes are in `snapshots/boundary__selections.snap`.

use std::ops::Bound;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use minerva_catalog::{Catalog, Domain, PartitionFilter, Value, select_partitions};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

const TABLES: &[(&str, &str)] = &[
    (
        "default/projected.toml",
        r#"
location = "memory:///lake/projected"
partition_columns = [{ name = "day", type = "string" }, { name = "hour", type = "int" }]
[properties]
"projection.enabled" = "true"
"projection.day.type" = "date"
"projection.day.format" = "yyyy/MM/dd"
"projection.day.range" = "NOW-2DAYS,NOW"
"projection.hour.type" = "integer"
"projection.hour.range" = "0,23"
"projection.hour.digits" = "2"
"storage.location.template" = "memory:///lake/projected/${day}/${hour}/"
"#,
    ),
    (
        "default/registered.toml",
        r#"
location = "memory:///lake/registered"
partition_columns = [{ name = "dt", type = "date" }, { name = "region", type = "string" }]
"#,
    ),
    (
        "default/registered.partitions",
        "# Registered partitions\ndt=2024-01-01/region=seoul\ndt=2024-01-02/region=busan\tmemory:///late/busan\ndt=2024-01-03/region=seoul\n",
    ),
    (
        "default/listed.toml",
        r#"
location = "memory:///lake/listed"
partition_columns = [{ name = "dt", type = "date" }, { name = "region", type = "string" }]
"#,
    ),
];

/// Objects of the listed table, and a decoy beside it that must never be listed into.
const OBJECTS: &[&str] = &[
    "lake/listed/dt=2024-01-01/region=seoul/a.parquet",
    "lake/listed/dt=2024-01-01/region=busan/a.parquet",
    "lake/listed/dt=2024-01-02/region=seoul/a.parquet",
    "lake/listed/dt=2024-01-03/region=jeju/a.parquet",
    "lake/listed/_temporary/dt=2024-01-09/x.parquet",
    "lake/listed-old/dt=2023-12-31/region=seoul/a.parquet",
];

fn date(s: &str) -> Value {
    Value::Date(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
}

fn string(s: &str) -> Value {
    Value::String(s.to_string())
}

fn filter(domains: Vec<(&str, Domain)>) -> PartitionFilter {
    let mut filter = PartitionFilter::all();
    for (column, domain) in domains {
        filter.and(column, domain);
    }
    filter
}

#[tokio::test]
// Long by design: the cases are a table of data.
async fn selections() {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in TABLES {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let catalog = Catalog::load(dir.path()).unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    for key in OBJECTS {
        store.put(&Path::from(*key), vec![0].into()).await.unwrap();
    }
    let now: DateTime<Utc> = "2024-03-10T15:42:00Z".parse().unwrap();

    let between = |low: &str, high: &str| {
        Domain::range(Bound::Included(date(low)), Bound::Included(date(high)))
    };
    let cases: Vec<(&str, &str, PartitionFilter)> = vec![
        (
            "projected",
            "day = 2024/03/09 and hour in (0, 23)",
            filter(vec![
                ("day", Domain::point(string("2024/03/09"))),
                ("hour", Domain::points([Value::Int(0), Value::Int(23)])),
            ]),
        ),
        (
            "projected",
            "hour = 7 (every day of NOW-2DAYS..NOW)",
            filter(vec![("hour", Domain::point(Value::Int(7)))]),
        ),
        (
            "projected",
            "day outside the range",
            filter(vec![("day", Domain::point(string("2024/01/01")))]),
        ),
        ("registered", "everything", PartitionFilter::all()),
        (
            "registered",
            "dt between 2024-01-02 and 2024-01-31",
            filter(vec![("dt", between("2024-01-02", "2024-01-31"))]),
        ),
        (
            "registered",
            "region = seoul",
            filter(vec![("region", Domain::point(string("seoul")))]),
        ),
        ("listed", "everything", PartitionFilter::all()),
        (
            "listed",
            "dt = 2024-01-01 (spelled, not listed at that level)",
            filter(vec![("dt", Domain::point(date("2024-01-01")))]),
        ),
        (
            "listed",
            "dt >= 2024-01-02 and region in (seoul, jeju)",
            filter(vec![
                (
                    "dt",
                    Domain::range(Bound::Included(date("2024-01-02")), Bound::Unbounded),
                ),
                ("region", Domain::points([string("seoul"), string("jeju")])),
            ]),
        ),
        ("listed", "nothing", filter(vec![("dt", Domain::none())])),
    ];

    let mut report = String::new();
    for (table, described, filter) in &cases {
        let table = catalog.resolve(table).unwrap();
        let selection = select_partitions(&table, store.as_ref(), filter, now)
            .await
            .unwrap();
        let total = selection
            .total
            .map_or_else(|| "?".to_string(), |t| t.to_string());
        report.push_str(&format!(
            "{} where {described}: {} of {total} by {}\n",
            table.qualified_name(),
            selection.partitions.len(),
            selection.method
        ));
        for partition in &selection.partitions {
            report.push_str(&format!(
                "  {} -> {}\n",
                partition.name(table.partition_columns()),
                partition.prefix
            ));
        }
    }
    insta::assert_snapshot!(report);
}
