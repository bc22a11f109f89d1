//! The seed questions, answered by the engine and, independently, by plain Rust over the rows
//! the generator produced. The two must agree exactly.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
use chrono::{DateTime, Datelike, Days, NaiveDate};

use crate::support::{DemoLake, rows, seed_spec};

/// One generated event, as the analyst's questions see it.
struct Event {
    date: NaiveDate,
    user: i64,
    listing: i64,
    region: String,
    service: String,
    kind: String,
}

fn events(lake: &DemoLake) -> Vec<Event> {
    let mut out = Vec::new();
    for day in 0..lake.spec.days {
        for batch in minerva_demo::generate_day(&lake.spec, day) {
            out.extend(events_of(&batch));
        }
    }
    out
}

fn events_of(batch: &RecordBatch) -> Vec<Event> {
    let column = |name: &str| batch.column_by_name(name).unwrap();
    let times = column("event_time").as_primitive::<TimestampMicrosecondType>();
    let users = column("user_id").as_primitive::<Int64Type>();
    let listings = column("listing_id").as_primitive::<Int64Type>();
    let regions = column("region").as_string::<i32>();
    let services = column("service").as_string::<i32>();
    let kinds = column("event_type").as_string::<i32>();
    (0..batch.num_rows())
        .map(|i| Event {
            date: DateTime::from_timestamp_micros(times.value(i))
                .unwrap()
                .date_naive(),
            user: users.value(i),
            listing: listings.value(i),
            region: regions.value(i).to_string(),
            service: services.value(i).to_string(),
            kind: kinds.value(i).to_string(),
        })
        .collect()
}

fn monday(date: NaiveDate) -> NaiveDate {
    date - Days::new(date.weekday().num_days_from_monday().into())
}

fn first_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap()
}

/// Counts per key, rendered `key|count` and sorted.
fn counts<K: Ord + std::fmt::Display>(keys: impl Iterator<Item = K>) -> Vec<String> {
    let mut map = BTreeMap::new();
    for key in keys {
        *map.entry(key).or_insert(0u64) += 1;
    }
    map.into_iter().map(|(k, n)| format!("{k}|{n}")).collect()
}

/// Distinct users per key, rendered `key|users` and sorted.
fn distinct_users<K: Ord + std::fmt::Display>(
    pairs: impl Iterator<Item = (K, i64)>,
) -> Vec<String> {
    let mut map: BTreeMap<K, BTreeSet<i64>> = BTreeMap::new();
    for (key, user) in pairs {
        map.entry(key).or_default().insert(user);
    }
    map.into_iter()
        .map(|(k, users)| format!("{k}|{}", users.len()))
        .collect()
}

/// Runs `sql` and checks its rows, in any order, against `expected` (sorted).
async fn assert_answers(engine: &minerva_engine::Engine, sql: &str, expected: Vec<String>) {
    let mut answers = rows(engine, sql).await;
    answers.sort();
    assert_eq!(answers, expected, "{sql}");
}

