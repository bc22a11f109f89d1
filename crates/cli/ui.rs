//! `minerva ui`: the console's HTTP API on the catalog until SIGTERM or Ctrl-C.

use std::path::Path;

use anyhow::Result;
use minerva_console::{BoundConsole, History};
use minerva_engine::Engine;
use tokio::runtime::Runtime;

use crate::args::UiArgs;
use crate::signals::shutdown_signal;
use crate::stderr::report;

pub(crate) fn run(engine: Engine, catalog: &Path, args: &UiArgs, runtime: &Runtime) -> Result<()> {
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        anyhow::bail!(
            "{} is reachable from other machines: add --allow-remote to listen there (every request still needs the token)",
            args.listen
        );
    }
    runtime.block_on(async {
        let mut console = BoundConsole::bind(engine, args.listen).await?;
        // The history is the user's, beside the shell's; saved queries are the catalog's.
        if let Some(dir) = dirs::data_dir() {
            console = console.history(History::new(
                dir.join("minerva").join("console-history.jsonl"),
            ));
        }
        let shutdown = shutdown_signal("minerva: console stopping")?;
        report(&format!(
            "minerva: console for catalog '{}' on {}",
            catalog.display(),
            console.url()
        ));
        console.serve(shutdown).await?;
        report("minerva: console stopped");
        Ok::<_, anyhow::Error>(())
    })
}
