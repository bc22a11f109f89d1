//! The real `minerva` binary: scripts, formats, exit codes, stderr, and the demo command.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

use crate::support::{regex_escape, tiny_lake};

fn minerva() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_minerva"));
    // Tests must not depend on the developer's environment or terminal.
    command.env_remove("MINERVA_CATALOG");
    command
}

/// A tiny lake and a `minerva` pointed at its catalog.
fn with_lake() -> (TempDir, Command) {
    let dir = tempfile::tempdir().unwrap();
    let catalog = tiny_lake(dir.path());
    let mut command = minerva();
    command.arg("--catalog").arg(catalog);
    (dir, command)
}

#[test]
fn commands_run_in_order_and_print_csv_when_piped() {
    let (_dir, mut cmd) = with_lake();
    cmd.args([
        "-c",
        "SELECT count(*) AS n FROM events; SELECT 'x' AS s",
        "-c",
        "SELECT 2 AS two",
    ])
    .assert()
    .success()
    .stdout("n\n6\ns\nx\ntwo\n2\n")
    .stderr("");
}

#[test]
fn files_and_stdin_are_scripts() {
    let (dir, mut cmd) = with_lake();
    let script = dir.path().join("q.sql");
    std::fs::write(
        &script,
        "-- views per day\nSELECT dt, count(*) AS n\nFROM events\nGROUP BY dt\nORDER BY dt;\n",
    )
    .unwrap();
    cmd.arg("-f")
        .arg(&script)
        .assert()
        .success()
        .stdout("dt,n\n2024-01-01,3\n2024-01-02,2\n2024-01-03,1\n");

    let (_dir, mut cmd) = with_lake();
    cmd.write_stdin("SELECT 1 AS a;\nSELECT\n  2 AS b;\n")
        .assert()
        .success()
        .stdout("a\n1\nb\n2\n");
}

#[test]
fn a_failed_statement_is_reported_and_the_rest_still_run() {
    let (_dir, mut cmd) = with_lake();
    cmd.args(["-c", "SELECT * FROM nope; SELECT 1 AS ok"])
        .assert()
        .code(1)
        .stdout("ok\n1\n")
        .stderr(predicate::str::is_match("^statement 1 \\(SELECT \\* FROM nope\\) failed: table 'nope' not found in catalog '.*catalog'\n$").unwrap());
}

#[test]
fn a_runaway_query_stops_at_the_timeout_and_the_next_statement_runs() {
    let (_dir, mut cmd) = with_lake();
    let started = std::time::Instant::now();
    cmd.args([
        "--timeout",
        "1s",
        "-c",
        RUNAWAY,
        "-c",
        "SELECT 1 AS ok",
    ])
    .assert()
    .code(1)
    .stdout("ok\n1\n")
    .stderr(predicate::str::contains(
        "failed: query stopped after 1s: it ran longer than the timeout (--timeout, \\set timeout, query_timeout in storage.toml)",
    ));
    // Stopped, not run to the end (a trillion rows).
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

/// A query that would run for hours: a trillion-row join.
const RUNAWAY: &str =
    "SELECT count(*) FROM range(1000000) a CROSS JOIN range(1000000) b WHERE a.value + b.value < 0";

#[test]
fn the_catalogs_query_timeout_applies_unless_the_command_line_says_otherwise() {
    let (dir, mut cmd) = with_lake();
    std::fs::write(
        dir.path().join("catalog/storage.toml"),
        "query_timeout = \"1s\"\n",
    )
    .unwrap();
    cmd.args(["-c", RUNAWAY])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("failed: query stopped after 1s"));
    minerva()
        .arg("--catalog")
        .arg(dir.path().join("catalog"))
        .args(["--timeout", "2s", "-c", RUNAWAY])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("failed: query stopped after 2s"));
}

#[test]
fn bad_sql_and_unknown_columns_fail_with_one_line() {
    let (dir, mut cmd) = with_lake();
    cmd.args(["-c", "SELEC 1", "-c", "SELECT nope FROM events"]);
    snapshot("bad_statements", &dir, &mut cmd);
}

