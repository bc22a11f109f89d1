//! The live table (issue #16): `views_live` counts every event exactly once, before, during and
//! after compactions, with late events (event times hours before their arrival hour), raw files
//! of compacted hours kept or deleted, and a raw object landing a moment before the query; both
//! sides prune, and `EXPLAIN` shows the watermark.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::TimestampMicrosecondType;
use chrono::NaiveDateTime;
use minerva_demo::{DemoSpec, generate_day, write_raw_object};
use minerva_engine::Engine;

use crate::support::{DemoLake, rows};

/// Every event the test wrote, independently of Minerva: `(event_id, event_time in µs)`.
#[derive(Default)]
struct Events(Vec<(String, i64)>);

impl Events {
    fn add(&mut self, batch: &RecordBatch) {
        let times = batch.column(0).as_primitive::<TimestampMicrosecondType>();
        let ids = batch.column(1).as_string::<i32>();
        for i in 0..batch.num_rows() {
            self.0.push((ids.value(i).to_string(), times.value(i)));
        }
    }

    /// How many distinct events, all of them distinct (the generator's promise, checked).
    fn count(&self) -> usize {
        let distinct: HashSet<&str> = self.0.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            distinct.len(),
            self.0.len(),
            "generated events are distinct"
        );
        distinct.len()
    }

    fn count_since(&self, at: &str) -> usize {
        let at = micros(at);
        self.0.iter().filter(|(_, t)| *t >= at).count()
    }
}

