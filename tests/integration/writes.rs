//! Writes through the engine and the real binary (issue #15): compaction of the raw zone equals
//! the raw rows exactly (local and on the S3 server), an overwrite replaces exactly its day,
//! `kill -9` at every step of a write leaves the table as before or as after and a rerun
//! converges, readers never see half a commit, and two writers never corrupt the table.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use minerva_catalog::Catalog;
use minerva_demo::DemoSpec;
use minerva_engine::Engine;
use url::Url;

use crate::s3_server::{S3Server, upload};
use crate::support::{DemoLake, rows};

const COLUMNS: &str = "event_time, event_id, user_id, session_id, listing_id, region, service, platform, event_type, price";

fn small_lake() -> DemoLake {
    DemoLake::new(DemoSpec {
        days: 3,
        events_per_day: 3_000,
        rows_per_file: 1_000,
        ..Default::default()
    })
}

/// Adds a late event to the raw zone: it happened on 2024-01-03, just before midnight, and
/// landed in the first arrival hour of 2024-01-04.
fn add_late_event(lake: &DemoLake) {
    let dir = lake.dir.path().join("raw/views/2024/01/04/00");
    let line = r#"{"event_time":"2024-01-03T23:59:58.5","event_id":"late-1","user_id":7,"session_id":"s-late","listing_id":42,"region":"서울 강남구","service":"apt","platform":"web","event_type":"view","price":null}"#;
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(dir.join("views-late.json.gz")).unwrap(),
        flate2::Compression::default(),
    );
    writeln!(encoder, "{line}").unwrap();
    encoder.finish().unwrap();
}

async fn sorted(engine: &Engine, sql: &str) -> Vec<String> {
    let mut answer = rows(engine, sql).await;
    answer.sort();
    answer
}

const COMPACT: &str = "COMPACT views_raw INTO compacted SET dt = date(event_time) WHERE datehour BETWEEN '2024/01/04/00' AND '2024/01/04/23'";

