//! The dense aggregation path against DataFusion's hash aggregation: same answers, on the seed
//! queries of `benches/queries/` and on tables with nulls, odd types and sparse ids.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use chrono::NaiveDate;
use minerva_catalog::Catalog;
use minerva_demo::{DemoSpec, RowOrder};
use minerva_engine::Engine;

use crate::support::{
    DemoLake, rows, sql_files, write_parquet, write_parquet_with, write_table_file,
};

/// The dense path, DataFusion's hash aggregation, and the dense path split into partial
/// states and a merge (as a cluster's coordinator plans it), over the same catalog.
fn engines(catalog: &Path) -> (Engine, Engine, Engine) {
    let open = |dense, partials| {
        Engine::builder(Catalog::load(catalog).unwrap())
            .target_partitions(2)
            .dense_aggregation(dense)
            .dense_partials(partials)
            .build()
    };
    (open(true, false), open(false, false), open(true, true))
}

async fn sorted_rows(engine: &Engine, sql: &str) -> Vec<String> {
    let mut answer = rows(engine, sql).await;
    answer.sort();
    answer
}

async fn explain(engine: &Engine, sql: &str) -> String {
    rows(engine, &format!("EXPLAIN {sql}")).await.join("\n")
}

/// The `.sql` files of a directory of the repository, as (file name, text), by name.
fn named_sql(dir: &str) -> Vec<(String, String)> {
    sql_files(dir)
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// The counter `name` of an `EXPLAIN ANALYZE` output, if it shows one.
fn metric(analyzed: &str, name: &str) -> Option<usize> {
    let at = analyzed.find(&format!("{name}="))? + name.len() + 1;
    let digits: String = (analyzed[at..].chars())
        .take_while(char::is_ascii_digit)
        .collect();
    Some(digits.parse().unwrap())
}

/// `sql` answers something, and the same on the dense engine and split into partials as on
/// DataFusion's hash aggregation.
async fn agrees_with_hash(
    (dense, hash, split): &(Engine, Engine, Engine),
    name: &str,
    sql: &str,
    order: RowOrder,
) {
    let expected = sorted_rows(hash, sql).await;
    assert!(!expected.is_empty(), "{name} answers something");
    assert_eq!(
        sorted_rows(dense, sql).await,
        expected,
        "{name} ({order:?})"
    );
    assert_eq!(
        sorted_rows(split, sql).await,
        expected,
        "{name} ({order:?}, split)"
    );
}

/// Each seed query, exactly as the peer benchmark runs it, answers through the dense path and
/// equals DataFusion's own answer.
#[tokio::test]
async fn seed_queries_agree_with_hash_aggregation() {
    // The queries name days of January and early February 2024; several files per day, rows
    // by listing (as compacted) and by time (as a plain conversion leaves them).
    for order in [RowOrder::Listing, RowOrder::Time] {
        let lake = DemoLake::new(DemoSpec {
            start: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            days: 35,
            events_per_day: 1_500,
            rows_per_file: 600,
            // Several row groups a file: read ahead across them.
            rows_per_row_group: 250,
            seed: 11,
            order,
        });
        let engines = engines(&lake.catalog());
        let (dense, hash, split) = &engines;
        let files = named_sql("benches/queries");
        assert_eq!(
            files.len(),
            22,
            "the seed queries and the analysts' next ones"
        );
        for (name, sql) in files {
            agrees_with_hash(&engines, &name, &sql, order).await;
            assert!(
                explain(split, &sql).await.contains("DenseMergeExec"),
                "{name} merges partial states"
            );
            assert!(
                explain(dense, &sql).await.contains("DenseAggregateExec"),
                "{name} takes the dense path"
            );
            assert!(!explain(hash, &sql).await.contains("DenseAggregateExec"));
        }
    }
}

/// The probes (`benches/probes/`: analyst queries of the same shapes, written after the dense
/// path to check it beyond the queries it was built for) answer as DataFusion does, whichever
/// path takes them, on both row orders.
#[tokio::test]
async fn probe_queries_agree_with_hash_aggregation() {
    for order in [RowOrder::Listing, RowOrder::Time] {
        let lake = DemoLake::new(DemoSpec {
            start: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            days: 35,
            events_per_day: 1_000,
            rows_per_file: 400,
            rows_per_row_group: 150,
            seed: 23,
            order,
        });
        let engines = engines(&lake.catalog());
        let files = named_sql("benches/probes");
        assert!(files.len() >= 9, "the probes are there");
        for (name, sql) in files {
            agrees_with_hash(&engines, &name, &sql, order).await;
        }
    }
}

/// Joins of the large table with small ones, grouped by the small side: aggregated below the
/// join on the dense path, with DataFusion's answers, duplicate dimension keys included.
#[tokio::test]
async fn aggregates_below_joins_agree_with_hash_aggregation() {
    let lake = DemoLake::new(DemoSpec {
        start: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        days: 4,
        events_per_day: 3_000,
        rows_per_file: 1_000,
        seed: 5,
        ..Default::default()
    });
    let (dense, hash, split) = engines(&lake.catalog());
    let dimension = "(VALUES ('oneroom', 'rent'), ('officetel', 'rent'), ('apt', 'sale'), ('apt', 'any'), ('nothing', 'none')) AS d(service, segment)";
    let queries = [
        format!(
            "SELECT d.segment, count(*), sum(v.price), min(v.price), max(v.event_time) FROM views v JOIN {dimension} ON v.service = d.service GROUP BY d.segment"
        ),
        format!(
            "SELECT d.segment, v.platform, count(*), count(DISTINCT v.user_id) FROM views v JOIN {dimension} ON v.service = d.service WHERE v.dt = DATE '2024-01-02' GROUP BY 1, 2"
        ),
        format!(
            "SELECT d.segment, count(DISTINCT v.user_id) FROM {dimension} JOIN views v ON d.service = v.service WHERE v.event_type = 'view' GROUP BY 1"
        ),
        "WITH top AS (SELECT * FROM (VALUES (1000000), (1000001), (1000002)) AS t(id)) SELECT count(*), sum(CASE WHEN v.event_type = 'view' THEN 1 ELSE 0 END) FROM views v JOIN top ON v.listing_id = top.id".to_string(),
    ];
    for sql in &queries {
        let expected = sorted_rows(&hash, sql).await;
        assert_eq!(sorted_rows(&dense, sql).await, expected, "{sql}");
        assert_eq!(sorted_rows(&split, sql).await, expected, "{sql} (split)");
        assert!(
            explain(&dense, sql).await.contains("DenseAggregateExec"),
            "{sql} aggregates below the join"
        );
    }
}

/// A join with a few literal rows on a unique key is read as a lookup (issue #17): no hash join,
/// the small side's columns become `CASE`s of the key that the dense path groups per entry.
/// Duplicate keys, NULL keys, keys of other types, expressions of the key and small columns
/// inside aggregates agree with DataFusion's own plan.
#[tokio::test]
async fn joins_with_literal_rows_are_lookups_and_agree_with_hash_aggregation() {
    let lake = DemoLake::new(DemoSpec {
        start: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        days: 3,
        events_per_day: 3_000,
        rows_per_file: 1_000,
        seed: 8,
        ..Default::default()
    });
    let (dense, hash, split) = engines(&lake.catalog());
    let segments = "(VALUES ('oneroom', 'rent', 1), ('officetel', 'rent', 2), ('villa', 'rent', 3), ('apt', 'sale', 4), (NULL, 'none', 5), ('nothing', 'none', 6)) AS d(service, segment, rank)";
    let lookups = [
        format!(
            "SELECT d.segment, count(*), count(DISTINCT v.user_id), sum(v.price) FROM views v JOIN {segments} ON v.service = d.service WHERE v.event_type = 'view' GROUP BY d.segment"
        ),
        format!(
            "SELECT d.segment, d.rank, v.platform, count(*) FROM {segments} JOIN views v ON d.service = v.service GROUP BY 1, 2, 3"
        ),
        format!(
            "SELECT d.segment, min(v.event_time) FROM views v JOIN {segments} ON upper(v.service) = upper(d.service) GROUP BY 1"
        ),
        "SELECT p.label, count(*) FROM views v JOIN (VALUES ('ios', 'phone'), ('android', 'phone'), ('web', 'desktop')) AS p(platform, label) ON v.platform = p.platform GROUP BY 1".to_string(),
    ];
    for sql in &lookups {
        let expected = sorted_rows(&hash, sql).await;
        assert!(!expected.is_empty(), "{sql}");
        assert_eq!(sorted_rows(&dense, sql).await, expected, "{sql}");
        assert_eq!(sorted_rows(&split, sql).await, expected, "{sql} (split)");
        let plan = explain(&dense, sql).await;
        assert!(
            plan.contains("DenseAggregateExec") && !plan.contains("HashJoinExec"),
            "{sql} reads the small side as a lookup:\n{plan}"
        );
    }
    // Aggregates of the small side's columns read them as CASEs too, and an integer key's
    // CASE is one per row: DataFusion aggregates, still without a join.
    let of_small_side = [
        "WITH dims AS (SELECT * FROM (VALUES (1000000, 'first'), (1000001, 'second'), (CAST(1000002 AS INT), 'third')) AS t(id, name)) SELECT dims.name, count(*) FROM views v JOIN dims ON v.listing_id = dims.id GROUP BY 1".to_string(),
        format!(
            "SELECT d.segment, max(d.rank), min(v.event_time) FROM views v JOIN {segments} ON upper(v.service) = upper(d.service) GROUP BY 1"
        ),
        format!(
            "SELECT count(*), sum(d.rank) FROM views v JOIN {segments} ON v.service = d.service WHERE v.dt = DATE '2024-01-02'"
        ),
    ];
    for sql in &of_small_side {
        let expected = sorted_rows(&hash, sql).await;
        assert!(!expected.is_empty(), "{sql}");
        assert_eq!(sorted_rows(&dense, sql).await, expected, "{sql}");
        assert_eq!(sorted_rows(&split, sql).await, expected, "{sql} (split)");
        assert!(
            !explain(&dense, sql).await.contains("HashJoinExec"),
            "{sql}"
        );
    }
    // A key that repeats is no lookup: each row meets both of its small rows.
    let twice = "SELECT d.segment, count(*) FROM views v JOIN (VALUES ('apt', 'sale'), ('apt', 'any')) AS d(service, segment) ON v.service = d.service GROUP BY 1";
    assert_eq!(
        sorted_rows(&dense, twice).await,
        sorted_rows(&hash, twice).await
    );
    assert!(explain(&dense, twice).await.contains("HashJoinExec"));
}

/// The seed queries over the live table (part of its raw day compacted): each side aggregates
/// on its own, the batch side through the dense path, and the answers equal DataFusion's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_queries_over_the_live_table_agree_and_its_batch_side_is_dense() {
    let lake = DemoLake::new(DemoSpec {
        start: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        days: 35,
        events_per_day: 1_000,
        rows_per_file: 1_000,
        seed: 12,
        ..Default::default()
    });
    let (dense, hash, split) = engines(&lake.catalog());
    dense
        .query("COMPACT views_live WHERE datehour <= '2024/02/05/11'")
        .await
        .unwrap();
    let queries = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/queries");
    let mut dense_queries = 0;
    for entry in std::fs::read_dir(&queries).unwrap() {
        let file = entry.unwrap().path();
        if file.extension().is_none_or(|e| e != "sql") {
            continue;
        }
        let sql = std::fs::read_to_string(&file)
            .unwrap()
            .replace("FROM views", "FROM views_live");
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let expected = sorted_rows(&hash, &sql).await;
        assert!(!expected.is_empty(), "{name} answers something");
        assert_eq!(sorted_rows(&dense, &sql).await, expected, "{name}");
        assert_eq!(sorted_rows(&split, &sql).await, expected, "{name} (split)");
        if explain(&dense, &sql).await.contains("DenseAggregateExec") {
            dense_queries += 1;
        }
    }
    assert!(
        dense_queries >= 10,
        "{dense_queries} of 12 seed queries took the dense path"
    );
}

