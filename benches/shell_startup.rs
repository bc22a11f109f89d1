//! The shell on a catalog of 1,000 tables, driven in a real pseudo-terminal as a user types:
//! start-up to the first prompt (the process, the catalog's files, the engine), the first Tab
//! (which gathers every table, column and function name) and a later Tab.
//!
//! Targets: start-up under 50 ms, completion under 10 ms. The times include the terminal's
//! round trip: the bench reads the pseudo-terminal as the bytes come (a thread blocked on it),
//! not by polling.
//!
//! `cargo bench --bench shell_startup`

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use nix::pty::{Winsize, openpty};

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

/// The shell in a pseudo-terminal of 120 × 50, and what it writes, as it comes.
struct Shell {
    child: Child,
    input: File,
    output: Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl Shell {
    fn spawn(root: &Path, catalog: &Path) -> Self {
        let size = Winsize {
            ws_row: 50,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&size), None).expect("a pseudo-terminal");
        let slave = File::from(pty.slave);
        let child = Command::new(env!("CARGO_BIN_EXE_minerva"))
            .arg("--catalog")
            .arg(catalog)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", root)
            .env("XDG_DATA_HOME", root.join("data"))
            .env("MINERVA_CONFIG", root.join("none.toml"))
            .env("TERM", "xterm")
            .env("NO_COLOR", "1")
            .stdin(Stdio::from(slave.try_clone().expect("the terminal")))
            .stdout(Stdio::from(slave.try_clone().expect("the terminal")))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("the shell starts");
        let master = File::from(pty.master);
        let input = master.try_clone().expect("the terminal");
        let (sender, output) = channel();
        std::thread::spawn(move || {
            let mut master = master;
            let mut buffer = [0u8; 65536];
            while let Ok(n) = master.read(&mut buffer) {
                if n == 0 || sender.send(buffer[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            input,
            output,
            seen: Vec::new(),
        }
    }

    /// Waits until `text` has been written since the last wait.
    fn expect(&mut self, text: &str) {
        let needle = text.as_bytes();
        loop {
            if let Some(at) = self.seen.windows(needle.len()).position(|w| w == needle) {
                self.seen.drain(..at + needle.len());
                return;
            }
            let chunk = self
                .output
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("'{text}' never came"));
            self.seen.extend(chunk);
        }
    }

    fn keys(&mut self, keys: &str) {
        self.input.write_all(keys.as_bytes()).expect("keys");
    }

    /// Types `keys` and waits for `shown`; returns how long that took.
    fn typed(&mut self, keys: &str, shown: &str) -> Duration {
        let started = Instant::now();
        self.keys(keys);
        self.expect(shown);
        started.elapsed()
    }

    /// Clears the line (Ctrl-C at the prompt) and waits for the next prompt.
    fn clear(&mut self) {
        self.keys("\x03");
        self.expect(PROMPT);
    }

    fn quit(mut self) {
        self.keys("\\q\r");
        self.child.wait().expect("the shell ends");
    }
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
                let mut shell = Shell::spawn(root.path(), &catalog);
                shell.expect(PROMPT);
                total += started.elapsed();
                shell.quit();
            }
            total
        })
    });

    group.bench_function("first_tab_table", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let mut shell = Shell::spawn(root.path(), &catalog);
                shell.expect(PROMPT);
                total += shell.typed("SELECT * FROM t0537_v\t", "t0537_views");
                shell.clear();
                shell.quit();
            }
            total
        })
    });

    group.bench_function("later_tab_column", |b| {
        let mut shell = Shell::spawn(root.path(), &catalog);
        shell.expect(PROMPT);
        // The names are gathered once, by the first Tab.
        shell.typed("SELECT * FROM t0001_v\t", "t0001_views");
        shell.clear();
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                total += shell.typed(
                    "SELECT count(*) FROM t0999_views WHERE listing_i\t",
                    "listing_id",
                );
                shell.clear();
            }
            total
        });
        shell.quit();
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
