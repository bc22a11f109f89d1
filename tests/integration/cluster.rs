//! Scale-out: a coordinator (`minerva --cluster`) and workers (`minerva worker`), each a
//! separate process of the real binary on loopback, against the single-process answers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use minerva_demo::DemoSpec;

use crate::support::{DemoLake, sql_files};

/// A lake with several files per day, so that scans split across workers.
fn lake() -> DemoLake {
    DemoLake::new(DemoSpec {
        days: 35,
        events_per_day: 1_500,
        rows_per_file: 600,
        seed: 11,
        ..Default::default()
    })
}

fn minerva(catalog: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_minerva"));
    command
        .env_remove("MINERVA_CATALOG")
        .env_remove("MINERVA_CLUSTER")
        .env_remove("MINERVA_MAX_SCAN")
        .env_remove("MINERVA_TIMEOUT")
        .env("MINERVA_CACHE_DIR", crate::support::fresh_cache_dir())
        .arg("--catalog")
        .arg(catalog)
        .args(["--format", "csv"]);
    command
}

/// A worker process, killed when dropped.
struct Worker {
    child: Child,
    url: String,
}

impl Worker {
    fn start(catalog: &Path) -> Self {
        Self::start_with(catalog, &[])
    }

    /// A worker with these environment variables (and no other `AWS_*` ones when any is given).
    fn start_with(catalog: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_on(catalog, "127.0.0.1:0", env)
    }

