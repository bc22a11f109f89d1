//! Athena's partitions and DDL: projection over the raw zone, registered partitions, Hive DDL,
//! and JSON / CSV tables, over real files and through the real binary.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow::array::AsArray;
use arrow::datatypes::TimestampMicrosecondType;
use assert_cmd::Command;
use minerva_catalog::Catalog;
use minerva_demo::DemoSpec;
use minerva_engine::Engine;
use minerva_store::{RecordingStore, RequestKind};
use object_store::local::LocalFileSystem;
use url::Url;

use crate::support::{DemoLake, rows};

fn lake() -> DemoLake {
    DemoLake::new(DemoSpec {
        days: 2,
        events_per_day: 600,
        ..Default::default()
    })
}

fn recorded(catalog: &Path) -> (Engine, RecordingStore) {
    let store = RecordingStore::new(Arc::new(LocalFileSystem::new()));
    let engine = Engine::builder(Catalog::load(catalog).unwrap())
        .object_store(Url::parse("file://").unwrap(), Arc::new(store.clone()))
        .build();
    (engine, store)
}

async fn error_of(engine: &Engine, sql: &str) -> String {
    match engine.query(sql).await {
        Ok(_) => panic!("{sql} should fail"),
        Err(e) => e.to_string(),
    }
}

/// Events of the raw zone's day per UTC hour, computed from the generator's rows.
fn raw_counts_by_hour(spec: &DemoSpec) -> BTreeMap<u32, usize> {
    let mut counts = BTreeMap::new();
    for batch in minerva_demo::generate_day(spec, spec.days) {
        let times = batch.column(0).as_primitive::<TimestampMicrosecondType>();
        for t in times.values() {
            let hour = (t.rem_euclid(86_400_000_000) / 3_600_000_000) as u32;
            *counts.entry(hour).or_default() += 1;
        }
    }
    counts
}

#[tokio::test]
async fn the_raw_zone_is_read_through_projection_without_listing() {
    let lake = lake();
    let expected = raw_counts_by_hour(&lake.spec);
    let (engine, store) = recorded(&lake.catalog());

    let total = rows(&engine, "SELECT count(*) FROM views_raw").await;
    assert_eq!(total, [lake.spec.events_per_day.to_string()]);

    store.clear();
    let by_hour = rows(
        &engine,
        "SELECT datehour, count(*) FROM views_raw \
         WHERE datehour BETWEEN '2024/01/03/05' AND '2024/01/03/07' GROUP BY 1 ORDER BY 1",
    )
    .await;
    let wanted: Vec<String> = (5..=7)
        .filter_map(|h| expected.get(&h).map(|n| format!("2024/01/03/{h:02}|{n}")))
        .collect();
    assert_eq!(by_hour, wanted);
    // Planning spelled the three hours' prefixes: one LIST each for their files, nothing else
    // listed, and every read inside them.
    let raw = lake
        .dir
        .path()
        .canonicalize()
        .unwrap()
        .join("raw/views/2024/01/03");
    let raw = raw.to_string_lossy();
    let raw = raw.trim_start_matches('/');
    let requests = store.requests();
    let lists: Vec<&str> = requests
        .iter()
        .filter(|r| matches!(r.kind, RequestKind::List | RequestKind::ListWithDelimiter))
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(
        lists,
        (5..=7).map(|h| format!("{raw}/{h:02}")).collect::<Vec<_>>()
    );
    assert!(
        requests.iter().all(|r| r.path.starts_with(raw)),
        "{requests:?}"
    );

    // The compacted table and the raw zone line up: same columns, the next day.
    let union = rows(
        &engine,
        "SELECT count(*) FROM (SELECT listing_id FROM views UNION ALL SELECT listing_id FROM views_raw)",
    )
    .await;
    assert_eq!(union, [(3 * lake.spec.events_per_day).to_string()]);
    assert!(
        rows(
            &engine,
            "SELECT count(*) FROM views_raw WHERE datehour = '2030/01/01/00'"
        )
        .await
        .eq(&["0"]),
        "a partition outside the projected range is empty, not an error"
    );
}

