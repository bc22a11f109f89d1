//! The progress line of a running query, on a terminal only: after half a second, one line on
//! stderr with the files read of those chosen, the partitions chosen, bytes read, rows,
//! elapsed time and, once it means something, an estimate of the time left. Cleared before
//! the results print; never drawn when stderr is a pipe or a file.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use minerva_catalog::display_byte_size;
use minerva_engine::{QueryStats, ScanSummary};

/// How long a query runs before its progress shows.
pub const DELAY: Duration = Duration::from_millis(500);
const TICK: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    stats: Mutex<Option<Arc<QueryStats>>>,
    bar: Mutex<Option<ProgressBar>>,
}

/// A query's progress line; dropping it clears the line.
#[derive(Debug)]
pub struct Progress {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts watching: nothing shows until [`DELAY`] has passed, and nothing ever unless
    /// `enabled` (stderr is a terminal).
    pub fn start(enabled: bool) -> Self {
        let shared = Arc::new(Shared::default());
        let thread = enabled.then(|| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || draw(&shared))
        });
        Self { shared, thread }
    }

    /// The query's counters, once it is planned.
    pub fn watch(&self, stats: Arc<QueryStats>) {
        *self.shared.stats.lock().expect("progress lock poisoned") = Some(stats);
    }

    /// A function that clears the line (the printer calls it before its first byte).
    pub fn clearer(&self) -> impl FnOnce() + Send + 'static {
        let shared = Arc::clone(&self.shared);
        move || clear(&shared)
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        clear(&self.shared);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn clear(shared: &Shared) {
    shared.stop.store(true, Ordering::SeqCst);
    if let Some(bar) = shared.bar.lock().expect("progress lock poisoned").take() {
        bar.finish_and_clear();
    }
}

fn draw(shared: &Shared) {
    let started = Instant::now();
    while started.elapsed() < DELAY {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    {
        let mut slot = shared.bar.lock().expect("progress lock poisoned");
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        *slot = Some(bar);
    }
    while !shared.stop.load(Ordering::SeqCst) {
        let summary = shared
            .stats
            .lock()
            .expect("progress lock poisoned")
            .as_ref()
            .map(|s| (s.summary(), files_chosen(s)));
        let message = match summary {
            None => format!("planning · {:.1} s", started.elapsed().as_secs_f64()),
            Some((summary, chosen)) => describe(Figures::of(&summary, chosen), started.elapsed()),
        };
        if let Some(bar) = shared.bar.lock().expect("progress lock poisoned").as_ref() {
            bar.set_message(message);
            bar.tick();
        }
        std::thread::sleep(TICK);
    }
}

/// Files and bytes the query's scans chose.
fn files_chosen(stats: &QueryStats) -> (usize, u64) {
    stats.scans().iter().fold((0, 0), |(files, bytes), s| {
        (files + s.files, bytes + s.bytes)
    })
}

/// What a query has done so far, of what its scans chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    /// Objects read from, and files the scans chose.
    pub files: (usize, usize),
    /// Bytes read, and the chosen files' bytes.
    pub bytes: (u64, u64),
    /// Partitions chosen, and the tables' partitions in all where known (`None`: no table).
    pub partitions: Option<(usize, Option<usize>)>,
    pub rows: u64,
}

impl Figures {
    fn of(summary: &ScanSummary, (files, bytes): (usize, u64)) -> Self {
        Self {
            files: (summary.objects.min(files), files),
            bytes: (summary.bytes, bytes),
            partitions: (summary.tables > 0)
                .then_some((summary.partitions_read, summary.partitions_total)),
            rows: summary.rows,
        }
    }
}

/// `12 of 40 files · 3 of 35 partitions chosen · 1.2 GiB of 3.4 GiB · 120 rows · 2.3 s · ≈ 4 s
/// left`.
pub fn describe(figures: Figures, elapsed: Duration) -> String {
    let mut parts = Vec::new();
    let (files_read, files) = figures.files;
    if files > 0 {
        parts.push(format!("{files_read} of {files} files"));
    }
    if let Some((chosen, total)) = figures.partitions {
        parts.push(match total {
            Some(total) => format!("{chosen} of {total} partitions chosen"),
            None => format!("{chosen} partitions chosen"),
        });
    }
    let (read, bytes) = figures.bytes;
    parts.push(if bytes > 0 {
        format!(
            "{} of {}",
            display_byte_size(read),
            display_byte_size(bytes)
        )
    } else {
        format!("{} read", display_byte_size(read))
    });
    parts.push(format!("{} rows", figures.rows));
    parts.push(format!("{:.1} s", elapsed.as_secs_f64()));
    // Parquet reads only the columns a query needs, so the share of bytes read runs behind the
    // share of work done: an estimate, said as one, once a tenth is read and a second passed.
    let done = if bytes > 0 {
        read as f64 / bytes as f64
    } else {
        0.0
    };
    if (0.1..1.0).contains(&done) && elapsed >= Duration::from_secs(1) {
        let left = elapsed.as_secs_f64() * (1.0 - done) / done;
        parts.push(format!("≈ {left:.0} s left"));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_what_is_done_of_what_was_chosen() {
        let figures = |read, objects, rows| Figures {
            files: (objects, 40),
            bytes: (read, 4 << 30),
            partitions: Some((3, Some(35))),
            rows,
        };
        assert_eq!(
            describe(figures(1 << 30, 12, 120), Duration::from_secs(2)),
            "12 of 40 files · 3 of 35 partitions chosen · 1.0 GiB of 4.0 GiB · 120 rows · 2.0 s · ≈ 6 s left"
        );
        // No estimate before a tenth is read.
        let line = describe(figures(1 << 20, 1, 0), Duration::from_secs(2));
        assert!(!line.contains("left"), "{line}");
        // Nor without a scan.
        let none = Figures {
            files: (0, 0),
            bytes: (0, 0),
            partitions: None,
            rows: 5,
        };
        assert_eq!(
            describe(none, Duration::from_millis(700)),
            "0 B read · 5 rows · 0.7 s"
        );
    }
}