    fn start_on(catalog: &Path, address: &str, env: &[(&str, &str)]) -> Self {
        let mut command = minerva(catalog);
        if !env.is_empty() {
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with("AWS_") {
                    command.env_remove(key);
                }
            }
        }
        command.envs(env.iter().copied());
        let mut child = command
            .args(["worker", "--listen", address])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in the worker's first line: {line}"));
        Self {
            child,
            url: format!("http://{address}"),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

fn cluster(workers: &[Worker]) -> String {
    workers
        .iter()
        .map(|w| w.url.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn run(command: &mut Command) -> Output {
    command.stdin(Stdio::null()).output().unwrap()
}

fn stdout(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Rows in a canonical order, with floating-point cells to 9 significant digits (partial sums
/// on several machines add in another order).
fn canonical(csv: &str) -> Vec<String> {
    let mut lines: Vec<String> = csv
        .lines()
        .map(|line| {
            line.split(',')
                .map(|cell| match cell.parse::<f64>() {
                    Ok(x) if cell.contains('.') || cell.contains('e') => format!("{x:.9e}"),
                    _ => cell.to_string(),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    lines.sort();
    lines
}

fn seed_queries() -> Vec<PathBuf> {
    let files = sql_files("benches/queries");
    assert!(files.len() >= 20, "the seed queries: {files:?}");
    files
}

#[test]
fn every_seed_query_on_three_workers_equals_the_single_process_answer() {
    let lake = lake();
    let catalog = lake.catalog();
    let workers: Vec<Worker> = (0..3).map(|_| Worker::start(&catalog)).collect();
    let urls = cluster(&workers);
    for query in seed_queries() {
        let name = query.file_name().unwrap().to_string_lossy().to_string();
        let alone = stdout(&run(minerva(&catalog).arg("-f").arg(&query)), &name);
        let spread = stdout(
            &run(minerva(&catalog)
                .args(["--cluster", &urls])
                .arg("-f")
                .arg(&query)),
            &format!("{name} on the cluster"),
        );
        assert!(alone.lines().count() > 1, "{name} answered no rows");
        assert_eq!(canonical(&spread), canonical(&alone), "{name}");
    }
    // Beyond the seed: the live table (Parquet days and gzipped JSON hours), the raw table,
    // and Trino's aggregates that are rewritten into DataFusion's before they run.
    for sql in [
        "SELECT dt, count(*) AS n, count(DISTINCT user_id) AS u FROM views_live GROUP BY dt",
        "SELECT count(*) AS n, max(event_time) AS last FROM views_raw",
        "SELECT region, approx_distinct(user_id) AS u, count_if(price > 100000) AS c \
         FROM views WHERE dt >= DATE '2024-01-20' GROUP BY region",
        "SELECT histogram(platform) AS h FROM views WHERE dt = DATE '2024-01-03'",
    ] {
        let alone = stdout(&run(minerva(&catalog).args(["-c", sql])), sql);
        let spread = stdout(
            &run(minerva(&catalog).args(["--cluster", &urls, "-c", sql])),
            sql,
        );
        assert!(alone.lines().count() > 1, "{sql} answered no rows");
        assert_eq!(canonical(&spread), canonical(&alone), "{sql}");
    }
}

#[test]
fn explain_analyze_shows_the_stages_and_which_worker_read_which_files() {
    let lake = lake();
    let catalog = lake.catalog();
    let workers: Vec<Worker> = (0..3).map(|_| Worker::start(&catalog)).collect();
    let sql = "SELECT region, count(*) AS n FROM views \
               WHERE dt BETWEEN DATE '2024-01-08' AND DATE '2024-01-14' GROUP BY region";
    let output = run(minerva(&catalog)
        .args(["--cluster", &cluster(&workers), "-c"])
        .arg(format!("EXPLAIN ANALYZE {sql}")));
    let plan = stdout(&output, "EXPLAIN ANALYZE");
    assert!(plan.contains("Stage 1"), "{plan}");
    assert!(plan.contains("ScanShare: task 1 of 3"), "{plan}");
    let rows: Vec<&str> = plan.lines().filter(|l| l.starts_with("worker,")).collect();
    assert_eq!(rows.len(), 3, "one row per worker: {plan}");
    for worker in &workers {
        assert!(
            rows.iter().any(|r| r.contains(&worker.url)),
            "{} is missing: {plan}",
            worker.url
        );
    }
    // Every file of the week is named by some worker's row.
    for day in 8..=14 {
        let dir = lake.views().join(format!("dt=2024-01-{day:02}"));
        for file in std::fs::read_dir(dir).unwrap() {
            let name = file.unwrap().file_name().to_string_lossy().to_string();
            let key = format!("dt=2024-01-{day:02}/{name}");
            assert!(
                rows.iter().any(|r| r.contains(&key)),
                "{key} read by no worker: {plan}"
            );
        }
    }
    // EXPLAIN alone shows the stages and each task's files, before anything runs.
    let explained = stdout(
        &run(minerva(&catalog)
            .args(["--cluster", &cluster(&workers), "-c"])
            .arg(format!("EXPLAIN {sql}"))),
        "EXPLAIN",
    );
    assert!(explained.contains("distributed_plan"), "{explained}");
    assert!(explained.contains("Stage 1"), "{explained}");
    assert!(explained.contains("ScanShare: task 3 of 3"), "{explained}");
    // The count is dense: partial states on the workers, merged on the coordinator.
    assert!(explained.contains("DenseMergeExec"), "{explained}");
    assert!(
        explained.contains("DenseAggregateExec: mode=partial"),
        "{explained}"
    );
    // The bytes the workers read are in the status line.
    let stats =
        run(minerva(&catalog).args(["--cluster", &cluster(&workers), "--stats", "-c", sql]));
    let stderr = String::from_utf8_lossy(&stats.stderr);
    assert!(stats.status.success(), "{stderr}");
    assert!(
        !stderr.contains("Data scanned: 0 B"),
        "workers' reads are counted: {stderr}"
    );
}

#[test]
fn one_worker_reads_the_store_itself_even_for_one_file() {
    let lake = lake();
    let catalog = lake.catalog();
    let worker = Worker::start(&catalog);
    let sql = "SELECT count(DISTINCT user_id) AS u FROM views WHERE dt = DATE '2024-01-09'";
    let plan = stdout(
        &run(minerva(&catalog)
            .args(["--cluster", &worker.url, "-c"])
            .arg(format!("EXPLAIN ANALYZE {sql}"))),
        "EXPLAIN ANALYZE",
    );
    let rows: Vec<&str> = plan.lines().filter(|l| l.starts_with("worker,")).collect();
    assert_eq!(rows.len(), 1, "{plan}");
    assert!(
        rows[0].contains(&worker.url) && rows[0].contains("dt=2024-01-09/"),
        "{plan}"
    );
    let alone = stdout(&run(minerva(&catalog).args(["-c", sql])), "alone");
    let spread = stdout(
        &run(minerva(&catalog).args(["--cluster", &worker.url, "-c", sql])),
        "one worker",
    );
    assert_eq!(spread, alone);
}

#[test]
fn the_scan_limit_holds_across_the_cluster() {
    let lake = lake();
    let catalog = lake.catalog();
    let workers: Vec<Worker> = (0..2).map(|_| Worker::start(&catalog)).collect();
    let sql =
        "SELECT sum(price) FROM views WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-31'";
    let limited = run(minerva(&catalog).args([
        "--cluster",
        &cluster(&workers),
        "--max-scan",
        "20KB",
        "-c",
        sql,
    ]));
    let stderr = String::from_utf8_lossy(&limited.stderr);
    assert!(
        !limited.status.success(),
        "a 20 KB limit stops it: {stderr}"
    );
    assert!(
        stderr.contains("it would read more than"),
        "the limit's own message: {stderr}"
    );
    let generous = run(minerva(&catalog).args([
        "--cluster",
        &cluster(&workers),
        "--max-scan",
        "1GB",
        "-c",
        sql,
    ]));
    let alone = run(minerva(&catalog).args(["-c", sql]));
    assert_eq!(
        canonical(&stdout(&generous, "under a generous limit")),
        canonical(&stdout(&alone, "alone"))
    );
}

#[test]
fn a_worker_killed_mid_query_fails_the_query_naming_it_and_the_cluster_serves_the_next() {
    let lake = DemoLake::new(DemoSpec {
        days: 6,
        events_per_day: 9_000,
        rows_per_file: 3_000,
        seed: 5,
        ..Default::default()
    });
    let catalog = lake.catalog();
    let mut workers: Vec<Worker> = (0..3).map(|_| Worker::start(&catalog)).collect();
    let urls = cluster(&workers);
    // A join of each day's rows with every row of the same day and service: long enough to
    // be running when the worker dies.
    let slow = minerva(&catalog)
        .args(["--cluster", &urls, "--timeout", "300s", "-c"])
        .arg("SELECT count(*) FROM views a JOIN views b ON a.dt = b.dt AND a.service = b.service")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let victim = workers[1].url.clone();
    workers[1].kill();
    let failed = slow.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "never an answer: {stderr}");
    assert!(
        stderr.contains(&victim) && stderr.contains("stopped answering"),
        "the error names the worker: {stderr}"
    );
    // The next query runs on the two that answer, with the single-process answer.
    let sql = "SELECT dt, count(*) AS n FROM views GROUP BY dt";
    let next = run(minerva(&catalog).args(["--cluster", &urls, "-c", sql]));
    let alone = run(minerva(&catalog).args(["-c", sql]));
    assert_eq!(
        canonical(&stdout(&next, "the next query")),
        canonical(&stdout(&alone, "alone"))
    );
    // A worker started again at that address is used again.
    workers[1] = Worker::start_on(&catalog, victim.trim_start_matches("http://"), &[]);
    let plan = stdout(
        &run(minerva(&catalog)
            .args(["--cluster", &urls, "-c"])
            .arg(format!("EXPLAIN ANALYZE {sql}"))),
        "after the restart",
    );
    assert!(
        plan.lines()
            .any(|l| l.starts_with("worker,") && l.contains(&victim)),
        "{plan}"
    );
}

#[test]
fn a_worker_stopped_by_sigterm_finishes_its_running_fragments_first() {
    let lake = DemoLake::new(DemoSpec {
        days: 6,
        events_per_day: 9_000,
        rows_per_file: 3_000,
        seed: 5,
        ..Default::default()
    });
    let catalog = lake.catalog();
    let mut workers: Vec<Worker> = (0..2).map(|_| Worker::start(&catalog)).collect();
    let slow = minerva(&catalog)
        .args(["--cluster", &cluster(&workers), "--timeout", "300s", "-c"])
        .arg("SELECT count(*) AS n FROM views a JOIN views b ON a.dt = b.dt AND a.service = b.service")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(workers[1].child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let answered = slow.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&answered.stderr);
    assert!(answered.status.success(), "the query finishes: {stderr}");
    let n: u64 = String::from_utf8_lossy(&answered.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("a count: {answered:?}"));
    assert!(n > 0);
    // Then the worker is gone.
    let status = workers[1].child.wait().unwrap();
    assert!(status.success(), "it stops cleanly: {status:?}");
}

#[test]
fn a_cluster_of_no_answering_worker_is_a_clear_error() {
    let lake = DemoLake::new(DemoSpec {
        days: 1,
        events_per_day: 100,
        ..Default::default()
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = run(minerva(&lake.catalog())
        .args(["--cluster", &format!("127.0.0.1:{port}"), "-c"])
        .arg("SELECT count(*) FROM views"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("no worker of the cluster answers") && stderr.contains(&port.to_string()),
        "{stderr}"
    );
    let bad = run(minerva(&lake.catalog()).args(["--cluster", "ftp://x", "-c", "SELECT 1"]));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a worker URL"));
}

#[test]
fn a_worker_that_cannot_read_the_store_says_so() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some((server, _lake, catalog)) = runtime.block_on(crate::s3::S3Lake::start("cluster"))
    else {
        return;
    };
    const SECRET: &str = "a-wrong-secret-never-printed";
    // The coordinator can list the bucket; the workers sign with a wrong secret.
    let env = [
        ("AWS_ACCESS_KEY_ID", crate::s3_server::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_CONFIG_FILE", "/nonexistent/aws/config"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws/credentials",
        ),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let workers: Vec<Worker> = (0..2).map(|_| Worker::start_with(&catalog, &env)).collect();
    let output = server
        .minerva()
        .args(["--catalog", catalog.to_str().unwrap()])
        .args(["--cluster", &cluster(&workers)])
        .args(["-c", "SELECT count(DISTINCT user_id) AS n FROM views"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("check the secret access key") && stderr.contains("views"),
        "the store's error, naming the table: {stderr}"
    );
    assert!(!stderr.contains(SECRET), "{stderr}");
}