/// Aggregates split through a UNION ALL answer as DataFusion does unsplit: empty branches,
/// nulls, strings, groups and no groups.
#[tokio::test]
async fn aggregates_through_a_union_agree_with_hash_aggregation() {
    let lake = DemoLake::new(DemoSpec {
        days: 3,
        events_per_day: 800,
        rows_per_file: 400,
        ..Default::default()
    });
    let (dense, hash, split) = engines(&lake.catalog());
    let both = "SELECT * FROM views WHERE dt = DATE '2024-01-01' UNION ALL SELECT * FROM views WHERE dt = DATE '2024-01-02' AND price IS NULL";
    let none = "SELECT * FROM views WHERE dt = DATE '2030-01-01' UNION ALL SELECT * FROM views WHERE listing_id < 0";
    for sql in [
        format!(
            "SELECT count(*), count(price), sum(price), min(region), max(event_time) FROM ({both})"
        ),
        format!("SELECT region, count(*), sum(price), max(price) FROM ({both}) GROUP BY region"),
        format!("SELECT count(*), sum(price), min(price) FROM ({none})"),
        format!("SELECT region, count(*) FROM ({none}) GROUP BY region"),
        format!("SELECT dt, count(DISTINCT user_id) FROM ({both}) GROUP BY dt"),
        format!("SELECT DISTINCT service FROM ({both})"),
        format!("SELECT avg(price), count(*) FROM ({both})"),
        format!("SELECT count(*) FROM ({both}) UNION ALL SELECT count(*) FROM ({none})"),
    ] {
        let expected = sorted_rows(&hash, &sql).await;
        assert_eq!(sorted_rows(&dense, &sql).await, expected, "{sql}");
        assert_eq!(sorted_rows(&split, &sql).await, expected, "{sql} (split)");
    }
    assert_eq!(
        sorted_rows(&dense, &format!("SELECT count(*) FROM ({none})")).await,
        ["0"]
    );
}