#[tokio::test]
async fn relative_time_and_athena_date_format_fold_before_pruning() {
    let lake = lake();
    let engine = lake.engine();
    let explain = |sql: &str| {
        let engine = engine.clone();
        let sql = format!("EXPLAIN {sql}");
        async move {
            rows(&engine, &sql)
                .await
                .into_iter()
                .filter(|r| r.starts_with("partitions|"))
                .collect::<String>()
        }
    };
    let last_hours = "SELECT count(*) FROM views_raw WHERE datehour >= \
        date_format(TIMESTAMP '2024-01-03 22:30:00' - INTERVAL '1' HOUR, '%Y/%m/%d/%H')";
    assert!(
        explain(last_hours)
            .await
            .contains("3 of 24 partitions chosen by projection")
    );
    let counted = rows(&engine, last_hours).await;
    let expected: usize = raw_counts_by_hour(&lake.spec)
        .range(21..)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(counted, [expected.to_string()]);
    // The lake is in 2024: relative to now, nothing is recent, and nothing is read.
    let recent = explain(
        "SELECT count(*) FROM views_raw WHERE datehour >= date_format(now() - interval '1' hour, '%Y/%m/%d/%H')",
    )
    .await;
    assert!(recent.contains("0 of 24 partitions"), "{recent}");
    let last_week =
        explain("SELECT count(*) FROM views WHERE dt >= current_date - INTERVAL '7' DAY").await;
    assert!(
        last_week.contains("0 partitions chosen by listing"),
        "{last_week}"
    );
}

#[tokio::test]
async fn explain_says_how_partitions_were_chosen() {
    let lake = lake();
    let engine = lake.engine();
    let plan = rows(
        &engine,
        "EXPLAIN SELECT count(*) FROM views_raw r JOIN views v USING (listing_id) \
         WHERE r.datehour >= '2024/01/03/22' AND v.dt > DATE '2024-01-01'",
    )
    .await;
    let partitions: Vec<&String> = plan
        .iter()
        .filter(|r| r.starts_with("partitions|"))
        .collect();
    assert_eq!(partitions.len(), 2, "{plan:#?}");
    let text = partitions.iter().map(|s| s.as_str()).collect::<String>();
    assert!(
        text.contains("default.views_raw: 2 of 24 partitions chosen by projection"),
        "{text}"
    );
    assert!(text.contains("raw/views/2024/01/03/22/"), "{text}");
    assert!(
        text.contains("default.views: 1 partition chosen by listing, 1 file"),
        "{text}"
    );
}

