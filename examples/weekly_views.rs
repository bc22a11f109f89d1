//! cargo run --example weekly_views
//!
//! Builds a small demo lake in a temporary directory, then asks it one of the seed questions
//! (weekly views by region) through the engine's API and prints the top regions.

// An example shows its results on stdout; the workspace forbids that everywhere else.
#![allow(clippy::print_stdout)]

use arrow::util::pretty::pretty_format_batches;
use minerva_demo::DemoSpec;
use minerva_engine::Engine;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lake = tempfile::tempdir()?;
    let spec = DemoSpec {
        days: 14,
        events_per_day: 20_000,
        ..Default::default()
    };
    let summary = minerva_demo::write_lake(&spec, lake.path(), &|_| {})?;
    println!("wrote {} rows to {}", summary.rows, lake.path().display());

    let engine = Engine::open(&summary.catalog)?;
    let batches = engine
        .query(
            "SELECT CAST(date_trunc('week', dt) AS DATE) AS week, region, count(*) AS views
             FROM views
             WHERE dt BETWEEN DATE '2024-01-01' AND DATE '2024-01-14' AND event_type = 'view'
             GROUP BY 1, 2
             ORDER BY week, views DESC
             LIMIT 6",
        )
        .await?;
    println!("{}", pretty_format_batches(&batches)?);
    Ok(())
}