/// A table with nulls in every kind of key, an Int32 column, ids spread over the whole i64
/// range (beyond any array), decimals, floats and timestamps, and two days of which one has
/// two files.
fn odd_lake(root: &Path) -> std::path::PathBuf {
    let catalog = root.join("catalog");
    write_table_file(
        &catalog,
        "default",
        "odd",
        r#"
location = "../lake/odd"
columns = [
  { name = "s", type = "string" },
  { name = "n", type = "bigint" },
  { name = "k", type = "int" },
  { name = "wide", type = "bigint" },
  { name = "amount", type = "decimal(10,2)" },
  { name = "score", type = "double" },
  { name = "at", type = "timestamp" },
]
partition_columns = [{ name = "dt", type = "date" }]
"#,
    );
    type Row<'a> = (
        Option<&'a str>,
        Option<i64>,
        i32,
        i64,
        Option<i128>,
        Option<f64>,
        Option<i64>,
    );
    let batch = |rows: &[Row]| {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
            Field::new("k", DataType::Int32, false),
            Field::new("wide", DataType::Int64, false),
            Field::new("amount", DataType::Decimal128(10, 2), true),
            Field::new("score", DataType::Float64, true),
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(rows.iter().map(|r| r.0).collect::<StringArray>()),
            Arc::new(rows.iter().map(|r| r.1).collect::<Int64Array>()),
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3))),
            Arc::new(
                rows.iter()
                    .map(|r| r.4)
                    .collect::<Decimal128Array>()
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
            Arc::new(rows.iter().map(|r| r.5).collect::<Float64Array>()),
            Arc::new(
                rows.iter()
                    .map(|r| r.6)
                    .collect::<TimestampMicrosecondArray>(),
            ),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    };
    const H: i64 = 3_600_000_000;
    let day1 = 19_783 * 24 * H; // 2024-03-01
    let lake = root.join("lake/odd");
    write_parquet(
        &lake.join("dt=2024-03-01/a.parquet"),
        &batch(&[
            (
                Some("apple"),
                Some(1),
                7,
                i64::MIN + 1,
                Some(1999),
                Some(0.5),
                Some(day1 + 5),
            ),
            (
                Some("banana"),
                None,
                7,
                0,
                None,
                Some(-2.25),
                Some(day1 + H + 7),
            ),
            (None, Some(2), -3, 1 << 40, Some(-350), None, None),
            (
                Some("apple"),
                Some(1),
                0,
                i64::MAX,
                Some(0),
                Some(1e10),
                Some(day1 + 23 * H),
            ),
            (
                None,
                None,
                5,
                -(1 << 50),
                Some(12),
                Some(3.0),
                Some(day1 + H),
            ),
        ]),
    );
    write_parquet(
        &lake.join("dt=2024-03-01/b.parquet"),
        &batch(&[
            (
                Some("cherry"),
                Some(1_000_000),
                7,
                3,
                Some(99_999_999),
                Some(1.0),
                Some(day1 + 2 * H),
            ),
            (
                Some("apple"),
                Some(-5),
                2,
                0,
                Some(-1),
                None,
                Some(day1 + H + 59),
            ),
        ]),
    );
    write_parquet(
        &lake.join("dt=2024-03-02/a.parquet"),
        &batch(&[
            (
                Some("banana"),
                Some(2),
                1,
                1 << 40,
                Some(5),
                Some(7.5),
                Some(day1 + 24 * H + 1),
            ),
            (Some("apple"), None, 1, 42, None, None, Some(day1 + 30 * H)),
            (
                Some("durian"),
                Some(1),
                9,
                i64::MIN + 1,
                Some(250),
                Some(-0.0),
                Some(day1 + 47 * H),
            ),
        ]),
    );
    catalog
}

