//! The `minerva` binary: shell, script runner and demo lake generator.
//!
//! Exit codes: 0 when every statement succeeded, 1 when one failed (or the catalog could not be
//! opened), 2 for usage errors. Errors go to stderr as one line; results go to stdout.

mod args;
mod chart;
#[cfg(feature = "distributed")]
mod cluster;
mod csv;
mod demo;
mod helper;
mod live;
mod meta;
mod output;
mod pager;
mod pointing;
mod progress;
mod script;
#[cfg(feature = "server")]
mod serve;
mod settings;
mod shell;
#[cfg(any(feature = "server", feature = "distributed", feature = "console"))]
mod signals;
mod stderr;
#[cfg(feature = "console")]
mod ui;

use std::io::{BufWriter, IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, FromArgMatches};
use minerva_engine::Engine;
use minerva_sql::split_statements;

use crate::args::{Args, Command, OutputFormat};
use crate::output::Printer;
use crate::script::Outcome;
use crate::stderr::{is_broken_pipe, report};
use tokio::runtime::Runtime;

fn main() -> ExitCode {
    let matches = Args::command().get_matches();
    let args = match Args::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(error) => error.exit(),
    };
    // Two threads more than queries use (DataFusion plans one task per core): a query whose
    // operator does not yield for minutes (stopped by a timeout or Ctrl-C, but only at its next
    // yield) cannot hold every thread, so the next statement still runs.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores + 2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            report(&format!("error: cannot start the runtime: {error}"));
            return ExitCode::FAILURE;
        }
    };
    let result =
        settings::resolve(&args, &matches).and_then(|settings| run(args, settings, &runtime));
    // A cancelled query's tasks stop at their next yield point, which a long CPU-bound operator
    // may not reach soon: exiting must not wait for them.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            report(&format!("error: {error:#}"));
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args, settings: settings::Settings, runtime: &Runtime) -> Result<ExitCode> {
    let stdin_is_terminal = std::io::stdin().is_terminal();
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        OutputFormat::Table
    } else {
        OutputFormat::Csv
    });

    let catalog_dir = match &args.command {
        Some(Command::Demo(demo)) if demo.live => {
            live::run(demo, runtime)?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Demo(demo)) => {
            let catalog = demo::prepare(demo)?;
            if demo.no_shell || !stdin_is_terminal {
                report(&format!(
                    "open it with: minerva --catalog {}",
                    catalog.display()
                ));
                return Ok(ExitCode::SUCCESS);
            }
            catalog
        }
        #[cfg(feature = "server")]
        Some(Command::Serve(serve)) => {
            let catalog = settings.catalog.value.clone();
            let engine = open_engine(&catalog, &args, &settings)?;
            serve::run(&engine, &catalog, serve, runtime)?;
            return Ok(ExitCode::SUCCESS);
        }
        #[cfg(feature = "distributed")]
        Some(Command::Worker(worker)) => {
            let catalog = settings.catalog.value.clone();
            let engine = open_engine(&catalog, &args, &settings)?;
            cluster::run_worker(engine, &catalog, worker, runtime)?;
            return Ok(ExitCode::SUCCESS);
        }
        #[cfg(feature = "console")]
        Some(Command::Ui(ui)) => {
            let catalog = settings.catalog.value.clone();
            let engine = open_engine(&catalog, &args, &settings)?;
            ui::run(engine, &catalog, ui, runtime)?;
            return Ok(ExitCode::SUCCESS);
        }
        #[cfg(not(feature = "console"))]
        Some(Command::Ui(_)) => {
            anyhow::bail!(
                "this minerva was built without the `console` feature (cargo build --features console)"
            )
        }
        #[cfg(not(feature = "distributed"))]
        Some(Command::Worker(_)) => {
            anyhow::bail!(
                "this minerva was built without the `distributed` feature (cargo build --features distributed)"
            )
        }
        #[cfg(not(feature = "server"))]
        Some(Command::Serve(_)) => {
            anyhow::bail!(
                "this minerva was built without the `server` feature (cargo build --features server)"
            )
        }
        None => settings.catalog.value.clone(),
    };
    let mut settings = settings;
    settings.catalog.value = catalog_dir.clone();
    if format == OutputFormat::Parquet && std::io::stdout().is_terminal() {
        anyhow::bail!(
            "--format parquet writes binary: redirect it to a file (minerva … --format parquet > out.parquet)"
        );
    }
    let engine = open_engine(&catalog_dir, &args, &settings)?;
    let mut printer = Printer::new(format, BufWriter::new(std::io::stdout().lock()), None);

    let scripted = !args.commands.is_empty() || !args.files.is_empty();
    if !scripted && stdin_is_terminal {
        shell::run(&engine, runtime, settings)?;
        return Ok(ExitCode::SUCCESS);
    }

    let mut statements = Vec::new();
    for sql in &args.commands {
        statements.extend(split_statements(sql).all());
    }
    for file in &args.files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read SQL file '{}'", file.display()))?;
        statements.extend(split_statements(&text).all());
    }
    if !scripted {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read SQL from standard input")?;
        statements.extend(split_statements(&text).all());
    }
    Ok(
        match script::run(&engine, runtime, &mut printer, &statements, args.stats) {
            Outcome::Ok | Outcome::Closed => ExitCode::SUCCESS,
            Outcome::Failed => ExitCode::FAILURE,
        },
    )
}

fn open_engine(catalog_dir: &Path, args: &Args, settings: &settings::Settings) -> Result<Engine> {
    let catalog = minerva_catalog::Catalog::load(catalog_dir).map_err(|e| {
        anyhow::anyhow!("{e} (pass --catalog DIR, set MINERVA_CATALOG, or run 'minerva demo' to make a demo lake)")
    })?;
    let mut builder = Engine::builder(catalog);
    if let Some(threads) = args.threads {
        builder = builder.target_partitions(threads);
    }
    if let Some(profile) = &settings.profile.value {
        builder = builder.aws_profile(profile);
    }
    if let Some(bytes) = args.memory_limit {
        builder = builder.memory_limit(usize::try_from(bytes).unwrap_or(usize::MAX));
    }
    if args.hash_aggregation {
        builder = builder.dense_aggregation(false);
    }
    if let Some(bytes) = settings.max_scan.value {
        builder = builder.max_scan(bytes);
    }
    if let Some(after) = settings.timeout.value {
        builder = builder.timeout(after);
    }
    #[cfg(feature = "distributed")]
    if let Some(workers) = &settings.cluster.value {
        builder = cluster::coordinate(builder, workers)?;
    }
    #[cfg(not(feature = "distributed"))]
    if settings.cluster.value.is_some() {
        anyhow::bail!(
            "this minerva was built without the `distributed` feature (cargo build --features distributed)"
        );
    }
    if !args.no_disk_cache
        && let Some(dir) = minerva_store::DiskCache::default_dir()
    {
        builder = builder.disk_cache(dir);
    }
    Ok(builder.build())
}
