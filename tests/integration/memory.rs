//! One memory budget for a whole query: with `--memory-limit` well below what the seed's
//! distinct-user questions need, each answers as without a limit or fails with a clear "out of
//! memory" — and the process's peak RSS stays under the limit plus a constant.

use std::process::{Command, Stdio};

use chrono::NaiveDate;
use minerva_demo::DemoSpec;
use nix::sys::resource::{UsageWho, getrusage};

use crate::support::DemoLake;

/// What the process holds besides the pool's accounting: the (debug) binary and its
/// libraries, the runtime's threads, and the decoding of one row group per thread. The README's
/// memory section documents it.
const UNACCOUNTED: u64 = 160 << 20;

/// The limit the queries run under: well below what the larger ones need.
const LIMIT: u64 = 8 << 20;

/// The seed's distinct-user questions, and harder groupings of the same kind.
const QUERIES: [&str; 7] = [
    include_str!("../../benches/queries/dau_month.sql"),
    include_str!("../../benches/queries/wau.sql"),
    include_str!("../../benches/queries/mau.sql"),
    include_str!("../../benches/queries/weekly_returning_users.sql"),
    "SELECT dt, region, count(DISTINCT user_id) FROM views GROUP BY dt, region",
    "SELECT session_id, count(DISTINCT user_id) FROM views GROUP BY session_id",
    "SELECT listing_id, count(DISTINCT user_id) FROM views GROUP BY listing_id",
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    /// Peak resident set size, in bytes.
    peak: u64,
}

/// Runs `minerva -c sql` on the lake and measures its peak RSS: in a process of its own (this
/// test binary, running only [`measure_one_run`]), whose one child it is, so that the
/// children's peak `getrusage` reports is this run's alone.
fn run(lake: &DemoLake, limit: Option<u64>, sql: &str) -> Run {
    let mut args = vec![
        "--catalog".to_string(),
        lake.catalog().to_string_lossy().into_owned(),
        "--format".to_string(),
        "csv".to_string(),
        "-c".to_string(),
        sql.to_string(),
    ];
    if let Some(bytes) = limit {
        args.extend(["--memory-limit".to_string(), format!("{bytes}B")]);
    }
    let report = lake.dir.path().join("measured");
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "memory::measure_one_run",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env(ARGS, args.join("\u{1f}"))
        .env(REPORT, &report)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .unwrap();
    assert!(status.success(), "the measuring process failed");
    let text = std::fs::read_to_string(&report).unwrap();
    let mut parts = text.splitn(4, '\u{1f}');
    let mut next = || parts.next().unwrap().to_string();
    Run {
        code: next().parse().unwrap(),
        peak: next().parse().unwrap(),
        stdout: next(),
        stderr: next(),
    }
}

const ARGS: &str = "MINERVA_MEASURE_ARGS";
const REPORT: &str = "MINERVA_MEASURE_REPORT";

/// The measuring process's work (see [`run`]); does nothing when run otherwise.
#[test]
#[ignore = "run by the memory test in a process of its own"]
fn measure_one_run() {
    let (Ok(args), Ok(report)) = (std::env::var(ARGS), std::env::var(REPORT)) else {
        return;
    };
    let output = Command::new(env!("CARGO_BIN_EXE_minerva"))
        .env_remove("MINERVA_CATALOG")
        .args(args.split('\u{1f}'))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap();
    // Linux reports kilobytes.
    let peak = usage.max_rss() as u64 * 1024;
    let code = output.status.code().unwrap_or(-1);
    let text = format!(
        "{code}\u{1f}{peak}\u{1f}{}\u{1f}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(report, text).unwrap();
}

fn sorted(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines
}

#[test]
fn every_seed_distinct_query_answers_or_fails_clearly_within_the_memory_limit() {
    let lake = DemoLake::new(DemoSpec {
        start: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        days: 35,
        events_per_day: 8_000,
        rows_per_file: 8_000,
        seed: 11,
        ..Default::default()
    });
    let mut failed = 0;
    for sql in QUERIES {
        let limited = run(&lake, Some(LIMIT), sql);
        assert!(
            !limited.stderr.contains("panicked"),
            "{sql}: {}",
            limited.stderr
        );
        assert!(
            limited.peak <= LIMIT + UNACCOUNTED,
            "{sql}: peak RSS {} MiB, over the limit of {} MiB plus {} MiB",
            limited.peak >> 20,
            LIMIT >> 20,
            UNACCOUNTED >> 20
        );
        match limited.code {
            0 => {
                let free = run(&lake, None, sql);
                assert_eq!(free.code, 0, "{sql}: {}", free.stderr);
                assert_eq!(sorted(&limited.stdout), sorted(&free.stdout), "{sql}");
            }
            1 => {
                failed += 1;
                let line = limited.stderr.trim();
                assert!(
                    line.lines().count() == 1
                        && line.contains("out of memory")
                        && line.contains("memory limit"),
                    "{sql}: {line}"
                );
            }
            code => panic!("{sql}: exit code {code}: {}", limited.stderr),
        }
    }
    // The limit is below what some of them need.
    assert!(failed > 0, "every query fit in {} MiB", LIMIT >> 20);
}