#[tokio::test]
async fn nulls_types_sparse_ids_and_empty_answers_agree_with_hash_aggregation() {
    let root = tempfile::tempdir().unwrap();
    let (dense, hash, split) = engines(&odd_lake(root.path()));
    let queries = [
        "SELECT s, count(*), count(n), count(s) FROM odd GROUP BY s",
        "SELECT n, count(*) FROM odd GROUP BY n",
        "SELECT k, count(*) FROM odd GROUP BY k",
        "SELECT dt, s, n, count(*), count(s) FROM odd GROUP BY dt, s, n",
        "SELECT wide, count(*) FROM odd GROUP BY wide",
        "SELECT count(DISTINCT n), count(DISTINCT wide), count(DISTINCT k) FROM odd",
        "SELECT dt, count(DISTINCT wide) FROM odd GROUP BY dt",
        "SELECT s, count(DISTINCT n) FROM odd WHERE s LIKE 'a%' OR s IS NULL GROUP BY s",
        "SELECT count(*) FROM odd WHERE n > 1",
        "SELECT count(*) FROM odd WHERE n > 1 AND k < 8 AND s <> 'cherry'",
        "SELECT count(*), count(DISTINCT n) FROM odd WHERE s = 'nothing'",
        "SELECT s, count(*) FROM odd WHERE s = 'nothing' GROUP BY s",
        "SELECT count(*) FROM odd WHERE dt = DATE '2024-03-09'",
        "SELECT DISTINCT s, n FROM odd",
        "SELECT DISTINCT dt, wide FROM odd",
        "SELECT n, count(*) FROM odd WHERE dt = DATE '2024-03-01' AND s IN ('apple', 'banana') GROUP BY n",
        "SELECT CAST(date_trunc('month', dt) AS DATE), s, count(*) FROM odd GROUP BY 1, 2",
        "SELECT count(*) FROM odd",
        "SELECT 'x' AS label, count(*) FROM odd GROUP BY 1",
        // Sums, extremes and means of integers, decimals, floats; extremes of timestamps.
        "SELECT s, sum(n), min(n), max(n), avg(n), sum(k), avg(k) FROM odd GROUP BY s",
        "SELECT dt, sum(amount), min(amount), max(amount), count(amount) FROM odd GROUP BY dt",
        "SELECT s, sum(score), min(score), max(score), avg(score) FROM odd GROUP BY s",
        "SELECT dt, min(at), max(at), min(k), max(wide), min(wide) FROM odd GROUP BY dt",
        "SELECT sum(n), max(amount), min(at) FROM odd WHERE s = 'nothing'",
        "SELECT s, sum(n) FROM odd WHERE s = 'nothing' GROUP BY s",
        "SELECT sum(1), sum(k) FROM odd",
        // One stream of values answers every aggregate of it; integers cast to floats add up
        // as integers, a fractional constant keeps them floats (issue #17).
        "SELECT dt, avg(amount), sum(amount), count(amount), max(amount), min(amount) FROM odd GROUP BY dt",
        "SELECT s, count(n), avg(k), sum(CAST(k AS DOUBLE)), min(CAST(n AS DOUBLE)), max(n), avg(n) FROM odd GROUP BY s",
        "SELECT s, sum(CASE WHEN n > 0 THEN CAST(n AS DOUBLE) ELSE 0.5 END), avg(CASE WHEN n > 0 THEN n ELSE 0 END) FROM odd GROUP BY s",
        // Without count(*), a group is there only if a row of it passed the filters.
        "SELECT s, sum(n), max(k) FROM odd WHERE k > 1 GROUP BY s",
        "SELECT dt, s, min(score) FROM odd WHERE n < 3 AND s <> 'apple' GROUP BY dt, s",
        // Conditional aggregates: per dictionary entry, per file, per row.
        "SELECT dt, sum(CASE WHEN s = 'apple' THEN 1 ELSE 0 END), count_if(s LIKE '%an%'), count(*) FILTER (WHERE s IS NULL) FROM odd GROUP BY dt",
        "SELECT s, sum(CASE WHEN n > 0 THEN n END), sum(CASE WHEN n > 0 THEN n ELSE 0 END), count(CASE WHEN k = 7 THEN 1 END) FROM odd GROUP BY s",
        "SELECT s, count(*) FILTER (WHERE dt = DATE '2024-03-02'), sum(n) FILTER (WHERE dt = DATE '2024-03-01') FROM odd GROUP BY s",
        "SELECT dt, count(CASE s WHEN 'apple' THEN 1 END), max(CASE WHEN s = 'apple' THEN amount END) FROM odd GROUP BY dt",
        "SELECT count(DISTINCT CASE WHEN s = 'apple' THEN wide END), count(DISTINCT n) FILTER (WHERE k > 1) FROM odd",
        "SELECT n, count(*), count(*) FILTER (WHERE s = 'apple'), count_if(k > 1) FROM odd GROUP BY n",
        "SELECT s, avg(CASE WHEN score > 0 THEN score END), sum(CASE WHEN at IS NULL THEN 0 ELSE 1 END) FROM odd GROUP BY s",
        // Keys computed from one column: per hour, per day, per entry, per row.
        "SELECT hour(at), count(*), sum(n) FROM odd GROUP BY 1",
        "SELECT date_trunc('hour', at), s, count(*) FROM odd GROUP BY 1, 2",
        "SELECT CAST(at AS DATE), date_trunc('day', at), count(*) FROM odd GROUP BY 1, 2",
        "SELECT day_of_week(at), count(*) FROM odd WHERE at IS NOT NULL GROUP BY 1",
        "SELECT date_trunc('minute', at), count(*) FROM odd GROUP BY 1",
        // Fails on an hour no row has (5): only the rows' own hours are evaluated then.
        "SELECT 1 / (hour(at) - 5), count(*) FROM odd GROUP BY 1",
        "SELECT upper(s), count(*) FROM odd GROUP BY 1",
        "SELECT substr(s, 1, 1), coalesce(s, '?'), count(*), min(k) FROM odd GROUP BY 1, 2",
    ];
    for sql in queries {
        let expected = sorted_rows(&hash, sql).await;
        assert_eq!(sorted_rows(&dense, sql).await, expected, "{sql}");
        assert_eq!(sorted_rows(&split, sql).await, expected, "{sql} (split)");
        assert!(
            explain(&dense, sql).await.contains("DenseAggregateExec"),
            "{sql} takes the dense path"
        );
    }
    // An empty filter answers one row of zeros without GROUP BY, no rows with it.
    assert_eq!(
        rows(
            &dense,
            "SELECT count(*), count(DISTINCT n) FROM odd WHERE s = 'nothing'"
        )
        .await,
        ["0|0"]
    );

    // A sum is exact or an error: DataFusion's hash aggregation wraps around.
    let overflow = dense
        .execute("SELECT sum(wide) FROM odd WHERE wide > 0")
        .await;
    let error = match overflow {
        Ok(mut output) => loop {
            match futures::StreamExt::next(&mut output.stream).await {
                Some(Err(e)) => break e.to_string(),
                Some(Ok(_)) => continue,
                None => panic!("an overflowing sum answered"),
            }
        },
        Err(e) => e.to_string(),
    };
    assert!(error.contains("overflows"), "{error}");

    // Shapes the dense path does not answer fall back to DataFusion, with the same answers.
    let others = [
        "SELECT s, count(DISTINCT wide + 1) FROM odd GROUP BY s",
        "SELECT n, sum(k) FROM odd GROUP BY n",
        "SELECT count(*) FROM odd WHERE s = CAST(n AS VARCHAR)",
        "SELECT sum(n * 2) FROM odd",
        "SELECT sum(CASE WHEN s = 'apple' THEN 1 WHEN s = 'banana' THEN 2 ELSE 0 END) FROM odd",
        "SELECT at, count(*) FROM odd GROUP BY at",
    ];
    for sql in others {
        let expected = sorted_rows(&hash, sql).await;
        assert_eq!(sorted_rows(&dense, sql).await, expected, "{sql}");
        assert_eq!(sorted_rows(&split, sql).await, expected, "{sql} (split)");
        assert!(
            !explain(&dense, sql).await.contains("DenseAggregateExec"),
            "{sql} is left to DataFusion"
        );
    }
}

/// Keys of several integer columns (no dense array indexes their pairs) are counted as the
/// distinct rows of the keys, with the same answers as DataFusion's hash aggregation: NULLs,
/// the extremes of `bigint`, `int` next to `bigint`, with partition and text keys, filtered and
/// empty.
#[tokio::test]
async fn several_integer_keys_are_counted_as_distinct_rows() {
    let root = tempfile::tempdir().unwrap();
    let (dense, hash, split) = engines(&odd_lake(root.path()));
    let by_rows = [
        "SELECT DISTINCT n, k FROM odd",
        "SELECT n, wide, count(*) FROM odd GROUP BY 1, 2",
        "SELECT count(*) FROM (SELECT DISTINCT k, wide FROM odd WHERE s = 'apple') AS p",
        "SELECT k, n, count(*) AS c, count(1) FROM odd WHERE dt = DATE '2024-03-01' GROUP BY k, n",
        "SELECT n, k, dt, count(*) FROM odd GROUP BY 1, 2, 3",
        "SELECT s, n, k, count(*) FROM odd WHERE n IS NOT NULL OR k > 4 GROUP BY 1, 2, 3",
        "SELECT wide, n, k FROM odd GROUP BY wide, n, k",
        "SELECT DISTINCT n, k FROM odd WHERE dt = DATE '2030-01-01'",
        "SELECT count(*) FROM (SELECT DISTINCT n, k FROM odd WHERE s = 'nothing') AS p",
        "SELECT n, k, count(*) FROM odd GROUP BY 1, 2 HAVING count(*) > 1",
        // count(DISTINCT) per integer keys: DataFusion makes it a count over distinct rows,
        // counted per the other keys in one node (NULLs not counted, a group of NULLs 0).
        "SELECT k, count(DISTINCT n) AS c FROM odd GROUP BY k",
        "SELECT n, count(DISTINCT k) FROM odd GROUP BY n",
        "SELECT dt, k, count(DISTINCT wide) FROM odd WHERE s <> 'cherry' GROUP BY dt, k",
        "SELECT wide, count(DISTINCT n) FROM odd GROUP BY wide HAVING count(DISTINCT n) > 0",
    ];
    for sql in by_rows {
        let expected = sorted_rows(&hash, sql).await;
        assert_eq!(sorted_rows(&dense, sql).await, expected, "{sql}");
        assert_eq!(sorted_rows(&split, sql).await, expected, "{sql} (split)");
        let plan = explain(&dense, sql).await;
        assert!(plan.contains("DistinctRowsExec"), "{sql}: {plan}");
    }
    let plan = explain(&dense, by_rows[10]).await;
    assert!(
        plan.contains("keys=[k], aggregates=[count(DISTINCT n)]")
            && !plan.contains("AggregateExec:"),
        "one node counts the distinct values: {plan}"
    );
    // With another aggregate beside it, DataFusion's rewrite aggregates the distinct rows.
    let sql = "SELECT k, count(DISTINCT n), count(*) FROM odd GROUP BY k";
    assert_eq!(
        sorted_rows(&dense, sql).await,
        sorted_rows(&hash, sql).await
    );
    // A cluster distributes DataFusion's aggregation.
    assert!(
        !explain(&split, by_rows[0])
            .await
            .contains("DistinctRowsExec")
    );
    // Other aggregates of integer pairs are left to DataFusion.
    for sql in [
        "SELECT n, k, sum(wide) FROM odd GROUP BY 1, 2",
        "SELECT n, k, count(s) FROM odd GROUP BY 1, 2",
        "SELECT n, k, count(*) FILTER (WHERE s = 'apple') FROM odd GROUP BY 1, 2",
    ] {
        let expected = sorted_rows(&hash, sql).await;
        assert_eq!(sorted_rows(&dense, sql).await, expected, "{sql}");
        let plan = explain(&dense, sql).await;
        assert!(
            !plan.contains("DistinctRowsExec") && !plan.contains("DenseAggregateExec"),
            "{sql}: {plan}"
        );
    }
    // EXPLAIN ANALYZE says the rows were folded in parts.
    let analyzed = rows(&dense, &format!("EXPLAIN ANALYZE {}", by_rows[1]))
        .await
        .join("\n");
    assert!(
        analyzed.contains("partitioned_distinct_rows="),
        "{analyzed}"
    );
}

