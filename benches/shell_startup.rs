//! The shell on a catalog of 1,000 tables, driven in a real pseudo-terminal as a user types:
//! start-up to the first prompt (the process, the catalog's files, the engine), the first Tab
//! (which gathers every table, column and function name) and a later Tab.
//!
//! Targets: start-up under 50 ms, completion under 10 ms (`benches/README.md`). The times
//! include the terminal's round trip (rexpect polls it every millisecond).
//!
//! `cargo bench --bench shell_startup`

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use rexpect::session::{Options, PtySession, spawn_with_options};

const TABLES: usize = 1_000;
const PROMPT: &str = "minerva> ";

/// `catalog/default/t0000_views.toml` … : the demo's columns, a day partition, a location that
/// need not exist (nothing is read before a query).
fn catalog(root: &Path) -> PathBuf {
    let catalog = root.join("catalog");
    let dir = catalog.join("default");
    std::fs::create_dir_all(&dir).expect("a catalog directory");
    for i in 0..TABLES {
        let text = format!(
            r#"location = "../lake/t{i:04}"
columns = [
  {{ name = "event_time", type = "timestamp" }},
  {{ name = "event_id", type = "string" }},
  {{ name = "user_id", type = "bigint" }},
  {{ name = "session_id", type = "string" }},
  {{ name = "listing_id", type = "bigint" }},
  {{ name = "region", type = "string" }},
  {{ name = "service", type = "string" }},
  {{ name = "platform", type = "string" }},
  {{ name = "event_type", type = "string" }},
  {{ name = "price", type = "bigint" }},
]
partition_columns = [{{ name = "dt", type = "date" }}]
"#
        );
        std::fs::write(dir.join(format!("t{i:04}_views.toml")), text).expect("a table file");
    }
    catalog
}

fn spawn(root: &Path, catalog: &Path) -> PtySession {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("stty cols 120 rows 50 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_minerva"))
        .arg("--catalog")
        .arg(catalog)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", root)
        .env("XDG_DATA_HOME", root.join("data"))
        .env("MINERVA_CONFIG", root.join("none.toml"))
        .env("TERM", "xterm")
        .env("NO_COLOR", "1");
    let options = Options::new()
        .timeout_ms(Some(30_000))
        .strip_ansi_escape_codes(true);
    spawn_with_options(command, options).expect("the shell starts")
}

fn quit(mut session: PtySession) {
    session.send_line("\\q").expect("\\q");
    session.exp_eof().expect("the shell ends");
}

/// Types `keys` and waits for `shown`; returns how long that took.
fn typed(session: &mut PtySession, keys: &str, shown: &str) -> Duration {
    let started = Instant::now();
    session.send(keys).expect("keys");
    session.flush().expect("flushed");
    session.exp_string(shown).expect("the completion");
    started.elapsed()
}

fn bench(c: &mut Criterion) {
    let root = tempfile::tempdir().expect("a temporary directory");
    let catalog = catalog(root.path());
    let mut group = c.benchmark_group("shell_1000_tables");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(20));

    group.bench_function("start_to_prompt", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let started = Instant::now();
                let mut session = spawn(root.path(), &catalog);
                session.exp_string(PROMPT).expect("the prompt");
                total += started.elapsed();
                quit(session);
            }
            total
        })
    });

    group.bench_function("first_tab_table", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let mut session = spawn(root.path(), &catalog);
                session.exp_string(PROMPT).expect("the prompt");
                total += typed(&mut session, "SELECT * FROM t0537_v\t", "t0537_views");
                session.send_control('c').expect("Ctrl-C");
                quit(session);
            }
            total
        })
    });

    group.bench_function("later_tab_column", |b| {
        let mut session = spawn(root.path(), &catalog);
        session.exp_string(PROMPT).expect("the prompt");
        // The names are gathered once, by the first Tab.
        typed(&mut session, "SELECT * FROM t0001_v\t", "t0001_views");
        session.send_control('c').expect("Ctrl-C");
        session.exp_string(PROMPT).expect("the prompt");
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                total += typed(
                    &mut session,
                    "SELECT count(*) FROM t0999_views WHERE listing_i\t",
                    "listing_id",
                );
                session.send_control('c').expect("Ctrl-C");
                session.exp_string(PROMPT).expect("the prompt");
            }
            total
        });
        quit(session);
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
