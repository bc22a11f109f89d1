//! `minerva demo --live`: a lake that keeps landing. History up to yesterday is compacted into
//! `views`; the raw zone holds what landed today so far (late events included), and a new raw
//! object lands in the current hour's prefix every `--every`, until `--for` has passed or
//! Ctrl-C. With `--compact`, `COMPACT views_live` runs on a timer, moving the boundary between
//! the two sides while `views_live` counts every event once.

use std::path::Path;

use anyhow::{Context, Result, bail};
use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use chrono::{DateTime, NaiveDate, Utc};
use minerva_demo::{DemoSpec, arrivals, views_raw_live_table, write_lake, write_raw_object};
use minerva_engine::Engine;
use tokio::runtime::Runtime;

use crate::args::DemoArgs;
use crate::stderr::report;

/// Writes the live lake and keeps it landing; returns when done or on Ctrl-C.
pub fn run(args: &DemoArgs, runtime: &Runtime) -> Result<()> {
    if args.days == 0 || args.events_per_day == 0 || args.rows_per_file == 0 {
        bail!("--days, --events-per-day and --rows-per-file must be at least 1");
    }
    if args.every.is_zero() {
        bail!("--every must be more than 0s");
    }
    let out = args.out_dir();
    crate::demo::refuse_foreign(&out)?;
    let now = Utc::now();
    let today = now.date_naive();
    let spec = DemoSpec {
        start: today - chrono::Days::new(args.days.into()),
        days: args.days,
        events_per_day: args.events_per_day,
        seed: args.seed,
        rows_per_file: args.rows_per_file,
        rows_per_row_group: args.rows_per_row_group,
        ..Default::default()
    };
    // Always written afresh: the raw zone is today's, and views must hold none of it yet.
    let _ = std::fs::remove_file(out.join(minerva_demo::MARKER));
    report(&format!(
        "writing {} days of history to '{}' …",
        spec.days,
        out.display()
    ));
    let summary = write_lake(&spec, &out, &|_| {})?;
    let catalog = summary.catalog;
    let raw = out.join("raw/views");
    std::fs::remove_dir_all(&raw).with_context(|| format!("clearing {}", raw.display()))?;
    minerva_catalog::Catalog::write_table(
        &catalog,
        &views_raw_live_table("../raw/views", &catalog, today),
    )?;

    let live_spec = DemoSpec {
        events_per_day: args.today_events.max(1),
        rows_per_file: args.today_events.max(1),
        ..spec.clone()
    };
    let mut landing = Landing::new(&live_spec, today);
    let caught_up = landing.land_until(&raw, now, true)?;
    let listing = landing.popular_listing();
    report(&format!(
        "landed {caught_up} events of today so far under '{}'",
        raw.display()
    ));
    report(&format!(
        "now landing an object every {} for {}{} (Ctrl-C stops). In another terminal:\n  minerva --catalog {} -c \"SELECT count(*) FROM views_live WHERE listing_id = {listing} AND event_time >= now() - INTERVAL '10' MINUTE\"",
        humantime::format_duration(args.every),
        humantime::format_duration(args.run_for),
        args.compact
            .map(|c| format!(", compacting every {}", humantime::format_duration(c)))
            .unwrap_or_default(),
        catalog.display()
    ));
    let engine = match args.compact {
        Some(_) => Some(Engine::open(&catalog)?),
        None => None,
    };
    runtime.block_on(async {
        let stop = tokio::time::sleep(args.run_for);
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(args.every);
        tick.tick().await;
        let mut compact = args.compact.map(|every| {
            let mut t = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::signal::ctrl_c() => break,
                _ = tick.tick() => {
                    let landed = landing.land_until(&raw, Utc::now(), false)?;
                    if landed > 0 {
                        report(&format!("{} landed {landed} events", Utc::now().format("%H:%M:%S")));
                    }
                }
                _ = async { compact.as_mut().expect("only when compacting").tick().await }, if compact.is_some() => {
                    let engine = engine.as_ref().expect("an engine when compacting");
                    let batches = engine.query("COMPACT views_live").await?;
                    let rows = batches
                        .first()
                        .and_then(|b| arrow::util::display::array_value_to_string(b.column(0), 0).ok())
                        .unwrap_or_else(|| "0".to_string());
                    report(&format!("{} compacted {rows} raw events into views", Utc::now().format("%H:%M:%S")));
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    report("stopped landing; the lake stays as it is");
    Ok(())
}

/// Today's (and, past midnight, tomorrow's) events, landed in order of arrival.
struct Landing {
    spec: DemoSpec,
    first: NaiveDate,
    /// The day being landed (index into the spec's days), its events by arrival, and how many
    /// have landed.
    day: u32,
    events: RecordBatch,
    landed_at: Vec<i64>,
    next: usize,
    objects: u64,
}

impl Landing {
    fn new(spec: &DemoSpec, today: NaiveDate) -> Self {
        let day = spec.days;
        let (events, landed_at) = arrivals(spec, day);
        Self {
            spec: spec.clone(),
            first: today,
            day,
            events,
            landed_at,
            next: 0,
            objects: 0,
        }
    }

    /// Lands every event that arrived by `until`: as one object per arrival hour when catching
    /// up, as one object in the current hour's prefix otherwise. Returns how many landed.
    fn land_until(&mut self, raw: &Path, until: DateTime<Utc>, catch_up: bool) -> Result<usize> {
        let until = until.timestamp_micros();
        let mut landed = 0;
        loop {
            let end = self.landed_at[self.next..].partition_point(|&t| t <= until) + self.next;
            let hour_of = |t: i64| t.div_euclid(3_600_000_000);
            let mut start = self.next;
            while start < end {
                let hour = if catch_up {
                    hour_of(self.landed_at[start])
                } else {
                    hour_of(until)
                };
                let stop = if catch_up {
                    (start..end)
                        .find(|&i| hour_of(self.landed_at[i]) != hour)
                        .unwrap_or(end)
                } else {
                    end
                };
                self.write(raw, hour, start, stop)?;
                landed += stop - start;
                start = stop;
            }
            self.next = end;
            // Past the end of the day's events: tomorrow's begin to land.
            if self.next == self.landed_at.len()
                && self.first + chrono::Days::new(1) <= self.today(until)
            {
                self.day += 1;
                self.first = self.first + chrono::Days::new(1);
                let (events, landed_at) = arrivals(&self.spec, self.day);
                self.events = events;
                self.landed_at = landed_at;
                self.next = 0;
                continue;
            }
            return Ok(landed);
        }
    }

    fn today(&self, at: i64) -> NaiveDate {
        DateTime::from_timestamp_micros(at).map_or(self.first, |t| t.date_naive())
    }

    fn write(&mut self, raw: &Path, hour: i64, start: usize, stop: usize) -> Result<()> {
        let at = DateTime::from_timestamp(hour * 3600, 0).context("an hour in range")?;
        self.objects += 1;
        let path = raw.join(at.format("%Y/%m/%d/%H").to_string()).join(format!(
            "views-1-{}-{:05}.json.gz",
            at.format("%Y-%m-%d-%H"),
            self.objects
        ));
        write_raw_object(&path, &self.events.slice(start, stop - start))?;
        Ok(())
    }

    /// A listing with many views today: one worth watching.
    fn popular_listing(&self) -> i64 {
        let ids = self.events.column(4).as_primitive::<Int64Type>();
        let mut counts = std::collections::HashMap::new();
        for id in ids.values() {
            *counts.entry(*id).or_insert(0u32) += 1;
        }
        counts
            .into_iter()
            .max_by_key(|&(id, n)| (n, std::cmp::Reverse(id)))
            .map_or(0, |(id, _)| id)
    }
}