/// A text key whose files gave up on a dictionary (ids, URLs) is answered by DataFusion's hash
/// aggregation instead, with the same answer.
#[tokio::test]
async fn text_keys_without_dictionaries_fall_back_to_hash_aggregation() {
    let root = tempfile::tempdir().unwrap();
    let catalog = root.path().join("catalog");
    write_table_file(
        &catalog,
        "default",
        "sessions",
        r#"
location = "../lake/sessions"
columns = [{ name = "user_id", type = "bigint" }, { name = "session", type = "string" }]
partition_columns = [{ name = "dt", type = "date" }]
"#,
    );
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int64, false),
        Field::new("session", DataType::Utf8, true),
    ]));
    for (day, dictionary) in [("2024-03-01", false), ("2024-03-02", true)] {
        let users = Int64Array::from_iter_values((0..3_000).map(|i| i % 700));
        let sessions: StringArray = (0..3_000)
            .map(|i| (i % 11 != 0).then(|| format!("s{:05}", i % 1_900)))
            .collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(users), Arc::new(sessions)],
        )
        .unwrap();
        let path = root
            .path()
            .join(format!("lake/sessions/dt={day}/a.parquet"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let properties = parquet::file::properties::WriterProperties::builder()
            .set_dictionary_enabled(dictionary)
            .build();
        let mut writer = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            Arc::clone(&schema),
            Some(properties),
        )
        .unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }
    let (dense, hash, split) = engines(&catalog);
    for sql in [
        "SELECT count(*) FROM (SELECT DISTINCT user_id, session FROM sessions)",
        "SELECT DISTINCT user_id, session FROM sessions WHERE dt = DATE '2024-03-01'",
        "SELECT DISTINCT dt, session FROM sessions",
        "SELECT session, count(*) AS n, count(1) AS m FROM sessions GROUP BY session",
        "SELECT session, count(*) FROM sessions WHERE session LIKE 's01%' AND user_id > 20 GROUP BY 1",
        "SELECT substr(session, 1, 4) AS prefix, user_id % 3 AS r, count(*) FROM sessions GROUP BY 1, 2",
        "SELECT session, count(*) FROM sessions GROUP BY 1 HAVING count(*) > 2",
        "SELECT user_id, session, count(*) FROM sessions GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 5",
        "SELECT session, count(*), sum(user_id) FROM sessions GROUP BY session",
        "SELECT dt, session, count(DISTINCT user_id) FROM sessions WHERE dt = DATE '2024-03-01' GROUP BY 1, 2",
        "SELECT dt, session, count(*) FROM sessions WHERE dt = DATE '2024-03-02' GROUP BY 1, 2",
    ] {
        let expected = sorted_rows(&hash, sql).await;
        assert!(!expected.is_empty());
        assert_eq!(sorted_rows(&dense, sql).await, expected, "{sql}");
        assert_eq!(sorted_rows(&split, sql).await, expected, "{sql} (split)");
    }
    // The day written without dictionaries takes the fallback; the other stays dense.
    let analyze = |day: &str| {
        format!(
            "EXPLAIN ANALYZE SELECT session, count(*) FROM sessions WHERE dt = DATE '{day}' GROUP BY 1"
        )
    };
    let fallback = rows(&dense, &analyze("2024-03-01")).await.join("\n");
    assert!(fallback.contains("hash_fallback=1"), "{fallback}");
    // A count per group is answered by the partitioned distinct rows, not a two-phase
    // aggregation.
    assert!(
        fallback.contains("partitioned_distinct_rows="),
        "{fallback}"
    );
    let sums = rows(
        &dense,
        "EXPLAIN ANALYZE SELECT session, sum(user_id) FROM sessions WHERE dt = DATE '2024-03-01' GROUP BY 1",
    )
    .await
    .join("\n");
    assert!(sums.contains("hash_fallback=1"), "{sums}");
    assert!(!sums.contains("partitioned_distinct_rows"), "{sums}");
    // The fallback reads the files the scan chose: its partition is chosen and reported once.
    assert_eq!(
        fallback.matches("default.sessions: 1 partition").count(),
        1,
        "{fallback}"
    );
    assert!(
        !rows(&dense, &analyze("2024-03-02"))
            .await
            .join("\n")
            .contains("hash_fallback")
    );
    // Split into partial states, the choice is made when the plan is: by the same footers, a
    // day without dictionaries is DataFusion's (distributable) plan, the other day merges.
    let plan = |day: &str| {
        format!("EXPLAIN SELECT session, count(*) FROM sessions WHERE dt = DATE '{day}' GROUP BY 1")
    };
    let without = rows(&split, &plan("2024-03-01")).await.join("\n");
    assert!(
        !without.contains("DenseMergeExec") && without.contains("AggregateExec"),
        "{without}"
    );
    let with = rows(&split, &plan("2024-03-02")).await.join("\n");
    assert!(with.contains("DenseMergeExec"), "{with}");
    assert!(with.contains("mode=partial"), "{with}");
}

