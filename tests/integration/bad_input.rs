//! Bad input gets a clear error naming the thing at fault, never a panic.

use minerva_demo::DemoSpec;
use minerva_engine::Engine;

use crate::support::{DemoLake, write_table_file};

fn lake() -> DemoLake {
    DemoLake::new(DemoSpec {
        days: 2,
        events_per_day: 200,
        ..Default::default()
    })
}

/// Sets `ignore_corrupt_files = 'true'` on the lake's `views` table.
fn ignore_corrupt_files(lake: &DemoLake) {
    let table_file = lake.catalog().join("default/views.toml");
    let text = std::fs::read_to_string(&table_file).unwrap();
    std::fs::write(
        &table_file,
        crate::support::with_property(&text, "ignore_corrupt_files", "true"),
    )
    .unwrap();
}

async fn error_of(engine: &Engine, sql: &str) -> String {
    match engine.query(sql).await {
        Ok(batches) => panic!("{sql} should fail, returned {} batches", batches.len()),
        Err(error) => error.to_string(),
    }
}

#[tokio::test]
async fn a_corrupt_parquet_file_is_named() {
    let lake = lake();
    let bad = lake.views().join("dt=2024-01-02/zz-corrupt.parquet");
    std::fs::write(&bad, b"this is not parquet at all, not even close").unwrap();
    let error = error_of(
        &lake.engine(),
        "SELECT count(*) FROM views WHERE dt = DATE '2024-01-02'",
    )
    .await;
    assert!(error.contains("zz-corrupt.parquet"), "{error}");
    // The other day is untouched.
    let ok = lake
        .engine()
        .query("SELECT count(*) FROM views WHERE dt = DATE '2024-01-01'")
        .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn a_truncated_parquet_file_is_named() {
    let lake = lake();
    let good = lake.views().join("dt=2024-01-02/part-00000.zstd.parquet");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&good, &bytes[..bytes.len() / 2]).unwrap();
    let error = error_of(&lake.engine(), "SELECT count(*) FROM views").await;
    assert!(
        error.contains("dt=2024-01-02/part-00000.zstd.parquet"),
        "{error}"
    );
}