/// Compacts the raw day into a new table at `location`, checks the result is exactly the raw
/// rows (every column, as a multiset) with each event in its own day, and that a rerun
/// changes nothing.
async fn compaction_equals_the_raw_rows(engine: &Engine, location: &str) {
    rows(
        engine,
        &format!(
            "CREATE TABLE compacted WITH (partitioned_by = ARRAY['dt'], sorted_by = ARRAY['listing_id', 'event_time'], external_location = '{location}') AS SELECT * FROM views WITH NO DATA"
        ),
    )
    .await;
    let raw = sorted(
        engine,
        &format!("SELECT {COLUMNS}, CAST(event_time AS date) AS dt FROM views_raw"),
    )
    .await;
    assert_eq!(raw.len(), 3_001);
    assert_eq!(rows(engine, COMPACT).await, ["3001"]);
    let compacted = sorted(engine, &format!("SELECT {COLUMNS}, dt FROM compacted")).await;
    assert_eq!(compacted, raw, "the compaction is exactly the raw rows");
    assert_eq!(
        rows(
            engine,
            "SELECT dt, count(*) FROM compacted GROUP BY dt ORDER BY dt"
        )
        .await,
        ["2024-01-03|1", "2024-01-04|3000"],
        "the late event goes to its own day"
    );
    // Sorted for pruning: within each file, by listing then time.
    assert_eq!(
        rows(
            engine,
            "SELECT count(*) FROM (SELECT listing_id, lag(listing_id) OVER (ORDER BY listing_id, event_time) AS before FROM compacted WHERE dt = DATE '2024-01-04') WHERE before > listing_id"
        )
        .await,
        ["0"]
    );
    assert_eq!(
        rows(engine, COMPACT).await,
        ["0"],
        "a rerun changes nothing"
    );
    assert_eq!(
        sorted(engine, &format!("SELECT {COLUMNS}, dt FROM compacted")).await,
        raw
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_of_the_raw_day_equals_the_raw_rows_on_disk() {
    let lake = small_lake();
    add_late_event(&lake);
    let engine = lake.engine();
    compaction_equals_the_raw_rows(&engine, "../compacted/").await;
    // What was written is Parquet with statistics, page indexes and dictionaries.
    let file = std::fs::read_dir(lake.dir.path().join("compacted/dt=2024-01-04"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".zstd.parquet"))
        .unwrap();
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(
        std::fs::File::open(&file).unwrap(),
    )
    .unwrap();
    use parquet::file::reader::FileReader;
    let metadata = reader.metadata();
    let group = metadata.row_group(0);
    assert!(group.column(0).statistics().is_some());
    assert!(group.column(0).column_index_offset().is_some());
    assert!(
        group
            .columns()
            .iter()
            .any(|c| c.dictionary_page_offset().is_some())
    );
    assert_eq!(
        group.sorting_columns().map(|s| s.len()),
        Some(2),
        "{}",
        file.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_of_the_raw_day_equals_the_raw_rows_on_s3() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let bucket = "writes-compaction";
    let lake = small_lake();
    add_late_event(&lake);
    let store = server.bucket(bucket);
    upload(store.as_ref(), &lake.views(), "views").await;
    upload(
        store.as_ref(),
        &lake.dir.path().join("raw/views"),
        "raw/views",
    )
    .await;
    let catalog = lake.dir.path().join("catalog-s3");
    std::fs::create_dir_all(catalog.join("default")).unwrap();
    for (table, local) in [("views", "views"), ("views_raw", "raw/views")] {
        let text =
            std::fs::read_to_string(lake.catalog().join(format!("default/{table}.toml"))).unwrap();
        std::fs::write(
            catalog.join(format!("default/{table}.toml")),
            text.replace(&format!("../{local}"), &format!("s3://{bucket}/{local}")),
        )
        .unwrap();
    }
    std::fs::write(
        catalog.join("storage.toml"),
        format!("warehouse = \"s3://{bucket}/warehouse\"\n"),
    )
    .unwrap();
    let engine = Engine::builder(Catalog::load(&catalog).unwrap())
        .object_store(
            Url::parse(&format!("s3://{bucket}")).unwrap(),
            server.client(bucket),
        )
        .build();
    compaction_equals_the_raw_rows(&engine, &format!("s3://{bucket}/compacted/")).await;
    // Without external_location, a table goes under the warehouse.
    rows(
        &engine,
        "CREATE TABLE by_day WITH (partitioned_by = ARRAY['dt']) AS SELECT count(*) AS n, dt FROM compacted GROUP BY dt",
    )
    .await;
    assert_eq!(
        rows(&engine, "SELECT n, dt FROM by_day ORDER BY dt").await,
        ["1|2024-01-03", "3000|2024-01-04"]
    );
    let text = std::fs::read_to_string(catalog.join("default/by_day.toml")).unwrap();
    assert!(
        text.contains(&format!(
            "location = \"s3://{bucket}/warehouse/default/by_day/\""
        )),
        "{text}"
    );
    // INSERT OVERWRITE on S3 replaces the day.
    rows(
        &engine,
        "INSERT OVERWRITE TABLE by_day SELECT 5, DATE '2024-01-04'",
    )
    .await;
    assert_eq!(
        rows(&engine, "SELECT n, dt FROM by_day ORDER BY dt").await,
        ["1|2024-01-03", "5|2024-01-04"]
    );
}

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwrite_of_a_day_replaces_exactly_that_day() {
    let lake = small_lake();
    let engine = lake.engine();
    let others = |files: &BTreeMap<PathBuf, Vec<u8>>| -> BTreeMap<PathBuf, Vec<u8>> {
        files
            .iter()
            .filter(|(p, _)| !p.to_string_lossy().contains("dt=2024-01-02"))
            .map(|(p, b)| (p.clone(), b.clone()))
            .collect()
    };
    let before = files_under(&lake.views());
    let day_before = sorted(&engine, "SELECT * FROM views WHERE dt = DATE '2024-01-02'").await;
    let overwrite = "INSERT OVERWRITE TABLE views SELECT * FROM views WHERE dt = DATE '2024-01-02' AND user_id % 2 = 0";
    let kept = rows(&engine, overwrite).await;
    let expected: Vec<String> = day_before
        .iter()
        .filter(|row| {
            let user: i64 = row.split('|').nth(2).unwrap().parse().unwrap();
            user % 2 == 0
        })
        .cloned()
        .collect();
    assert_eq!(kept, [expected.len().to_string()]);
    assert!(expected.len() < day_before.len());
    let day_after = sorted(&engine, "SELECT * FROM views WHERE dt = DATE '2024-01-02'").await;
    assert_eq!(day_after, expected);
    let after = files_under(&lake.views());
    assert_eq!(
        others(&after),
        others(&before),
        "other days are byte-identical"
    );
    // Recompacting the day from the same rows again is idempotent; EXPLAIN ANALYZE says what
    // it read and wrote.
    let explained = rows(&engine, &format!("EXPLAIN ANALYZE {overwrite}")).await;
    assert_eq!(explained.len(), 2, "{explained:?}");
    assert!(
        explained[0].starts_with(&format!("write|{} rows in 1 file (", expected.len())),
        "{explained:?}"
    );
    assert!(explained[0].ends_with(", 1 partition"), "{explained:?}");
    assert!(
        explained[1].contains("(1 partition; ") && explained[1].contains("Data written: "),
        "{explained:?}"
    );
    assert_eq!(
        sorted(&engine, "SELECT * FROM views WHERE dt = DATE '2024-01-02'").await,
        expected
    );
    assert_eq!(
        rows(&engine, "SELECT count(*) FROM views").await,
        [(6_000 + expected.len()).to_string()]
    );
}

// ---- the real binary, killed ----

/// The binary over a catalog, with the environment it needs (an S3 server's credentials).
#[derive(Clone)]
struct Binary {
    catalog: PathBuf,
    env: Vec<(&'static str, &'static str)>,
}

impl From<&PathBuf> for Binary {
    fn from(catalog: &PathBuf) -> Self {
        Self {
            catalog: catalog.clone(),
            env: Vec::new(),
        }
    }
}

fn minerva(binary: impl Into<Binary>) -> Command {
    let binary = binary.into();
    let mut command = Command::new(env!("CARGO_BIN_EXE_minerva"));
    command
        .env_remove("MINERVA_CATALOG")
        .env_remove("MINERVA_FAILPOINT")
        .env("MINERVA_CACHE_DIR", crate::support::fresh_cache_dir())
        .envs(binary.env.iter().copied())
        .arg("--catalog")
        .arg(&binary.catalog);
    command
}

fn run_ok(binary: impl Into<Binary>, sql: &str) -> String {
    let output = minerva(binary)
        .args(["--format", "csv", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Starts `sql` in the binary, stopped at `point`; returns once it waits there.
fn start_paused(binary: impl Into<Binary>, sql: &str, point: &str) -> Child {
    let binary = binary.into();
    let marker = binary
        .catalog
        .parent()
        .unwrap()
        .join(format!("paused-{point}"));
    let _ = std::fs::remove_file(&marker);
    let mut child = minerva(binary)
        .env("MINERVA_FAILPOINT", format!("{point}:{}", marker.display()))
        .args(["-c", sql])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !marker.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            panic!("{sql} ended ({status}) before {point}: {stderr}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{sql} never reached {point}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// `kill -9`.
fn kill_9(mut child: Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
}

/// Objects named `minerva-…` under `dir` (written by Minerva, committed or not).
fn written_files(dir: &Path) -> Vec<PathBuf> {
    if !dir.exists() {
        return Vec::new();
    }
    files_under(dir)
        .into_keys()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("minerva-"))
        })
        .collect()
}

#[test]
fn kill_9_at_any_step_leaves_the_table_as_before_or_after_and_a_rerun_converges() {
    let lake = DemoLake::new(DemoSpec {
        days: 2,
        events_per_day: 40_000,
        rows_per_file: 40_000,
        ..Default::default()
    });
    let catalog = lake.catalog();
    // Small files, so a write is many files and can be stopped between them.
    run_ok(
        &catalog,
        "CREATE TABLE copy WITH (partitioned_by = ARRAY['dt'], target_file_size = '256KiB', external_location = '../copy/') AS SELECT * FROM views WHERE dt = DATE '2024-01-01'",
    );
    let count = "SELECT count(*), count(DISTINCT event_id) FROM copy";
    let before = run_ok(&catalog, count);
    assert!(before.contains("40000,40000"), "{before}");
    let insert = "INSERT INTO copy SELECT * FROM views WHERE dt = DATE '2024-01-02'";
    let after = "count(*),count(DISTINCT copy.event_id)\n80000,80000\n";
    for point in ["first-file", "commit"] {
        kill_9(start_paused(&catalog, insert, point));
        assert_eq!(
            run_ok(&catalog, count),
            before,
            "killed at {point}: as before"
        );
        assert!(
            !written_files(&lake.dir.path().join("copy/dt=2024-01-02")).is_empty(),
            "killed at {point}: it had written files, which readers do not see"
        );
    }
    // Killed after its commit, before its clean-up: as after.
    kill_9(start_paused(&catalog, insert, "clean"));
    assert_eq!(run_ok(&catalog, count), after);
    // An overwrite of the day converges to the same table, and deletes what the killed
    // writes left.
    let overwrite = "INSERT OVERWRITE TABLE copy SELECT * FROM views WHERE dt = DATE '2024-01-02'";
    kill_9(start_paused(&catalog, overwrite, "first-file"));
    assert_eq!(run_ok(&catalog, count), after);
    run_ok(&catalog, overwrite);
    assert_eq!(run_ok(&catalog, count), after);
    run_ok(&catalog, "VACUUM copy RETAIN 0 HOURS");
    let manifest = std::fs::read_to_string(catalog.join("default/copy.manifest")).unwrap();
    for file in written_files(&lake.dir.path().join("copy")) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            manifest.contains(&name),
            "no staging garbage is left: {name} is named by no commit"
        );
    }
    assert_eq!(run_ok(&catalog, count), after);
    // A CREATE TABLE AS killed before its table file leaves no table, and a rerun works.
    let ctas = "CREATE TABLE again WITH (partitioned_by = ARRAY['dt'], target_file_size = '256KiB', external_location = '../again/') AS SELECT * FROM views";
    kill_9(start_paused(&catalog, ctas, "first-file"));
    kill_9(start_paused(&catalog, ctas, "clean"));
    assert!(!catalog.join("default/again.toml").exists());
    run_ok(&catalog, ctas);
    assert_eq!(
        run_ok(&catalog, "SELECT count(*) FROM again"),
        "count(*)\n80000\n"
    );
}

#[test]
fn a_reader_looping_during_commits_never_sees_a_mix() {
    let lake = DemoLake::new(DemoSpec {
        days: 4,
        events_per_day: 5_000,
        rows_per_file: 5_000,
        ..Default::default()
    });
    let catalog = lake.catalog();
    run_ok(
        &catalog,
        "CREATE TABLE mirror WITH (partitioned_by = ARRAY['dt'], external_location = '../mirror/') AS SELECT event_time, event_id, user_id, session_id, listing_id, region, service, platform, event_type, 0 AS price, dt FROM views",
    );
    // Each overwrite replaces all four days at once, every price its generation's number: a
    // reader sees 20000 rows of one price; a mix of old and new days would show two.
    let writer = {
        let catalog = catalog.clone();
        std::thread::spawn(move || {
            for generation in 1..=6 {
                run_ok(
                    &catalog,
                    &format!(
                        "INSERT OVERWRITE TABLE mirror SELECT event_time, event_id, user_id, session_id, listing_id, region, service, platform, event_type, {generation}, dt FROM views"
                    ),
                );
            }
        })
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let engine = Engine::open(&catalog).unwrap();
    let mut reads = 0;
    while !writer.is_finished() {
        let answer = runtime.block_on(rows(
            &engine,
            "SELECT count(*), count(DISTINCT price) FROM mirror",
        ));
        assert_eq!(answer, ["20000|1"], "one generation at a time");
        reads += 1;
    }
    assert!(reads > 1);
    writer.join().unwrap();
    assert_eq!(
        runtime.block_on(rows(&engine, "SELECT DISTINCT price FROM mirror")),
        ["6"]
    );
}

#[test]
fn two_writers_to_one_table_both_commit_or_one_is_told_and_nothing_is_lost() {
    let lake = small_lake();
    let catalog = lake.catalog();
    run_ok(
        &catalog,
        "CREATE TABLE log WITH (external_location = '../log/') AS SELECT 0 AS writer, 0 AS n",
    );
    let writers: Vec<_> = (1..=4)
        .map(|writer| {
            let catalog = catalog.clone();
            std::thread::spawn(move || {
                let mut committed = 0;
                for n in 0..5 {
                    let output = minerva(&catalog)
                        .args(["-c", &format!("INSERT INTO log VALUES ({writer}, {n})")])
                        .stdin(Stdio::null())
                        .output()
                        .unwrap();
                    if output.status.success() {
                        committed += 1;
                    } else {
                        let stderr = String::from_utf8_lossy(&output.stderr);
                        assert!(
                            stderr.contains(
                                "table 'default.log' is being written by another statement"
                            ),
                            "{stderr}"
                        );
                    }
                }
                committed
            })
        })
        .collect();
    let committed: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(committed >= 1);
    assert_eq!(
        run_ok(&catalog, "SELECT count(*) FROM log"),
        format!("count(*)\n{}\n", committed + 1),
        "every committed row is there, once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_writes_a_query_to_one_local_file_in_the_format_its_name_says() {
    let lake = small_lake();
    let engine = lake.engine();
    let out = lake.dir.path().join("exports");
    std::fs::create_dir_all(&out).unwrap();
    let query =
        "SELECT dt, count(*) AS views, sum(price) AS price FROM views GROUP BY dt ORDER BY dt";
    for name in ["by_day.parquet", "by_day.csv", "by_day.json"] {
        assert_eq!(
            engine.copy_to_file(query, &out.join(name)).await.unwrap(),
            3,
            "{name}"
        );
    }
    let parquet = parquet::file::serialized_reader::SerializedFileReader::new(
        std::fs::File::open(out.join("by_day.parquet")).unwrap(),
    )
    .unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(parquet.metadata().file_metadata().num_rows(), 3);
    let csv = std::fs::read_to_string(out.join("by_day.csv")).unwrap();
    assert!(csv.starts_with("2024-01-01,3000,"), "{csv}");
    assert_eq!(csv.lines().count(), 3);
    let json = std::fs::read_to_string(out.join("by_day.json")).unwrap();
    assert!(
        json.starts_with(r#"{"dt":"2024-01-01","views":3000,"#),
        "{json}"
    );
    let error = engine
        .copy_to_file(query, &out.join("by_day.xlsx"))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("a file ending in .parquet, .csv, .tsv or .json"),
        "{error}"
    );
}

#[test]
fn kill_9_mid_write_on_s3_leaves_the_table_as_before_and_a_rerun_converges() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let bucket = "writes-crash";
    let lake = DemoLake::new(DemoSpec {
        days: 2,
        events_per_day: 20_000,
        rows_per_file: 20_000,
        ..Default::default()
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(upload(
        server.bucket(bucket).as_ref(),
        &lake.views(),
        "views",
    ));
    let catalog = lake.dir.path().join("catalog-s3");
    std::fs::create_dir_all(catalog.join("default")).unwrap();
    let text = std::fs::read_to_string(lake.catalog().join("default/views.toml")).unwrap();
    std::fs::write(
        catalog.join("default/views.toml"),
        text.replace("../views", &format!("s3://{bucket}/views")),
    )
    .unwrap();
    std::fs::write(catalog.join("storage.toml"), server.storage_toml()).unwrap();
    let binary = Binary {
        catalog,
        env: vec![
            ("AWS_ACCESS_KEY_ID", crate::s3_server::ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", crate::s3_server::SECRET_KEY),
        ],
    };
    run_ok(
        binary.clone(),
        &format!(
            "CREATE TABLE copy WITH (partitioned_by = ARRAY['dt'], target_file_size = '128KiB', external_location = 's3://{bucket}/copy/') AS SELECT * FROM views WHERE dt = DATE '2024-01-01'"
        ),
    );
    let count = "SELECT count(*), count(DISTINCT event_id) FROM copy";
    let before = "count(*),count(DISTINCT copy.event_id)\n20000,20000\n";
    let after = "count(*),count(DISTINCT copy.event_id)\n40000,40000\n";
    assert_eq!(run_ok(binary.clone(), count), before);
    let insert = "INSERT INTO copy SELECT * FROM views WHERE dt = DATE '2024-01-02'";
    for point in ["first-file", "commit"] {
        kill_9(start_paused(binary.clone(), insert, point));
        assert_eq!(run_ok(binary.clone(), count), before, "killed at {point}");
    }
    let objects = |prefix: &str| -> Vec<String> {
        let store = server.bucket(bucket);
        runtime.block_on(async {
            futures::TryStreamExt::try_collect::<Vec<_>>(
                store.list(Some(&object_store::path::Path::from(prefix))),
            )
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.location.to_string())
            .collect()
        })
    };
    assert!(
        !objects("copy/dt=2024-01-02").is_empty(),
        "the killed writes left objects no reader sees"
    );
    run_ok(binary.clone(), insert);
    assert_eq!(run_ok(binary.clone(), count), after);
    let manifest = std::fs::read_to_string(binary.catalog.join("default/copy.manifest")).unwrap();
    for object in objects("copy") {
        let name = object.rsplit('/').next().unwrap();
        assert!(
            manifest.contains(name),
            "the rerun deleted what the killed writes left: {object}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_fails_midway_deletes_the_files_it_wrote() {
    let lake = small_lake();
    let engine = lake.engine();
    rows(
        &engine,
        "CREATE TABLE narrow WITH (partitioned_by = ARRAY['dt'], target_file_size = '1KiB', external_location = '../narrow/') AS SELECT CAST(user_id AS integer) AS i, dt FROM views WHERE false",
    )
    .await;
    // Rows arrive by day: two days of files are written before the third day's value fails.
    let error = engine
        .query("INSERT INTO narrow SELECT CASE WHEN dt = DATE '2024-01-03' THEN 3000000000 ELSE user_id END, dt FROM views")
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("column 'i' (int): Cast error"),
        "{error}"
    );
    assert_eq!(
        written_files(&lake.dir.path().join("narrow")),
        Vec::<PathBuf>::new()
    );
    assert_eq!(rows(&engine, "SELECT count(*) FROM narrow").await, ["0"]);
}