/// A text filter that drops most rows in long runs is applied by the reader first, so the
/// other columns are decoded only where rows pass; one that keeps many rows, or drops them a
/// row here and there, is checked per row after decoding. Same answers either way, and EXPLAIN
/// ANALYZE counts the row groups read filters first.
#[tokio::test]
async fn selective_text_filters_are_applied_first() {
    let root = tempfile::tempdir().unwrap();
    let catalog = root.path().join("catalog");
    write_table_file(
        &catalog,
        "default",
        "events",
        r#"
location = "../lake/events"
columns = [
  { name = "kind", type = "string" },
  { name = "region", type = "string" },
  { name = "n", type = "bigint" },
]
partition_columns = [{ name = "dt", type = "date" }]
"#,
    );
    let schema = Arc::new(Schema::new(vec![
        Field::new("kind", DataType::Utf8, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("n", DataType::Int64, true),
    ]));
    // Twelve files of one row group each. Runs of five: no kind (5%), `rare` (2%); one row in
    // twenty alone: `odd` (5%); the rest alternate `common` and `usual`. Regions in runs of 100.
    const FILES: usize = 12;
    for file in 0..FILES {
        let rows = 0..1_000_usize;
        let kinds: StringArray = (rows.clone())
            .map(|i| match i {
                _ if i % 100 >= 95 => None,
                _ if i % 250 < 5 => Some("rare"),
                _ if i % 20 == 10 => Some("odd"),
                _ if i % 2 == 0 => Some("common"),
                _ => Some("usual"),
            })
            .collect();
        let regions: StringArray = (rows.clone())
            .map(|i| Some(["north", "south", "east"][(i / 100 + file) % 3]))
            .collect();
        let numbers: Int64Array = rows
            .map(|i| (i % 9 != 4).then_some(i as i64 - 300))
            .collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(kinds), Arc::new(regions), Arc::new(numbers)],
        )
        .unwrap();
        write_parquet(
            &root
                .path()
                .join(format!("lake/events/dt=2024-03-01/part-{file:02}.parquet")),
            &batch,
        );
    }
    let (dense, hash, split) = engines(&catalog);
    let first = |analyzed: &str| metric(analyzed, "text_filters_first").expect(analyzed);
    for (sql, selective) in [
        (
            "SELECT region, count(*), sum(n) FROM events WHERE kind = 'rare' GROUP BY 1",
            true,
        ),
        (
            "SELECT n, count(*) FROM events WHERE kind IN ('rare', 'gone') AND n > 0 GROUP BY 1",
            true,
        ),
        (
            "SELECT region, count(*) FROM events WHERE kind IS NULL AND region <> 'east' GROUP BY 1",
            true,
        ),
        // Conditions on a column after one only the filter reads (left out once applied).
        (
            "SELECT count(*) FILTER (WHERE region = 'north'), sum(CASE WHEN region <> 'east' THEN n END), count(*) FROM events WHERE kind = 'rare'",
            true,
        ),
        (
            "SELECT region, count(*), min(n) FROM events WHERE kind <> 'rare' GROUP BY 1",
            false,
        ),
        (
            "SELECT region, count(n) FROM events WHERE kind LIKE '%u%' GROUP BY 1",
            false,
        ),
        (
            "SELECT region, count(*) FROM events WHERE kind = 'odd' GROUP BY 1",
            false,
        ),
    ] {
        let expected = sorted_rows(&hash, sql).await;
        assert!(!expected.is_empty(), "{sql}");
        assert_eq!(sorted_rows(&dense, sql).await, expected, "{sql}");
        assert_eq!(sorted_rows(&split, sql).await, expected, "{sql} (split)");
        let analyzed = rows(&dense, &format!("EXPLAIN ANALYZE {sql}"))
            .await
            .join("\n");
        assert!(analyzed.contains("DenseAggregateExec"), "{analyzed}");
        let first = first(&analyzed);
        if selective {
            assert_eq!(first, FILES, "every row group: {analyzed}");
        } else {
            // Each of the two workers tries once, then checks rows after decoding.
            assert!((1..=2).contains(&first), "{analyzed}");
        }
    }
    // Without text filters, nothing to say.
    let analyzed = rows(
        &dense,
        "EXPLAIN ANALYZE SELECT kind, count(*) FROM events GROUP BY 1",
    )
    .await
    .join("\n");
    assert!(!analyzed.contains("text_filters_first"), "{analyzed}");
}

/// `bigint` columns only aggregates read are decoded from their pages by the dense path
/// (`int64_pages_decoded`) wherever every row is read, whatever the pages' encoding, version and
/// nulls; chunks of other encodings are read by the Parquet reader. Answers equal DataFusion's.
#[tokio::test]
async fn bigint_operands_are_decoded_from_their_pages() {
    use parquet::basic::Encoding;
    use parquet::file::properties::{WriterProperties, WriterVersion};
    use parquet::schema::types::ColumnPath;

    let root = tempfile::tempdir().unwrap();
    let catalog = root.path().join("catalog");
    write_table_file(
        &catalog,
        "default",
        "events",
        r#"
location = "../lake/events"
columns = [
  { name = "kind", type = "string" },
  { name = "n", type = "bigint" },
  { name = "m", type = "bigint" },
]
partition_columns = [{ name = "dt", type = "date" }]
"#,
    );
    let schema = Arc::new(Schema::new(vec![
        Field::new("kind", DataType::Utf8, true),
        Field::new("n", DataType::Int64, true),
        Field::new("m", DataType::Int64, false),
    ]));
    let props = |dictionary: bool, v2: bool, encoding: Option<Encoding>| {
        let mut props = WriterProperties::builder()
            .set_column_dictionary_enabled(ColumnPath::from("n"), dictionary)
            .set_column_dictionary_enabled(ColumnPath::from("m"), dictionary)
            .set_data_page_row_count_limit(300)
            .set_write_batch_size(100)
            .set_max_row_group_row_count(Some(1_000))
            .set_writer_version(match v2 {
                true => WriterVersion::PARQUET_2_0,
                false => WriterVersion::PARQUET_1_0,
            });
        if let Some(encoding) = encoding {
            for column in ["n", "m"] {
                props = props.set_column_encoding(ColumnPath::from(column), encoding);
            }
        }
        props.build()
    };
    // Per file: its writer, and whether its `n` chunks are decoded here.
    let files = [
        (props(true, false, None), true),
        (props(true, true, None), true),
        (props(false, false, None), true),
        (props(false, true, Some(Encoding::PLAIN)), true),
        (
            props(false, false, Some(Encoding::DELTA_BINARY_PACKED)),
            false,
        ),
    ];
    for (f, (props, _)) in files.iter().enumerate() {
        let rows = 0..2_500_usize;
        let kinds: StringArray = (rows.clone())
            .map(|i| (i % 11 != 3).then(|| ["view", "call", "share"][(i / 7 + f) % 3]))
            .collect();
        // Runs and scattered values, nulls in runs and alone; one day all null.
        let n: Int64Array = (rows.clone())
            .map(|i| match (f, i % 50) {
                (2, _) => None,
                (_, 0..10) => Some(1_000),
                (_, 10..13) => None,
                _ if i % 17 == 0 => None,
                _ => Some((i as i64 * 7919) % 100_003 - 50_000),
            })
            .collect();
        let m: Int64Array = rows.map(|i| Some((i % 13) as i64 - 6)).collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(kinds), Arc::new(n), Arc::new(m)],
        )
        .unwrap();
        let path = root
            .path()
            .join(format!("lake/events/dt=2024-03-0{}/part.parquet", f + 1));
        write_parquet_with(&path, &batch, Some(props.clone()));
    }
    let decoded = |analyzed: &str| metric(analyzed, "int64_pages_decoded").unwrap_or(0);
    // Three row groups a file; the files whose `n` chunks are decoded.
    let chunks = 3 * files.iter().filter(|(_, decoded)| *decoded).count();
    let (dense, hash, split) = engines(&catalog);
    for (sql, expected) in [
        (
            "SELECT kind, sum(n), min(n), max(n), avg(n), count(n), count(*) FROM events GROUP BY 1",
            chunks,
        ),
        ("SELECT sum(n), count(n) FROM events", chunks),
        (
            "SELECT dt, sum(n), sum(m) FROM events GROUP BY dt",
            2 * chunks,
        ),
        (
            "SELECT kind, sum(CASE WHEN kind = 'call' THEN n END), count(DISTINCT n) FROM events GROUP BY 1",
            chunks,
        ),
        // A row filter: every column through the reader.
        ("SELECT kind, sum(n) FROM events WHERE m > 0 GROUP BY 1", 0),
        // `n` is also a condition's: through the reader; `m` decoded.
        (
            "SELECT kind, sum(n), count(*) FILTER (WHERE n > 0), max(m) FROM events GROUP BY 1",
            chunks,
        ),
    ] {
        let want = sorted_rows(&hash, sql).await;
        assert!(!want.is_empty(), "{sql}");
        assert_eq!(sorted_rows(&dense, sql).await, want, "{sql}");
        assert_eq!(sorted_rows(&split, sql).await, want, "{sql} (split)");
        let analyzed = rows(&dense, &format!("EXPLAIN ANALYZE {sql}"))
            .await
            .join("\n");
        assert!(analyzed.contains("DenseAggregateExec"), "{analyzed}");
        assert_eq!(decoded(&analyzed), expected, "{sql}: {analyzed}");
    }
}