/// Runs every seed question against one generated lake (built once: it is the slow part).
#[tokio::test]
async fn seed_questions_match_an_independent_computation() {
    let lake = DemoLake::new(seed_spec());
    let engine = lake.engine();
    let all = events(&lake);
    let views: Vec<&Event> = all.iter().filter(|e| e.kind == "view").collect();
    assert_eq!(all.len(), 21 * 2_000);

    // Views per listing per day, per ISO week, per month.
    let per_day = counts(views.iter().map(|e| format!("{}|{}", e.listing, e.date)));
    assert_answers(
        &engine,
        "SELECT listing_id, dt, count(*) FROM views WHERE event_type = 'view' GROUP BY 1, 2",
        per_day,
    )
    .await;
    assert_answers(
        &engine,
        "SELECT listing_id, CAST(date_trunc('week', dt) AS DATE) AS week, count(*) FROM views \
         WHERE event_type = 'view' GROUP BY 1, 2",
        counts(
            views
                .iter()
                .map(|e| format!("{}|{}", e.listing, monday(e.date))),
        ),
    )
    .await;
    assert_answers(
        &engine,
        "SELECT listing_id, CAST(date_trunc('month', dt) AS DATE) AS month, count(*) FROM views \
         WHERE event_type = 'view' GROUP BY 1, 2",
        counts(
            views
                .iter()
                .map(|e| format!("{}|{}", e.listing, first_of_month(e.date))),
        ),
    )
    .await;

    // Top listings of one day, in order (ties broken by id).
    let day = NaiveDate::from_ymd_opt(2024, 1, 25).unwrap();
    let top = rows(
        &engine,
        "SELECT listing_id, count(*) AS views FROM views WHERE dt = DATE '2024-01-25' AND event_type = 'view' \
         GROUP BY listing_id ORDER BY views DESC, listing_id LIMIT 10",
    )
    .await;
    let mut per_listing: BTreeMap<i64, u64> = BTreeMap::new();
    for e in views.iter().filter(|e| e.date == day) {
        *per_listing.entry(e.listing).or_default() += 1;
    }
    let mut ranked: Vec<(i64, u64)> = per_listing.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let expected_top: Vec<String> = ranked
        .iter()
        .take(10)
        .map(|(l, n)| format!("{l}|{n}"))
        .collect();
    assert_eq!(top, expected_top);

    // Views of one listing on one day: the day's most viewed listing.
    let (listing, n) = expected_top[0].split_once('|').unwrap();
    let one = rows(
        &engine,
        &format!("SELECT count(*) FROM views WHERE listing_id = {listing} AND dt = DATE '2024-01-25' AND event_type = 'view'"),
    )
    .await;
    assert_eq!(one, [n]);

    // Weekly views by region.
    assert_answers(
        &engine,
        "SELECT CAST(date_trunc('week', dt) AS DATE) AS week, region, count(*) FROM views \
         WHERE event_type = 'view' GROUP BY 1, 2",
        counts(
            views
                .iter()
                .map(|e| format!("{}|{}", monday(e.date), e.region)),
        ),
    )
    .await;

    // Views by region and service for February.
    let february = views.iter().filter(|e| e.date.month() == 2);
    assert_answers(
        &engine,
        "SELECT region, service, count(*) FROM views \
         WHERE dt >= DATE '2024-02-01' AND dt < DATE '2024-03-01' AND event_type = 'view' GROUP BY 1, 2",
        counts(february.map(|e| format!("{}|{}", e.region, e.service))),
    )
    .await;

    // DAU, WAU, MAU (every event counts as activity).
    assert_answers(
        &engine,
        "SELECT dt, count(DISTINCT user_id) FROM views GROUP BY dt",
        distinct_users(all.iter().map(|e| (e.date, e.user))),
    )
    .await;
    let wau = distinct_users(all.iter().map(|e| (monday(e.date), e.user)));
    let wau_sql = "SELECT CAST(date_trunc('week', dt) AS DATE), count(DISTINCT user_id) FROM views GROUP BY 1";
    assert_answers(&engine, wau_sql, wau).await;
    let mau = distinct_users(all.iter().map(|e| (first_of_month(e.date), e.user)));
    let mau_sql = "SELECT CAST(date_trunc('month', dt) AS DATE), count(DISTINCT user_id) FROM views GROUP BY 1";
    assert_answers(&engine, mau_sql, mau).await;

    // Weekly returning users: active in week w and again in week w + 1.
    let mut weeks: BTreeMap<NaiveDate, BTreeSet<i64>> = BTreeMap::new();
    for e in &all {
        weeks.entry(monday(e.date)).or_default().insert(e.user);
    }
    let expected_returning: Vec<String> = weeks
        .iter()
        .filter_map(|(week, users)| {
            let next = weeks.get(&(*week + Days::new(7)))?;
            Some(format!("{week}|{}", users.intersection(next).count()))
        })
        .collect();
    assert_eq!(
        expected_returning.len(),
        2,
        "three weeks give two week-over-week pairs"
    );
    assert_answers(
        &engine,
        "WITH weekly AS (SELECT DISTINCT CAST(date_trunc('week', dt) AS DATE) AS week, user_id FROM views) \
         SELECT a.week, count(*) AS returning_users FROM weekly a \
         JOIN weekly b ON b.user_id = a.user_id AND b.week = a.week + INTERVAL '7' DAY \
         GROUP BY a.week",
        expected_returning,
    )
    .await;

    // The workload's shape: returning users exist, and DAU < WAU < MAU.
    let dau_first = distinct_users(
        all.iter()
            .filter(|e| e.date == lake.spec.start)
            .map(|e| (e.date, e.user)),
    );
    let users = |rows: &[String]| rows[0].split('|').nth(1).unwrap().parse::<u64>().unwrap();
    let wau_first = distinct_users(
        all.iter()
            .filter(|e| monday(e.date) == lake.spec.start)
            .map(|e| (0, e.user)),
    );
    let mau_all = distinct_users(all.iter().map(|e| (0, e.user)));
    assert!(users(&dau_first) < users(&wau_first) && users(&wau_first) < users(&mau_all));
}
