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
        if args.open {
            open_browser(&console.url());
        }
        console.serve(shutdown).await?;
        report("minerva: console stopped");
        Ok::<_, anyhow::Error>(())
    })
}

/// Opens `url` in the desktop's browser (`xdg-open`, or `open` on macOS); says so if it cannot:
/// the console runs either way.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let opened = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = opened {
        report(&format!(
            "minerva: cannot open a browser ({opener}: {e}): open the URL above"
        ));
    }
}