/// The dense path goes through the query's accounting like any scan: it reads only the chosen
/// partition's files and reports them.
#[tokio::test]
async fn dense_scans_read_only_the_chosen_partitions() {
    let lake = DemoLake::new(DemoSpec {
        start: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        days: 10,
        events_per_day: 500,
        rows_per_file: 500,
        seed: 3,
        ..Default::default()
    });
    let (dense, _, _) = engines(&lake.catalog());
    let mut output = dense
        .execute("SELECT region, count(*) FROM views WHERE dt = DATE '2024-01-04' GROUP BY 1")
        .await
        .unwrap();
    while futures::StreamExt::next(&mut output.stream).await.is_some() {}
    let summary = output.stats.summary();
    assert_eq!(summary.partitions_read, 1, "{summary}");
    assert_eq!(summary.objects, 1, "only the day's file is read: {summary}");
    assert!(summary.bytes > 0, "{summary}");
}

/// A filter on a column the rows are sorted by (ids by listing, times in time order) reads only
/// the pages whose page index does not rule them out, and answers as DataFusion does: over
/// files with and without a page index, nulls, several row groups, pages of uneven rows, and
/// filters that keep a page's rows, a run of pages, no page, or every row.
#[tokio::test]
async fn filters_on_sorted_columns_read_only_the_pages_they_may_match() {
    use parquet::file::properties::{EnabledStatistics, WriterProperties};

    let root = tempfile::tempdir().unwrap();
    let catalog = root.path().join("catalog");
    write_table_file(
        &catalog,
        "default",
        "events",
        r#"
location = "../lake/events"
columns = [
  { name = "id", type = "bigint" },
  { name = "kind", type = "string" },
  { name = "n", type = "bigint" },
  { name = "at", type = "timestamp" },
]
partition_columns = [{ name = "dt", type = "date" }]
"#,
    );
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("kind", DataType::Utf8, true),
        Field::new("n", DataType::Int64, true),
        Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
    ]));
    const H: i64 = 3_600_000_000;
    let day = 19_783 * 24 * H; // 2024-03-01
    // Per file: its page statistics (none: no page index) and how its ids run.
    for (f, statistics) in [
        EnabledStatistics::Page,
        EnabledStatistics::Page,
        EnabledStatistics::Chunk,
    ]
    .into_iter()
    .enumerate()
    {
        let rows = 0..3_000_i64;
        // Sorted ids, each repeated a varying number of times; nulls last.
        let id: Int64Array = (rows.clone())
            .map(|i| (i < 2_950).then_some(1_000 + (i * i) / 9_000 + f as i64))
            .collect();
        let kind: StringArray = (rows.clone())
            .map(|i| (i % 13 != 5).then(|| ["view", "call", "share"][(i % 7 % 3) as usize]))
            .collect();
        let n: Int64Array = (rows.clone())
            .map(|i| (i % 11 != 0).then_some((i * 37) % 1_001 - 500))
            .collect();
        let at: TimestampMicrosecondArray = rows
            .map(|i| (i % 97 != 3).then_some(day + f as i64 * 24 * H + i * 28_800_000))
            .collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(id), Arc::new(kind), Arc::new(n), Arc::new(at)],
        )
        .unwrap();
        let props = WriterProperties::builder()
            .set_statistics_enabled(statistics)
            .set_data_page_row_count_limit(64)
            .set_write_batch_size(32)
            .set_max_row_group_row_count(Some(1_100))
            .build();
        let path = root
            .path()
            .join(format!("lake/events/dt=2024-03-0{}/part.parquet", f + 1));
        write_parquet_with(&path, &batch, Some(props));
    }
    // "T total → M matched": pages looked at, and kept.
    let pages = |analyzed: &str| -> (usize, usize) {
        let name = "page_index_pages_pruned=";
        let at = analyzed.find(name).expect("the page index metric") + name.len();
        let numbers: Vec<usize> = analyzed[at..]
            .split(' ')
            .take(4)
            .filter_map(|word| word.parse().ok())
            .collect();
        (numbers[0], numbers[1])
    };
    let (dense, hash, split) = engines(&catalog);
    for (sql, pruned) in [
        (
            "SELECT kind, count(*), sum(n), min(at) FROM events WHERE id = 1100 GROUP BY 1",
            true,
        ),
        (
            "SELECT dt, count(*), count(DISTINCT id) FROM events WHERE id BETWEEN 1010 AND 1200 AND kind = 'view' GROUP BY 1",
            true,
        ),
        (
            "SELECT date_trunc('hour', at), count(*), avg(n) FROM events \
             WHERE at >= TIMESTAMP '2024-03-02 05:00:00' AND at < TIMESTAMP '2024-03-02 07:30:00' GROUP BY 1",
            true,
        ),
        // An id of no row group (ruled out by their statistics: no page looked at); every
        // id (the pages of nulls only are left out); values of every page.
        ("SELECT count(*), sum(n) FROM events WHERE id = 999", false),
        (
            "SELECT kind, count(*), max(n) FROM events WHERE id >= 0 GROUP BY 1",
            true,
        ),
        (
            "SELECT kind, count(*), min(id) FROM events WHERE n >= -500 GROUP BY 1",
            false,
        ),
        (
            "SELECT count(*) FROM events WHERE id IS NULL OR id = 1500",
            true,
        ),
        // Two columns in one condition: no page can be ruled out by one column's index.
        (
            "SELECT count(*) FROM events WHERE id = 1500 OR n = 7",
            false,
        ),
    ] {
        let want = sorted_rows(&hash, sql).await;
        assert!(!want.is_empty(), "{sql}");
        assert_eq!(sorted_rows(&dense, sql).await, want, "{sql}");
        assert_eq!(sorted_rows(&split, sql).await, want, "{sql} (split)");
        let analyzed = rows(&dense, &format!("EXPLAIN ANALYZE {sql}"))
            .await
            .join("\n");
        assert!(analyzed.contains("DenseAggregateExec"), "{analyzed}");
        let (looked_at, kept) = pages(&analyzed);
        assert_eq!(kept < looked_at, pruned, "{sql}: {analyzed}");
    }
}

