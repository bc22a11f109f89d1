//! `minerva worker` and `--cluster`: the binary's side of scale-out (minerva-cluster).

use std::path::Path;

use anyhow::{Context, Result};
use minerva_cluster::{BoundWorker, Cluster};
use minerva_engine::{Engine, EngineBuilder};
use tokio::runtime::Runtime;

use crate::args::WorkerArgs;
use crate::signals::shutdown_signal;
use crate::stderr::report;

/// `builder` as a coordinator of the workers listed in `workers` (`--cluster`).
pub(crate) fn coordinate(builder: EngineBuilder, workers: &str) -> Result<EngineBuilder> {
    let cluster = Cluster::parse(workers).context("--cluster")?;
    Ok(cluster.coordinate(builder))
}

/// Serves plan fragments until SIGTERM or Ctrl-C.
pub(crate) fn run_worker(
    engine: Engine,
    catalog: &Path,
    args: &WorkerArgs,
    runtime: &Runtime,
) -> Result<()> {
    runtime.block_on(async {
        let worker = BoundWorker::bind(engine, args.listen, args.name.clone()).await?;
        let shutdown = shutdown_signal("minerva: worker stopping")?;
        report(&format!(
            "minerva: worker for catalog '{}' listening on {} (coordinators: minerva --cluster {})",
            catalog.display(),
            worker.address(),
            worker.name()
        ));
        worker.serve(shutdown).await?;
        report("minerva: worker stopped");
        Ok::<_, anyhow::Error>(())
    })
}