#[tokio::test]
async fn a_partition_directory_of_the_wrong_type_is_named() {
    let lake = lake();
    std::fs::create_dir_all(lake.views().join("dt=2024-13-45")).unwrap();
    let error = error_of(&lake.engine(), "SELECT count(*) FROM views").await;
    assert!(
        error.contains("partition directory")
            && error.contains("dt=2024-13-45/")
            && error.contains("not a valid date"),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_location_is_named() {
    let lake = lake();
    write_table_file(
        &lake.catalog(),
        "default",
        "gone",
        "location = \"../nowhere\"\npartition_columns = [{ name = \"dt\", type = \"date\" }]\n",
    );
    let error = error_of(&lake.engine(), "SELECT * FROM gone").await;
    assert_eq!(
        error,
        "table 'default.gone': location '../nowhere' does not exist"
    );
}

#[tokio::test]
async fn a_malformed_table_file_fails_its_table_only() {
    let lake = lake();
    write_table_file(
        &lake.catalog(),
        "default",
        "broken",
        "location = \"../views\"\ncolumns = [{ name = \"a\", type = \"strin\" }]\n",
    );
    let engine = lake.engine();
    let error = error_of(&engine, "SELECT * FROM broken").await;
    assert!(error.ends_with("broken.toml:2:33: field 'columns', column 'a': unknown column type 'strin' (expected one of boolean, tinyint, smallint, int, bigint, float, double, decimal(p,s), string, varchar[(n)], char(n), json, binary, date, timestamp[(p)], array<t>, map<k,v>, struct<name:t,…>)"), "{error}");
    assert!(engine.query("SELECT count(*) FROM views").await.is_ok());
}

#[tokio::test]
async fn unknown_tables_columns_and_bad_sql_are_explained() {
    let lake = lake();
    let engine = lake.engine();
    let catalog = lake.catalog();
    assert_eq!(
        error_of(&engine, "SELECT * FROM nope").await,
        format!("table 'nope' not found in catalog '{}'", catalog.display())
    );
    assert_eq!(
        error_of(&engine, "SELECT * FROM web.views").await,
        format!(
            "table 'web.views' not found in catalog '{}'",
            catalog.display()
        )
    );
    let column = error_of(&engine, "SELECT nope FROM views").await;
    assert!(column.starts_with("no field named nope"), "{column}");
    let syntax = error_of(&engine, "SELEC 1").await;
    assert!(
        syntax.starts_with("syntax error: expected: an SQL statement, found: SELEC"),
        "{syntax}"
    );
}

#[tokio::test]
async fn a_zero_byte_parquet_file_fails_the_query_and_is_named_on_every_path() {
    let lake = lake();
    let empty = lake.views().join("dt=2024-01-02/zz-crashed.parquet");
    std::fs::write(&empty, b"").unwrap();
    for sql in [
        // The dense path, and DataFusion's own aggregation.
        "SELECT dt, count(*) FROM views GROUP BY dt",
        "SELECT dt, sum(price) FROM views GROUP BY dt",
        "SELECT * FROM views WHERE dt = DATE '2024-01-02' LIMIT 1",
    ] {
        let error = error_of(&lake.engine(), sql).await;
        assert!(
            error.contains("zz-crashed.parquet") && error.contains("is empty (0 bytes)"),
            "{sql}: {error}"
        );
    }

    // With the table property, the file is skipped, and EXPLAIN ANALYZE says which.
    ignore_corrupt_files(&lake);
    let engine = lake.engine();
    let days = crate::support::rows(
        &engine,
        "SELECT dt, count(*) FROM views GROUP BY dt ORDER BY dt",
    )
    .await;
    assert_eq!(days.len(), 2, "{days:?}");
    let explained = crate::support::rows(
        &engine,
        "EXPLAIN ANALYZE SELECT count(*) FROM views WHERE dt = DATE '2024-01-02'",
    )
    .await
    .join("\n");
    assert!(
        explained.contains("skipped (1 unreadable file, ignore_corrupt_files)")
            && explained.contains("zz-crashed.parquet"),
        "{explained}"
    );
    // The status line counts them too.
    let output = engine
        .execute("SELECT count(*) FROM views WHERE dt = DATE '2024-01-02'")
        .await
        .unwrap();
    let _: Vec<_> = futures::TryStreamExt::try_collect(output.stream)
        .await
        .unwrap();
    let status = output.stats.summary().describe_scan();
    assert!(status.contains("1 unreadable file skipped"), "{status}");
}

/// Overwrites the second half of a column chunk's bytes (its pages) in row group 0.
fn corrupt_column_chunk(file: &std::path::Path, column: &str) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let bytes = std::fs::read(file).unwrap();
    let reader = SerializedFileReader::new(std::fs::File::open(file).unwrap()).unwrap();
    let row_group = reader.metadata().row_group(0);
    let chunk = row_group
        .columns()
        .iter()
        .find(|c| c.column_path().string() == column)
        .unwrap();
    let (start, length) = chunk.byte_range();
    let mut bytes = bytes;
    for b in &mut bytes[(start + length / 2) as usize..(start + length) as usize] {
        *b = 0xA5;
    }
    std::fs::write(file, bytes).unwrap();
}

#[tokio::test]
async fn corrupt_pages_are_named_with_the_object_on_every_path() {
    let lake = lake();
    let file = lake.views().join("dt=2024-01-02/part-00000.zstd.parquet");
    corrupt_column_chunk(&file, "user_id");
    let engine = lake.engine();
    // The dense path knows the row group too.
    let dense = error_of(&engine, "SELECT count(DISTINCT user_id) FROM views").await;
    assert!(
        dense.contains("cannot read '")
            && dense.contains("dt=2024-01-02/part-00000.zstd.parquet' (row group 0)"),
        "{dense}"
    );
    for sql in [
        "SELECT sum(user_id) FROM views",
        "SELECT user_id FROM views WHERE dt = DATE '2024-01-02'",
    ] {
        let error = error_of(&engine, sql).await;
        assert!(
            error.starts_with("table 'default.views': cannot read '")
                && error.contains("dt=2024-01-02/part-00000.zstd.parquet"),
            "{sql}: {error}"
        );
    }
    // Columns whose pages are intact still read.
    assert!(
        engine
            .query("SELECT count(DISTINCT listing_id) FROM views")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn ignore_corrupt_files_skips_objects_that_are_not_parquet_and_says_which() {
    let lake = lake();
    std::fs::write(
        lake.views().join("dt=2024-01-02/zz-garbage.parquet"),
        b"this is not parquet at all, not even close",
    )
    .unwrap();
    std::fs::write(lake.views().join("dt=2024-01-01/zz-empty.parquet"), b"").unwrap();
    ignore_corrupt_files(&lake);
    let engine = lake.engine();
    for sql in [
        "SELECT dt, count(*) FROM views GROUP BY dt ORDER BY dt",
        "SELECT dt, sum(price) > 0 FROM views GROUP BY dt ORDER BY dt",
    ] {
        let days = crate::support::rows(&engine, sql).await;
        assert_eq!(days.len(), 2, "{sql}: {days:?}");
    }
    let explained = crate::support::rows(&engine, "EXPLAIN ANALYZE SELECT count(*) FROM views")
        .await
        .join("\n");
    assert!(
        explained.contains("skipped (2 unreadable files, ignore_corrupt_files)")
            && explained.contains("zz-empty.parquet (empty, 0 bytes)")
            && explained.contains("zz-garbage.parquet (parquet error:"),
        "{explained}"
    );
}

/// Local files whose reads fail as a dropped connection does: listings work, GETs do not.
#[derive(Debug)]
struct FailingReads(object_store::local::LocalFileSystem);

impl std::fmt::Display for FailingReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FailingReads")
    }
}

fn dropped() -> object_store::Error {
    object_store::Error::Generic {
        store: "test",
        source: "the connection was reset".into(),
    }
}

#[async_trait::async_trait]
impl object_store::ObjectStore for FailingReads {
    async fn put_opts(
        &self,
        _: &object_store::path::Path,
        _: object_store::PutPayload,
        _: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        Err(dropped())
    }

    async fn put_multipart_opts(
        &self,
        _: &object_store::path::Path,
        _: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        Err(dropped())
    }

    async fn get_opts(
        &self,
        location: &object_store::path::Path,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        if options.head {
            return self.0.get_opts(location, options).await;
        }
        Err(dropped())
    }

    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<
            'static,
            object_store::Result<object_store::path::Path>,
        >,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::path::Path>> {
        self.0.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.0.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> object_store::Result<object_store::ListResult> {
        self.0.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        _: &object_store::path::Path,
        _: &object_store::path::Path,
        _: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        Err(dropped())
    }
}

#[tokio::test]
async fn ignore_corrupt_files_never_skips_a_file_the_store_failed_to_read() {
    let lake = lake();
    ignore_corrupt_files(&lake);
    let engine =
        minerva_engine::Engine::builder(minerva_catalog::Catalog::load(lake.catalog()).unwrap())
            .object_store(
                url::Url::parse("file://").unwrap(),
                std::sync::Arc::new(FailingReads(object_store::local::LocalFileSystem::new())),
            )
            .build();
    let error = error_of(&engine, "SELECT dt, count(*) FROM views GROUP BY dt").await;
    assert!(
        error.contains("cannot read '") && error.contains("the connection was reset"),
        "{error}"
    );
}
