//! `minerva demo`: write (or reuse) the demo lake, with progress on stderr.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use minerva_demo::{DemoSpec, lake_is_current, write_lake};

use crate::args::DemoArgs;

/// Refuses to write a demo lake over a directory that holds something else.
pub fn refuse_foreign(out: &std::path::Path) -> Result<()> {
    let is_foreign = out
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
        && !out.join(minerva_demo::MARKER).exists();
    if is_foreign {
        bail!(
            "'{}' exists and is not a demo lake: choose another --out",
            out.display()
        );
    }
    Ok(())
}

/// Makes sure the lake of `args` exists and returns its catalog directory.
pub fn prepare(args: &DemoArgs) -> Result<PathBuf> {
    let spec = DemoSpec {
        start: args.start,
        days: args.days,
        events_per_day: args.events_per_day,
        seed: args.seed,
        rows_per_file: args.rows_per_file,
        rows_per_row_group: args.rows_per_row_group,
        order: match args.order {
            crate::args::DemoOrder::Listing => minerva_demo::RowOrder::Listing,
            crate::args::DemoOrder::Time => minerva_demo::RowOrder::Time,
        },
    };
    if spec.days == 0
        || spec.events_per_day == 0
        || spec.rows_per_file == 0
        || spec.rows_per_row_group == 0
    {
        bail!(
            "--days, --events-per-day, --rows-per-file and --rows-per-row-group must be at least 1"
        );
    }
    let out = &args.out_dir();
    let catalog = out.join("catalog");
    if lake_is_current(&spec, out) {
        crate::stderr::report(&format!(
            "using the demo lake in '{}' ({spec})",
            out.display()
        ));
        return Ok(catalog);
    }
    refuse_foreign(out)?;

    let progress = ProgressBar::new(spec.days.into()).with_style(
        ProgressStyle::with_template("writing the demo lake {bar:30} {pos}/{len} days, {elapsed}")
            .expect("a valid template"),
    );
    let started = Instant::now();
    let summary = write_lake(&spec, out, &|_| progress.inc(1))?;
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    crate::stderr::report(&format!(
        "wrote {} rows in {} files ({:.1} MiB) to '{}' in {seconds:.1} s ({:.0} rows/s)",
        summary.rows,
        summary.files,
        summary.bytes as f64 / (1024.0 * 1024.0),
        out.display(),
        summary.rows as f64 / seconds.max(1e-9),
    ));
    Ok(catalog)
}