fn micros(text: &str) -> i64 {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

fn spec() -> DemoSpec {
    DemoSpec {
        days: 2,
        events_per_day: 3_000,
        rows_per_file: 3_000,
        ..Default::default()
    }
}

/// The demo lake (views: 2024-01-01 and 02; the raw zone: the hours of 2024-01-03) and every
/// event in it.
fn lake() -> (DemoLake, Events) {
    let lake = DemoLake::new(spec());
    let mut events = Events::default();
    for day in 0..=2 {
        for batch in generate_day(&lake.spec, day) {
            events.add(&batch);
        }
    }
    (lake, events)
}

/// Late events: `n` events of day `day` (another seed, so other events), landed as one raw
/// object in arrival hour `hour` of 2024-01-03.
fn land_late(lake: &DemoLake, events: &mut Events, day: u32, n: usize, hour: u32, name: &str) {
    let other = DemoSpec {
        seed: 1_000 + events.0.len() as u64,
        events_per_day: n,
        rows_per_file: n,
        ..lake.spec.clone()
    };
    let batch = generate_day(&other, day).remove(0);
    // An event lands after it happens: nothing here is later than its arrival hour.
    let arrived_by = micros(&format!("2024-01-03 {hour:02}:59:59"));
    let times = batch.column(0).as_primitive::<TimestampMicrosecondType>();
    assert!(times.values().iter().all(|t| *t <= arrived_by));
    write_raw_object(&raw_hour(lake, hour).join(name), &batch).unwrap();
    events.add(&batch);
}

fn raw_hour(lake: &DemoLake, hour: u32) -> PathBuf {
    lake.dir
        .path()
        .join(format!("raw/views/2024/01/03/{hour:02}"))
}

async fn count(engine: &Engine, sql: &str) -> usize {
    rows(engine, sql).await[0].parse().unwrap()
}

/// The live table's answers equal the independent counts.
async fn check(engine: &Engine, events: &Events, step: &str) {
    let all = events.count();
    assert_eq!(
        rows(
            engine,
            "SELECT count(*), count(DISTINCT event_id) FROM views_live"
        )
        .await,
        [format!("{all}|{all}")],
        "{step}: every event once"
    );
    for since in [
        "2024-01-01 00:00:00",
        "2024-01-02 23:00:00",
        "2024-01-03 05:00:00",
        "2024-01-03 23:00:00",
    ] {
        assert_eq!(
            count(
                engine,
                &format!("SELECT count(*) FROM views_live WHERE event_time >= TIMESTAMP '{since}'")
            )
            .await,
            events.count_since(since),
            "{step}: events since {since}"
        );
    }
    // The day partition the speed side computes agrees with the batch side's.
    assert_eq!(
        count(
            engine,
            "SELECT count(*) FROM views_live WHERE dt = DATE '2024-01-02'"
        )
        .await,
        events.count_since("2024-01-02 00:00:00") - events.count_since("2024-01-03 00:00:00"),
        "{step}: the second day"
    );
}

async fn run(engine: &Engine, sql: &str) {
    engine
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_table_counts_every_event_once_through_compactions_late_events_and_expiry() {
    let (lake, mut events) = lake();
    let engine = lake.engine();
    check(&engine, &events, "before any compaction").await;

    // Late events: of the day before, landed at 03:00 and 04:00 of the raw day.
    land_late(&lake, &mut events, 1, 200, 3, "late-a.json.gz");
    land_late(&lake, &mut events, 1, 50, 4, "late-b.json.gz");
    check(&engine, &events, "late events in the raw zone").await;

    run(
        &engine,
        "COMPACT views_live WHERE datehour <= '2024/01/03/05'",
    )
    .await;
    check(
        &engine,
        &events,
        "after compacting hours 00-05 (their files kept)",
    )
    .await;
    assert!(
        count(
            &engine,
            "SELECT count(*) FROM views WHERE dt = DATE '2024-01-02'"
        )
        .await
            > 3_000,
        "late events went to their own day on the batch side"
    );

    // Firehose's raw zone expires: the compacted hours go, the batch side has them.
    for hour in 0..=2 {
        std::fs::remove_dir_all(raw_hour(&lake, hour)).unwrap();
    }
    check(
        &engine,
        &events,
        "after the raw files of hours 00-02 were deleted",
    )
    .await;

    // Late events after their day was compacted: in a later hour, and in an hour already
    // compacted (an object that landed in its prefix after that compaction listed it).
    land_late(&lake, &mut events, 1, 70, 8, "late-c.json.gz");
    land_late(&lake, &mut events, 1, 30, 4, "late-d.json.gz");
    check(&engine, &events, "late events after compaction").await;

    run(&engine, "COMPACT views_live").await;
    check(&engine, &events, "after compacting everything").await;
    run(&engine, "COMPACT views_live").await;
    check(&engine, &events, "after a compaction with nothing to do").await;

    // An object that lands a moment before the query is in its answer, through a view too.
    run(
        &engine,
        "CREATE VIEW per_day AS SELECT dt, count(*) AS n FROM views_live GROUP BY dt",
    )
    .await;
    land_late(&lake, &mut events, 2, 10, 23, "just-now.json.gz");
    check(&engine, &events, "an object landed just before the query").await;
    assert_eq!(
        count(&engine, "SELECT sum(n) FROM per_day").await,
        events.count(),
        "a view over the live table"
    );
}

fn minerva(catalog: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_minerva"));
    cmd.arg("--catalog").arg(catalog).stdin(Stdio::null());
    cmd
}

#[test]
fn a_reader_looping_while_compactions_commit_always_counts_every_event_once() {
    let lake = DemoLake::new(DemoSpec {
        days: 1,
        events_per_day: 40_000,
        rows_per_file: 40_000,
        ..Default::default()
    });
    let expected = 80_000;
    let catalog = lake.catalog();
    // Compactions in another process, a few hours at a time, while this one reads.
    let compactor = {
        let catalog = catalog.clone();
        std::thread::spawn(move || {
            for last in [3, 7, 11, 15, 19, 23] {
                let output = minerva(&catalog)
                    .args([
                        "-c",
                        &format!("COMPACT views_live WHERE datehour <= '2024/01/02/{last:02}'"),
                    ])
                    .output()
                    .unwrap();
                assert!(
                    output.status.success(),
                    "{}",
                    String::from_utf8_lossy(&output.stderr)
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
    while !compactor.is_finished() {
        let answer = runtime.block_on(rows(
            &engine,
            "SELECT count(*), count(DISTINCT event_id) FROM views_live",
        ));
        assert_eq!(answer, [format!("{expected}|{expected}")], "read {reads}");
        reads += 1;
    }
    compactor.join().unwrap();
    assert!(reads > 1, "the reader overlapped the compactions");
    assert_eq!(
        runtime.block_on(rows(&engine, "SELECT count(*) FROM views_raw")),
        ["40000"],
        "the raw zone keeps its files"
    );
    assert_eq!(
        runtime.block_on(rows(&engine, "SELECT count(*) FROM views_live")),
        [expected.to_string()]
    );
}

async fn explain(engine: &Engine, sql: &str) -> (String, String) {
    let plan = rows(engine, &format!("EXPLAIN {sql}")).await;
    let side = |which: &str| {
        plan.iter()
            .find(|row| row.contains(&format!("views_live, {which} side")))
            .unwrap_or_else(|| panic!("no {which} side in {plan:#?}"))
            .clone()
    };
    (side("batch"), side("speed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_both_sides_pruned_and_the_watermark() {
    let (lake, _) = lake();
    let engine = lake.engine();
    // A live table's definition is its file.
    let shown = rows(&engine, "SHOW CREATE TABLE views_live").await;
    assert!(shown.iter().any(|l| l == "[live]"), "{shown:?}");
    assert!(
        shown.iter().any(|l| l.starts_with("batch = \"views\"")),
        "{shown:?}"
    );
    let hour = |h: u32| {
        format!(
            "SELECT count(*) FROM views_live WHERE event_time >= TIMESTAMP '2024-01-03 {h:02}:00:00' AND event_time < TIMESTAMP '2024-01-03 {h:02}:00:00' + INTERVAL '1' HOUR"
        )
    };

    // Nothing compacted: the last hour is one projected hour on the speed side, and the batch
    // side reads nothing (its one candidate day has no file).
    let (batch, speed) = explain(&engine, &hour(23)).await;
    assert!(
        speed.contains("default.views_raw: 1 of 24 partitions chosen by projection, 1 file"),
        "{speed}"
    );
    assert!(speed.contains("2024/01/03/23/"), "{speed}");
    assert!(
        speed.contains(
            "watermark: default.views (manifest version 0) consumed nothing of default.views_raw"
        ),
        "{speed}"
    );
    assert!(
        batch.contains("default.views: 0 partitions chosen by listing, 0 files"),
        "{batch}"
    );

    // An hour of a day the batch side holds: one day partition; no arrival hour before it.
    let (batch, speed) = explain(
        &engine,
        "SELECT count(*) FROM views_live WHERE event_time >= TIMESTAMP '2024-01-02 10:00:00' AND event_time < TIMESTAMP '2024-01-02 11:00:00'",
    )
    .await;
    assert!(
        batch.contains("default.views: 1 partition chosen by listing, 1 file"),
        "{batch}"
    );
    assert!(batch.contains("dt=2024-01-02/"), "{batch}");
    assert!(
        speed.contains("24 of 24 partitions"),
        "late events may land in any later hour: {speed}"
    );

    // Compacted hours: the speed side leaves their objects out, the batch side holds them.
    engine
        .query("COMPACT views_live WHERE datehour <= '2024/01/03/11'")
        .await
        .unwrap();
    let (batch, speed) = explain(&engine, &hour(11)).await;
    assert!(
        speed.contains("default.views_raw: 13 of 24 partitions chosen by projection, 12 files"),
        "{speed}"
    );
    assert!(
        speed.contains("watermark: default.views (manifest version 1) consumed 12 objects of default.views_raw (2024/01/03/00/ … 2024/01/03/11/); 1 object listed here left out as compacted"),
        "{speed}"
    );
    assert!(
        batch.contains("default.views: 1 partition chosen by listing, 1 file"),
        "{batch}"
    );
    assert!(batch.contains("dt=2024-01-03/"), "{batch}");
    // The last hour again: still one hour on the speed side, now with nothing left out.
    let (_, speed) = explain(&engine, &hour(23)).await;
    assert!(speed.contains("1 of 24 partitions"), "{speed}");
    assert!(speed.contains("0 objects listed here left out"), "{speed}");
}

#[test]
fn the_live_demo_lands_objects_and_compacts_without_losing_or_doubling_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("live");
    let output = Command::new(env!("CARGO_BIN_EXE_minerva"))
        .args([
            "demo",
            "--live",
            "--days",
            "2",
            "--events-per-day",
            "500",
            "--today-events",
            "200000",
            "--every",
            "300ms",
            "--for",
            "3s",
            "--compact",
            "1s",
            "--out",
        ])
        .arg(&out)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("now landing an object every 300ms"),
        "{stderr}"
    );
    assert!(stderr.contains("compacted"), "{stderr}");
    assert!(
        stderr.contains("SELECT count(*) FROM views_live WHERE listing_id ="),
        "{stderr}"
    );
    let today = chrono::Utc::now().date_naive();
    let raw_today = out
        .join("raw/views")
        .join(today.format("%Y/%m/%d").to_string());
    assert!(raw_today.is_dir(), "today's arrival hours landed");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let engine = Engine::open(out.join("catalog")).unwrap();
    let query = |sql: &str| runtime.block_on(rows(&engine, sql));
    let live = query("SELECT count(*), count(DISTINCT event_id) FROM views_live");
    let raw: usize = query("SELECT count(*) FROM views_raw")[0].parse().unwrap();
    let history = 2 * 500;
    // Everything that landed is in views_live once; compaction moved some of it to views.
    assert_eq!(live, [format!("{}|{}", history + raw, history + raw)]);
    let views: usize = query("SELECT count(*) FROM views")[0].parse().unwrap();
    assert!(views > history, "compactions took raw events into views");
    assert_eq!(
        query(&format!(
            "SELECT count(*) FROM views_live WHERE dt = DATE '{today}'"
        )),
        query(&format!(
            "SELECT count(*) FROM views_raw WHERE CAST(event_time AS DATE) = DATE '{today}'"
        )),
        "today's events are the raw zone's"
    );
}