/// Snapshots a run's exit code, stdout and stderr (`tests/integration/snapshots/`), with the
/// lake's temporary directory spelled `[LAKE]`.
fn snapshot(name: &str, lake: &TempDir, cmd: &mut Command) {
    let output = cmd.output().unwrap();
    let text = format!(
        "exit code: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let path = lake.path().to_string_lossy().into_owned();
    let escaped = regex_escape(&path);
    insta::with_settings!({
        snapshot_path => "snapshots",
        prepend_module_to_snapshot => false,
        // URLs spell the directory whole, object paths without its first '/'.
        filters => vec![
            (escaped.clone().leak() as &str, "[LAKE]"),
            (escaped.trim_start_matches('/').to_string().leak(), "[LAKE]"),
        ],
    }, {
        insta::assert_snapshot!(name, text);
    });
}

const FORMAT_QUERY: &str = "SELECT id, kind, amount, dt FROM events WHERE id IN (2, 4) ORDER BY id";

#[test]
fn every_output_format() {
    for format in ["csv", "tsv", "json", "ndjson", "markdown", "table", "bar"] {
        let (dir, mut cmd) = with_lake();
        cmd.args(["--format", format, "-c", FORMAT_QUERY]);
        snapshot(&format!("format_{format}"), &dir, &mut cmd);
    }
}

#[test]
fn empty_results_still_print_their_shape() {
    for (format, output) in [
        ("csv", "id\n"),
        ("json", "[]\n"),
        ("ndjson", ""),
        ("markdown", "| id |\n| ---: |\n"),
    ] {
        let (_dir, mut cmd) = with_lake();
        cmd.args([
            "--format",
            format,
            "-c",
            "SELECT id FROM events WHERE id > 100",
        ])
        .assert()
        .success()
        .stdout(output);
    }
}

#[test]
fn catalog_commands_work_as_sql() {
    let (dir, mut cmd) = with_lake();
    cmd.args([
        "-c",
        "SHOW TABLES; DESCRIBE sales.orders; SHOW PARTITIONS sales.orders",
    ]);
    snapshot("catalog_commands", &dir, &mut cmd);
}

#[test]
fn explain_shows_the_plan_and_the_partitions_chosen() {
    let (dir, mut cmd) = with_lake();
    // CSV: a table's borders would be as wide as the temporary directory's name; two threads
    // whatever the machine, since the plan shows them.
    cmd.args([
        "--threads",
        "2",
        "--format",
        "csv",
        "-c",
        "EXPLAIN SELECT kind, count(*) FROM events WHERE dt >= DATE '2024-01-02' GROUP BY kind",
        "-c",
        "EXPLAIN SELECT sum(total) FROM sales.orders WHERE region = 'busan'",
    ]);
    snapshot("explain", &dir, &mut cmd);
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = tiny_lake(dir.path());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_minerva"))
        .arg("--catalog")
        .arg(&catalog)
        .args([
            "-c",
            "SELECT * FROM events CROSS JOIN (SELECT * FROM generate_series(1, 200000)) AS many",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here, like `head -1` exiting.
    let output = child.wait_with_output().unwrap();
    assert!(first.starts_with("id,"), "{first}");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn a_missing_catalog_and_bad_usage_have_their_exit_codes() {
    minerva()
        .args(["--catalog", "/definitely/not/here", "-c", "SELECT 1"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "error: catalog directory '/definitely/not/here' cannot be read",
        ));
    minerva().arg("--no-such-flag").assert().code(2);
    minerva()
        .args(["--format", "xml", "-c", "SELECT 1"])
        .assert()
        .code(2);
}

#[test]
fn the_catalog_comes_from_the_environment_too() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = tiny_lake(dir.path());
    minerva()
        .env("MINERVA_CATALOG", &catalog)
        .args(["-c", "SELECT count(*) AS n FROM events"])
        .assert()
        .success()
        .stdout("n\n6\n");
}

#[test]
fn demo_writes_a_lake_once_and_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    let demo = |extra: &[&str]| {
        let mut cmd = minerva();
        cmd.args(["demo", "--out"])
            .arg(&out)
            .args(["--days", "3", "--events-per-day", "500"])
            .args(extra);
        cmd
    };
    demo(&[])
        .assert()
        .success()
        // Three compacted days and a fourth in the raw zone.
        .stderr(predicate::str::contains("wrote 2000 rows in "));
    demo(&[])
        .assert()
        .success()
        .stderr(predicate::str::contains("using the demo lake in"));
    minerva()
        .arg("--catalog")
        .arg(out.join("catalog"))
        .args([
            "-c",
            "SELECT count(*) AS n, count(DISTINCT dt) AS days, min(dt) AS first FROM views",
        ])
        .assert()
        .success()
        .stdout("n,days,first\n1500,3,2024-01-01\n");

    // A directory that is not a demo lake is never overwritten.
    let foreign = dir.path().join("mine");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
    minerva()
        .args(["demo", "--out"])
        .arg(&foreign)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("exists and is not a demo lake"));
    assert!(foreign.join("notes.txt").exists());
}

#[test]
fn the_repository_catalog_describes_the_demo_lake() {
    // catalog/ in the repository is the demo lake's catalog, reviewed in git: it must stay the
    // definition the generator writes, pointing at the default --out directory.
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let checked_in = minerva_catalog::Catalog::load(repo.join("catalog")).unwrap();
    let views = checked_in.resolve("views").unwrap();
    let catalog = repo.join("catalog");
    let generated = minerva_demo::views_table("../minerva-demo/views", &catalog);
    let generated = minerva_catalog::Table::new(generated, &catalog).unwrap();
    assert_eq!(*views, generated);
    let spec = minerva_demo::DemoSpec::default();
    let raw =
        minerva_demo::views_raw_table("../minerva-demo/raw/views", &catalog, spec.date(spec.days));
    let raw = minerva_catalog::Table::new(raw, &catalog).unwrap();
    assert_eq!(*checked_in.resolve("views_raw").unwrap(), raw);
    assert_eq!(
        std::fs::read_to_string(catalog.join("default/views_live.toml")).unwrap(),
        minerva_demo::VIEWS_LIVE
    );
    assert!(matches!(
        checked_in.find("default", "views_live").unwrap(),
        minerva_catalog::Entry::Live(_)
    ));
    assert_eq!(checked_in.problems().count(), 0);
}

#[test]
fn stdin_statements_may_span_lines_and_hold_semicolons_in_strings() {
    let (_dir, mut cmd) = with_lake();
    let mut script = Vec::new();
    writeln!(script, "SELECT 'a;b' AS s;").unwrap();
    writeln!(script, "/* a ; comment */ SELECT count(*) AS n").unwrap();
    writeln!(script, "FROM events WHERE kind = 'buy'").unwrap();
    cmd.write_stdin(script)
        .assert()
        .success()
        .stdout("s\na;b\nn\n2\n");
}

/// Under `--memory-limit`, a hash aggregation and sort larger than the limit spill to disk and
/// answer as they do without it.
#[test]
fn a_memory_limit_makes_large_operators_spill_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = minerva_demo::DemoSpec {
        days: 35,
        events_per_day: 20_000,
        ..Default::default()
    };
    let lake = minerva_demo::write_lake(&spec, dir.path(), &|_| {}).unwrap();
    let sql = "SELECT user_id, dt, count(*) AS n FROM views GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2";
    let run = |limit: Option<&str>, sql: &str| {
        let mut cmd = minerva();
        cmd.arg("--catalog")
            .arg(&lake.catalog)
            .arg("--hash-aggregation");
        if let Some(limit) = limit {
            cmd.args(["--memory-limit", limit]);
        }
        let output = cmd.args(["-c", sql]).output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(run(Some("40MB"), sql), run(None, sql));
    let analyzed = run(Some("40MB"), &format!("EXPLAIN ANALYZE {sql}"));
    let spills: u64 = analyzed
        .match_indices("spill_count=")
        .map(|(at, key)| {
            let digits: String = analyzed[at + key.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<u64>().unwrap()
        })
        .sum();
    assert!(spills > 0, "nothing spilled under the limit:\n{analyzed}");
}

/// Every statement the README's tour, its batch-layer and its right-now sections show runs on
/// the demo lake, in order, as a newcomer would paste it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_statements_run_on_the_demo_lake() {
    let lake = crate::support::DemoLake::new(minerva_demo::DemoSpec {
        events_per_day: 300,
        rows_per_file: 300,
        ..Default::default()
    });
    let engine = lake.engine();
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let mut ran = 0;
    for section in ["## A tour", "## Writing: the batch layer", "## Right now"] {
        let start = readme
            .find(section)
            .unwrap_or_else(|| panic!("no {section}"));
        let body = &readme[start + section.len()..];
        let body = &body[..body.find("\n## ").unwrap_or(body.len())];
        for block in body.split("```sql\n").skip(1) {
            let sql = &block[..block.find("```").unwrap()];
            for statement in minerva_sql::split_statements(sql).all() {
                let answer = engine.query(&statement).await;
                assert!(answer.is_ok(), "{statement}: {}", answer.unwrap_err());
                ran += 1;
            }
        }
    }
    assert!(ran >= 25, "{ran} statements");
}

#[test]
fn parquet_output_is_a_file_with_every_row() {
    let (dir, mut cmd) = with_lake();
    let output = cmd
        .args(["--format", "parquet", "-c", FORMAT_QUERY])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let path = dir.path().join("out.parquet");
    std::fs::write(&path, &output.stdout).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&path).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 2);
    let names: Vec<String> = batches[0]
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["id", "kind", "amount", "dt"]);
    // Never to a terminal: only the shell's \o or a redirect take it.
}

#[test]
fn a_bad_settings_file_is_named_and_a_good_one_applies() {
    let (dir, mut cmd) = with_lake();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "max_scan = 'lots'\n").unwrap();
    cmd.env("MINERVA_CONFIG", &config).args(["-c", "SELECT 1"]);
    cmd.assert()
        .failure()
        .stderr(predicate::str::contains(format!(
            "{}: 'max_scan' cannot be 'lots'",
            config.display()
        )));
    std::fs::write(&config, "max_scan = '1B'\n").unwrap();
    let (_dir, mut cmd) = with_lake();
    cmd.env("MINERVA_CONFIG", &config)
        .args(["-c", "SELECT count(*) FROM events"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("max_scan"));
    // A flag wins over the file.
    let (_dir, mut cmd) = with_lake();
    cmd.env("MINERVA_CONFIG", &config)
        .args([
            "--max-scan",
            "1GB",
            "-c",
            "SELECT count(*) AS n FROM events",
        ])
        .assert()
        .success();
}