/// Keys that are functions constant within an hour of a timestamp (or a day of a date) are
/// known from the page index where a page's values fall in one hour: such runs of pages are
/// read without their timestamps. Answers equal DataFusion's over rows in time order (pages
/// within an hour and across two, a page with a null), rows out of order (no runs), a file
/// without a page index, with text filters applied first, a row filter, decoded `bigint`
/// operands, and where the timestamp is read for something else too (no runs).
#[tokio::test]
async fn hourly_keys_of_sorted_times_are_read_from_the_page_index() {
    use parquet::file::properties::{EnabledStatistics, WriterProperties};

    let root = tempfile::tempdir().unwrap();
    let catalog = root.path().join("catalog");
    write_table_file(
        &catalog,
        "default",
        "events",
        r#"
location = "../lake/events"
columns = [
  { name = "id", type = "bigint" },
  { name = "kind", type = "string" },
  { name = "n", type = "bigint" },
  { name = "at", type = "timestamp" },
  { name = "day", type = "date" },
]
partition_columns = [{ name = "dt", type = "date" }]
"#,
    );
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("kind", DataType::Utf8, true),
        Field::new("n", DataType::Int64, true),
        Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new("day", DataType::Date32, true),
    ]));
    const S: i64 = 1_000_000;
    let start = 19_783 * 86_400 * S; // 2024-03-01
    // Per file: its page statistics, and whether its rows are in time order.
    for (f, (statistics, sorted)) in [
        (EnabledStatistics::Page, true),
        (EnabledStatistics::Page, false),
        (EnabledStatistics::Chunk, true),
    ]
    .into_iter()
    .enumerate()
    {
        let rows = 0..4_000_i64;
        // 25 s apart: a page of 64 rows spans 27 minutes, within an hour or across two.
        let second = |i: i64| match sorted {
            true => i * 25,
            false => (i * 7_919) % 4_000 * 25,
        };
        let id: Int64Array = (rows.clone()).map(|i| Some(i / 3)).collect();
        let kind: StringArray = (rows.clone())
            .map(|i| (i % 13 != 5).then(|| ["view", "call", "share"][(i % 7 % 3) as usize]))
            .collect();
        let n: Int64Array = (rows.clone())
            .map(|i| (i % 11 != 0).then_some((i * 37) % 1_001 - 500))
            .collect();
        let at: TimestampMicrosecondArray = (rows.clone())
            .map(|i| (i != 1_000).then_some(start + f as i64 * 86_400 * S + second(i) * S))
            .collect();
        let day: arrow::array::Date32Array = rows
            .map(|i| Some(19_783 + f as i32 * 3 + (second(i) / 40_000) as i32))
            .collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(id),
                Arc::new(kind),
                Arc::new(n),
                Arc::new(at),
                Arc::new(day),
            ],
        )
        .unwrap();
        let props = WriterProperties::builder()
            .set_statistics_enabled(statistics)
            .set_data_page_row_count_limit(64)
            .set_write_batch_size(32)
            .set_max_row_group_row_count(Some(1_500))
            .build();
        let path = root
            .path()
            .join(format!("lake/events/dt=2024-03-0{}/part.parquet", f + 1));
        write_parquet_with(&path, &batch, Some(props));
    }
    let (dense, hash, split) = engines(&catalog);
    for (sql, from_index) in [
        (
            "SELECT hour(at), count(*), sum(n), max(n) FROM events GROUP BY 1",
            true,
        ),
        (
            "SELECT date_trunc('hour', at), count(*), avg(n) FROM events WHERE kind = 'call' GROUP BY 1",
            true,
        ),
        (
            "SELECT extract(hour FROM at), day_of_week(at), count(*), min(n) FROM events \
             WHERE id BETWEEN 100 AND 900 GROUP BY 1, 2",
            true,
        ),
        (
            "SELECT kind, CAST(at AS DATE), count(*) FROM events GROUP BY 1, 2",
            true,
        ),
        ("SELECT month(day), count(*) FROM events GROUP BY 1", true),
        // The timestamps are read for more than the key: decoded.
        (
            "SELECT hour(at), count(*), min(at) FROM events GROUP BY 1",
            false,
        ),
        (
            "SELECT hour(at), count(*) FROM events WHERE at > TIMESTAMP '2024-03-01 05:00:00' GROUP BY 1",
            false,
        ),
        // Not constant within an hour.
        (
            "SELECT date_trunc('minute', at), count(*) FROM events GROUP BY 1",
            false,
        ),
    ] {
        let want = sorted_rows(&hash, sql).await;
        assert!(!want.is_empty(), "{sql}");
        assert_eq!(sorted_rows(&dense, sql).await, want, "{sql}");
        assert_eq!(sorted_rows(&split, sql).await, want, "{sql} (split)");
        let analyzed = rows(&dense, &format!("EXPLAIN ANALYZE {sql}"))
            .await
            .join("\n");
        assert!(analyzed.contains("DenseAggregateExec"), "{analyzed}");
        let runs = metric(&analyzed, "key_runs_from_page_index").unwrap_or(0);
        assert_eq!(runs > 0, from_index, "{sql}: {analyzed}");
    }
}

/// Timestamps stored in another unit than the table declares (milliseconds, declared
/// `timestamp`) are bucketed by hour in the declared unit, as DataFusion reads them.
#[tokio::test]
async fn hourly_keys_of_times_stored_in_another_unit_agree_with_hash_aggregation() {
    use parquet::file::properties::WriterProperties;

    let root = tempfile::tempdir().unwrap();
    let catalog = root.path().join("catalog");
    write_table_file(
        &catalog,
        "default",
        "events",
        r#"
location = "../lake/events"
columns = [
  { name = "n", type = "bigint" },
  { name = "at", type = "timestamp" },
]
partition_columns = [{ name = "dt", type = "date" }]
"#,
    );
    let schema = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, true),
        Field::new("at", DataType::Timestamp(TimeUnit::Millisecond, None), true),
    ]));
    let start = 19_783 * 86_400_000_i64; // 2024-03-01, in milliseconds
    let rows = 0..3_000_i64;
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(rows.clone().map(|i| Some(i % 17)).collect::<Int64Array>()),
            Arc::new(
                rows.map(|i| Some(start + i * 40_000))
                    .collect::<arrow::array::TimestampMillisecondArray>(),
            ),
        ],
    )
    .unwrap();
    let props = WriterProperties::builder()
        .set_data_page_row_count_limit(64)
        .set_write_batch_size(32)
        .build();
    write_parquet_with(
        &root.path().join("lake/events/dt=2024-03-01/part.parquet"),
        &batch,
        Some(props),
    );
    let (dense, hash, split) = engines(&catalog);
    for sql in [
        "SELECT hour(at), count(*), sum(n) FROM events GROUP BY 1",
        "SELECT date_trunc('hour', at), count(*) FROM events GROUP BY 1",
    ] {
        let want = sorted_rows(&hash, sql).await;
        assert!(want.len() >= 24, "{sql}: every hour of the day");
        assert_eq!(sorted_rows(&dense, sql).await, want, "{sql}");
        assert_eq!(sorted_rows(&split, sql).await, want, "{sql} (split)");
    }
}
