//! A table's files drift from its definition; columns are matched by name and read as the table
//! says, or the query fails naming the file and the column — on the dense path and DataFusion's.

use std::path::Path;
use std::sync::Arc;

use arrow::array::StringArray;
use arrow::array::{ArrayRef, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch};
use arrow::datatypes::{Field, Schema};
use minerva_engine::Engine;
use tempfile::TempDir;

use crate::support::{rows, write_parquet, write_table_file};

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let schema = Schema::new(
        columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(
        Arc::new(schema),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap()
}

fn ints(values: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}

fn texts(values: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

/// `t (id bigint, user_id bigint, name string, amount double) PARTITIONED BY (dt string)`,
/// one day per kind of drift.
fn drifted_lake(root: &Path) -> Engine {
    let catalog = root.join("catalog");
    write_table_file(
        &catalog,
        "default",
        "t",
        r#"
location = "../lake/t"
columns = [
  { name = "id", type = "bigint" },
  { name = "user_id", type = "bigint" },
  { name = "name", type = "string" },
  { name = "amount", type = "double" },
]
partition_columns = [{ name = "dt", type = "string" }]
"#,
    );
    let lake = root.join("lake/t");
    // As declared.
    write_parquet(
        &lake.join("dt=a/p.parquet"),
        &batch(vec![
            ("id", ints(&[1, 2])),
            ("user_id", ints(&[10, 11])),
            ("name", texts(&["x", "y"])),
            ("amount", Arc::new(Float64Array::from(vec![1.5, 2.5]))),
        ]),
    );
    // Narrower types: int where the table says bigint, float where it says double.
    write_parquet(
        &lake.join("dt=b/p.parquet"),
        &batch(vec![
            ("id", ints(&[3])),
            ("user_id", Arc::new(Int32Array::from(vec![12]))),
            ("name", texts(&["x"])),
            ("amount", Arc::new(Float32Array::from(vec![0.5]))),
        ]),
    );
    // A column the table does not have, and none of `name`.
    write_parquet(
        &lake.join("dt=c/p.parquet"),
        &batch(vec![
            ("id", ints(&[4])),
            ("user_id", ints(&[10])),
            ("extra", ints(&[99])),
            ("amount", Arc::new(Float64Array::from(vec![4.0]))),
        ]),
    );
    // The columns in another order.
    write_parquet(
        &lake.join("dt=d/p.parquet"),
        &batch(vec![
            ("amount", Arc::new(Float64Array::from(vec![8.0]))),
            ("name", texts(&["z"])),
            ("user_id", ints(&[13])),
            ("id", ints(&[5])),
        ]),
    );
    Engine::open(catalog).unwrap()
}

#[tokio::test]
async fn extra_missing_narrower_and_reordered_columns_read_as_the_table_says() {
    let dir = TempDir::new().unwrap();
    let engine = drifted_lake(dir.path());
    assert_eq!(
        rows(
            &engine,
            "SELECT id, user_id, name, amount, dt FROM t ORDER BY id"
        )
        .await,
        [
            "1|10|x|1.5|a",
            "2|11|y|2.5|a",
            "3|12|x|0.5|b",
            "4|10|NULL|4.0|c",
            "5|13|z|8.0|d",
        ]
    );
    // The dense path (distinct counts, text keys) reads the same values.
    assert_eq!(
        rows(
            &engine,
            "SELECT dt, count(*), count(DISTINCT user_id), count(DISTINCT name) FROM t GROUP BY dt ORDER BY dt"
        )
        .await,
        ["a|2|2|2", "b|1|1|1", "c|1|1|0", "d|1|1|1"]
    );
    assert_eq!(
        rows(
            &engine,
            "SELECT name, count(*) FROM t WHERE user_id >= 12 GROUP BY name ORDER BY name"
        )
        .await,
        ["x|1", "z|1"]
    );
    assert_eq!(
        rows(&engine, "SELECT sum(user_id), sum(amount) FROM t").await,
        ["56|16.5"]
    );
}

#[tokio::test]
async fn a_column_stored_as_an_incompatible_type_fails_naming_the_file_and_column() {
    let dir = TempDir::new().unwrap();
    let engine = drifted_lake(dir.path());
    write_parquet(
        &dir.path().join("lake/t/dt=e/bad.parquet"),
        &batch(vec![
            ("id", ints(&[6])),
            ("user_id", texts(&["u544"])),
            ("name", texts(&["w"])),
            ("amount", Arc::new(Float64Array::from(vec![1.0]))),
        ]),
    );
    for sql in [
        // The dense path: a distinct count, and a count filtered on the column.
        "SELECT count(DISTINCT user_id) FROM t",
        "SELECT count(*) FROM t WHERE user_id = 10",
        // DataFusion's path.
        "SELECT sum(user_id) FROM t",
        "SELECT user_id FROM t WHERE dt = 'e'",
    ] {
        let error = engine.query(sql).await.unwrap_err().to_string();
        assert!(
            error.contains("dt=e/bad.parquet")
                && error.contains(
                    "column 'user_id' is stored as string, which does not read as the table's bigint"
                ),
            "{sql}: {error}"
        );
    }
    // Queries that do not read the column still answer.
    assert_eq!(
        rows(
            &engine,
            "SELECT count(*), count(DISTINCT name) FROM t WHERE dt = 'e'"
        )
        .await,
        ["1|1"]
    );
    assert_eq!(
        rows(&engine, "SELECT name FROM t WHERE dt = 'e'").await,
        ["w"]
    );
}