/// A local lake of JSON-lines files under `dd-MM-yyyy` day prefixes, per region.
fn day_first_lake(root: &Path) {
    for (region, day, rows) in [
        ("east", "27-02-2024", 1),
        ("east", "28-02-2024", 2),
        ("east", "29-02-2024", 3),
        ("east", "01-03-2024", 4),
        ("east", "02-03-2024", 5),
        ("west", "29-02-2024", 10),
    ] {
        let dir = root.join("logs").join(region).join(day);
        std::fs::create_dir_all(&dir).unwrap();
        let mut file = std::fs::File::create(dir.join("part.json")).unwrap();
        for i in 0..rows {
            writeln!(file, r#"{{"id": {i}, "msg": "m{i}"}}"#).unwrap();
        }
    }
}

#[tokio::test]
async fn projected_dates_compare_as_times_and_injected_values_come_from_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    day_first_lake(dir.path());
    let engine = Engine::open(&catalog).unwrap();
    engine
        .query(
            "CREATE EXTERNAL TABLE logs (id bigint, msg string)
             PARTITIONED BY (region string, dt string)
             ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
             LOCATION '../logs/'
             TBLPROPERTIES (
               'projection.enabled' = 'true',
               'projection.region.type' = 'enum',
               'projection.region.values' = 'east,west',
               'projection.dt.type' = 'date',
               'projection.dt.format' = 'dd-MM-yyyy',
               'projection.dt.range' = '01-01-2024,31-12-2024',
               'storage.location.template' = '../logs/${region}/${dt}/'
             )",
        )
        .await
        .unwrap();
    // As text '28-02-2024' > '01-03-2024' and nothing would match; as dates, three days do.
    let counted = rows(
        &engine,
        "SELECT region, count(*) FROM logs WHERE dt BETWEEN '28-02-2024' AND '01-03-2024' \
         GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert_eq!(counted, ["east|9", "west|10"]);
    let after = rows(
        &engine,
        "SELECT count(*) FROM logs WHERE region = 'east' AND dt > '29-02-2024'",
    )
    .await;
    assert_eq!(after, ["9"]);

    engine
        .query(
            "CREATE EXTERNAL TABLE sensors (id bigint, msg string)
             PARTITIONED BY (sensor_id string)
             ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
             LOCATION '../logs/'
             TBLPROPERTIES ('projection.enabled'='true', 'projection.sensor_id.type'='injected',
                            'storage.location.template'='../logs/east/${sensor_id}')",
        )
        .await
        .unwrap();
    let picked = rows(
        &engine,
        "SELECT sensor_id, count(*) FROM sensors WHERE sensor_id IN ('27-02-2024', '02-03-2024', 'nope') GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert_eq!(picked, ["02-03-2024|5", "27-02-2024|1"]);
    let missing = error_of(&engine, "SELECT count(*) FROM sensors").await;
    assert_eq!(
        missing,
        "table 'default.sensors': partition column 'sensor_id' is projected as 'injected': the query must give its values with = or IN"
    );
    let escaping = error_of(
        &engine,
        "SELECT count(*) FROM sensors WHERE sensor_id = '../west'",
    )
    .await;
    assert!(
        escaping.contains("would escape the table's location"),
        "{escaping}"
    );
    // A '/' inside an injected value is substituted as it is, as Athena does.
    engine
        .query(
            "CREATE EXTERNAL TABLE sensor_paths (id bigint, msg string)
             PARTITIONED BY (path string)
             ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
             LOCATION '../logs/'
             TBLPROPERTIES ('projection.enabled'='true', 'projection.path.type'='injected',
                            'storage.location.template'='../logs/${path}')",
        )
        .await
        .unwrap();
    let nested = rows(
        &engine,
        "SELECT count(*) FROM sensor_paths WHERE path = 'east/02-03-2024'",
    )
    .await;
    assert_eq!(nested, ["5"]);
}

#[tokio::test]
async fn text_tables_read_json_and_csv_plain_or_compressed() {
    use flate2::write::GzEncoder;

    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        if path.extension().is_some_and(|e| e == "gz") {
            let mut gz = GzEncoder::new(std::fs::File::create(&path).unwrap(), Default::default());
            gz.write_all(text.as_bytes()).unwrap();
            gz.finish().unwrap();
        } else {
            std::fs::write(&path, text).unwrap();
        }
    };
    write("csv/a.csv", "id,name\n1,one\n2,\"two, quoted\"\n");
    write("csv/b.csv.gz", "id,name\n3,three\n");
    write("tsv/x.tsv", "7\tseven\n8\teight\n");
    write(
        "json/ok.json.gz",
        "{\"id\": 1, \"tags\": [\"a\", \"b\"]}\n{\"id\": 2, \"tags\": []}\n",
    );
    write("bad/broken.json", "{\"id\": 1}\n{\"id\": \n");
    let engine = Engine::open(&catalog).unwrap();
    for ddl in [
        "CREATE EXTERNAL TABLE people (id int, name string)
         ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
         WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '\"')
         STORED AS TEXTFILE LOCATION '../csv/' TBLPROPERTIES ('skip.header.line.count'='1')",
        "CREATE EXTERNAL TABLE numbers (n bigint, word string)
         ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t' LOCATION '../tsv/'",
        "CREATE EXTERNAL TABLE tagged (id int, tags array<string>)
         ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' LOCATION '../json/'",
        "CREATE EXTERNAL TABLE broken (id int)
         ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' LOCATION '../bad/'",
    ] {
        engine
            .query(ddl)
            .await
            .unwrap_or_else(|e| panic!("{ddl}: {e}"));
    }
    assert_eq!(
        rows(&engine, "SELECT id, name FROM people ORDER BY id").await,
        ["1|one", "2|two, quoted", "3|three"]
    );
    assert_eq!(
        rows(&engine, "SELECT sum(n), max(word) FROM numbers").await,
        ["15|seven"]
    );
    assert_eq!(
        rows(
            &engine,
            "SELECT id, CAST(tags AS VARCHAR) FROM tagged ORDER BY id"
        )
        .await,
        ["1|[a, b]", "2|[]"]
    );
    let error = error_of(&engine, "SELECT count(*) FROM broken").await;
    assert!(
        error.starts_with("table 'default.broken': cannot read '")
            && error.contains("bad/broken.json"),
        "{error}"
    );
}

#[tokio::test]
async fn msck_repair_registers_partitions_once_and_the_registry_serves_queries() {
    let lake = lake();
    let catalog = lake.catalog();
    let (engine, store) = recorded(&catalog);
    engine
        .query(
            "CREATE EXTERNAL TABLE views2 (event_id string, listing_id bigint)
             PARTITIONED BY (dt date) STORED AS PARQUET LOCATION '../views/'",
        )
        .await
        .unwrap();
    let added = rows(&engine, "MSCK REPAIR TABLE views2").await;
    assert_eq!(added, ["dt=2024-01-01|added", "dt=2024-01-02|added"]);
    let registry = catalog.join("default/views2.partitions");
    let first = std::fs::read_to_string(&registry).unwrap();
    assert!(rows(&engine, "MSCK REPAIR TABLE views2").await.is_empty());
    assert_eq!(std::fs::read_to_string(&registry).unwrap(), first);

    // A partition registered at a location of its own, outside the Hive layout.
    let elsewhere = lake.dir.path().join("archive/day-three");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let day_one = lake.views().join("dt=2024-01-01");
    for file in std::fs::read_dir(&day_one).unwrap() {
        let file = file.unwrap().path();
        std::fs::copy(&file, elsewhere.join(file.file_name().unwrap())).unwrap();
    }
    engine
        .query(
            "ALTER TABLE views2 ADD IF NOT EXISTS PARTITION (dt='2024-01-02')
             PARTITION (dt='2024-01-03') LOCATION '../archive/day-three/'",
        )
        .await
        .unwrap();
    store.clear();
    let per_day = rows(
        &engine,
        "SELECT dt, count(*) FROM views2 WHERE dt >= DATE '2024-01-02' GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert_eq!(per_day, ["2024-01-02|600", "2024-01-03|600"]);
    assert!(
        store
            .requests()
            .iter()
            .all(|r| r.kind != RequestKind::ListWithDelimiter),
        "the registry, not a listing, chose the partitions"
    );
    let dropped = rows(
        &engine,
        "ALTER TABLE views2 DROP PARTITION (dt='2024-01-01')",
    )
    .await;
    assert_eq!(dropped, ["dt=2024-01-01|dropped"]);
    assert_eq!(rows(&engine, "SELECT count(*) FROM views2").await, ["1200"]);
    let twice = error_of(
        &engine,
        "ALTER TABLE views2 DROP PARTITION (dt='2024-01-01')",
    )
    .await;
    assert!(
        twice.contains("partition dt=2024-01-01 does not exist"),
        "{twice}"
    );
    let projected = error_of(&engine, "MSCK REPAIR TABLE views_raw").await;
    assert!(
        projected.contains("uses partition projection"),
        "{projected}"
    );

    engine.query("DROP TABLE views2").await.unwrap();
    assert!(!registry.exists() && lake.views().join("dt=2024-01-01").exists());
}

/// The partition projection examples of Athena's documentation (Kinesis Data Firehose, and
/// dynamic IDs), as written there but for the bucket.
const DOC_EXAMPLES: &str = r#"
CREATE EXTERNAL TABLE my_ingested_data (
  event_time timestamp,
  user_id bigint,
  payload struct<kind:string,tags:array<string>>
)
PARTITIONED BY (
  datehour STRING
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION "s3://amzn-s3-demo-bucket/prefix/"
TBLPROPERTIES (
  "projection.enabled" = "true",
  "projection.datehour.type" = "date",
  "projection.datehour.format" = "yyyy/MM/dd/HH",
  "projection.datehour.range" = "2021/01/01/00,NOW",
  "projection.datehour.interval" = "1",
  "projection.datehour.interval.unit" = "HOURS",
  "storage.location.template" = "s3://amzn-s3-demo-bucket/prefix/${datehour}/"
);
CREATE EXTERNAL TABLE my_ingested_data2 (
  event_time timestamp
)
PARTITIONED BY (
  day STRING,
  hour INT
)
LOCATION "s3://amzn-s3-demo-bucket/prefix/"
TBLPROPERTIES (
  "projection.enabled" = "true",
  "projection.day.type" = "date",
  "projection.day.format" = "yyyy/MM/dd",
  "projection.day.range" = "2021/01/01,NOW",
  "projection.day.interval" = "1",
  "projection.day.interval.unit" = "DAYS",
  "projection.hour.type" = "integer",
  "projection.hour.range" = "0,23",
  "projection.hour.digits" = "2",
  "storage.location.template" = "s3://amzn-s3-demo-bucket/prefix/${day}/${hour}/"
);
CREATE EXTERNAL TABLE sensors (
  reading double
)
PARTITIONED BY (sensor_id STRING)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION 's3://amzn-s3-demo-bucket/prefix/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.sensor_id.type' = 'injected',
  'storage.location.template' = 's3://amzn-s3-demo-bucket/prefix/${sensor_id}'
);
"#;

#[test]
fn athena_documentation_ddl_round_trips_through_show_create_table() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    let minerva = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_minerva"));
        command
            .env_remove("MINERVA_CATALOG")
            .arg("--catalog")
            .arg(&catalog);
        command
    };
    minerva().write_stdin(DOC_EXAMPLES).assert().success();
    for table in ["my_ingested_data", "my_ingested_data2", "sensors"] {
        let file = catalog.join(format!("default/{table}.toml"));
        let written = std::fs::read_to_string(&file).unwrap();
        let shown = minerva()
            .args(["--format", "tsv", "-c"])
            .arg(format!("SHOW CREATE TABLE {table}"))
            .output()
            .unwrap();
        assert!(shown.status.success(), "{shown:?}");
        // One line of DDL per row, under the `createtab_stmt` header.
        let ddl: String = String::from_utf8(shown.stdout)
            .unwrap()
            .lines()
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(ddl.contains("'projection.enabled'='true'"), "{ddl}");
        // Recreating the table from what SHOW CREATE TABLE printed gives the same definition.
        minerva()
            .args(["-c", &format!("DROP TABLE {table}"), "-c", &ddl])
            .assert()
            .success();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), written, "{ddl}");
    }
    minerva()
        .args([
            "-c",
            "SHOW DATABASES",
            "-c",
            "CREATE DATABASE web",
            "-c",
            "SHOW DATABASES",
        ])
        .assert()
        .success()
        .stdout(
            "database_name\ndefault\nresult\ncreated database web\ndatabase_name\ndefault\nweb\n",
        );
    minerva()
        .args([
            "-c",
            "CREATE EXTERNAL TABLE t (a int) STORED AS ORC LOCATION 's3://b/t/'",
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("STORED AS ORC is not supported"));
}
