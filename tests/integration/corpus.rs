//! Athena-style analyst queries, written in Trino's dialect as they are pasted from Athena, run
//! over a generated demo lake, each compared with the same question asked of DuckDB (its own
//! SQL, its own functions) over the same files: an independent computation of every answer.
//!
//! DuckDB comes from PyPI (`pip install duckdb`); `MINERVA_DUCKDB_PYTHON` names the Python that
//! has it (`.ci/run` installs it in a venv). Without it the test says so and passes, except in
//! CI (`CI` set), where it fails.

use std::process::{Command, Stdio};

use crate::support::{DemoLake, render_cells, seed_spec};

/// How closely a number must agree.
#[derive(Clone, Copy)]
enum Agree {
    /// Equal (floating point to 1e-9, relative).
    Exactly,
    /// Within this fraction: approximate aggregates (HyperLogLog, t-digest) on either side.
    Within(f64),
}

/// (what it asks, Minerva's Trino SQL, DuckDB's SQL, how closely the answers agree). Rows are
/// compared as sorted sets unless the query orders them.
const CORPUS: &[(&str, &str, &str, Agree)] = &[
    (
        "views per listing per day, top 20",
        "SELECT dt, listing_id, count(*) AS views FROM views WHERE event_type = 'view' GROUP BY 1, 2 ORDER BY views DESC, dt, listing_id LIMIT 20",
        "SELECT dt, listing_id, count(*) AS views FROM views WHERE event_type = 'view' GROUP BY 1, 2 ORDER BY views DESC, dt, listing_id LIMIT 20",
        Agree::Exactly,
    ),
    (
        "views per listing per week",
        "SELECT date_trunc('week', dt) AS week, listing_id, count(*) FROM views WHERE listing_id % 50 = 0 GROUP BY 1, 2",
        "SELECT CAST(date_trunc('week', dt) AS DATE), listing_id, count(*) FROM views WHERE listing_id % 50 = 0 GROUP BY 1, 2",
        Agree::Exactly,
    ),
    (
        "views by region and service per month",
        "SELECT date_trunc('month', dt), region, service, count(*) FROM views GROUP BY 1, 2, 3",
        "SELECT CAST(date_trunc('month', dt) AS DATE), region, service, count(*) FROM views GROUP BY 1, 2, 3",
        Agree::Exactly,
    ),
    (
        "DAU",
        "SELECT dt, count(DISTINCT user_id) FROM views GROUP BY dt",
        "SELECT dt, count(DISTINCT user_id) FROM views GROUP BY dt",
        Agree::Exactly,
    ),
    (
        "WAU by ISO week",
        "SELECT year_of_week(dt), week(dt), count(DISTINCT user_id) FROM views GROUP BY 1, 2",
        "SELECT isoyear(dt), week(dt), count(DISTINCT user_id) FROM views GROUP BY 1, 2",
        Agree::Exactly,
    ),
    (
        "MAU",
        "SELECT year(dt), month(dt), count(DISTINCT user_id) FROM views GROUP BY 1, 2",
        "SELECT year(dt), month(dt), count(DISTINCT user_id) FROM views GROUP BY 1, 2",
        Agree::Exactly,
    ),
    (
        "returning users: seen on two days or more",
        "SELECT count(*) FROM (SELECT user_id FROM views GROUP BY user_id HAVING count(DISTINCT dt) >= 2)",
        "SELECT count(*) FROM (SELECT user_id FROM views GROUP BY user_id HAVING count(DISTINCT dt) >= 2)",
        Agree::Exactly,
    ),
    (
        "views per KST day",
        "SELECT date(event_time AT TIME ZONE 'Asia/Seoul') AS kst_day, count(*) FROM views GROUP BY 1",
        "SELECT CAST((event_time AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Seoul' AS DATE), count(*) FROM views GROUP BY 1",
        Agree::Exactly,
    ),
    (
        "views per KST hour of day",
        "SELECT hour(event_time AT TIME ZONE 'Asia/Seoul'), count(*) FROM views GROUP BY 1",
        "SELECT hour((event_time AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Seoul'), count(*) FROM views GROUP BY 1",
        Agree::Exactly,
    ),
    (
        "views per KST weekday (ISO, Monday 1)",
        "SELECT day_of_week(event_time AT TIME ZONE 'Asia/Seoul'), count(*) FROM views GROUP BY 1",
        "SELECT isodow((event_time AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Seoul'), count(*) FROM views GROUP BY 1",
        Agree::Exactly,
    ),
    (
        "KST-day DAU across a UTC day boundary",
        "SELECT count(DISTINCT user_id) FROM views WHERE dt BETWEEN DATE '2024-01-31' AND DATE '2024-02-01' AND date(event_time AT TIME ZONE 'Asia/Seoul') = DATE '2024-02-01'",
        "SELECT count(DISTINCT user_id) FROM views WHERE CAST((event_time AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Seoul' AS DATE) = DATE '2024-02-01'",
        Agree::Exactly,
    ),
    (
        "KST month of each view",
        "SELECT date(date_trunc('month', event_time AT TIME ZONE 'Asia/Seoul')), count(*) FROM views GROUP BY 1",
        "SELECT CAST(date_trunc('month', (event_time AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Seoul') AS DATE), count(*) FROM views GROUP BY 1",
        Agree::Exactly,
    ),
    (
        "funnel: sessions that viewed, clicked, called",
        "SELECT count_if(v > 0), count_if(v > 0 AND c > 0), count_if(v > 0 AND c > 0 AND k > 0) FROM (SELECT session_id, count_if(event_type = 'view') AS v, count_if(event_type = 'click') AS c, count_if(event_type = 'call') AS k FROM views GROUP BY session_id)",
        "SELECT sum(CASE WHEN v > 0 THEN 1 ELSE 0 END), sum(CASE WHEN v > 0 AND c > 0 THEN 1 ELSE 0 END), sum(CASE WHEN v > 0 AND c > 0 AND k > 0 THEN 1 ELSE 0 END) FROM (SELECT session_id, sum(CASE WHEN event_type = 'view' THEN 1 ELSE 0 END) AS v, sum(CASE WHEN event_type = 'click' THEN 1 ELSE 0 END) AS c, sum(CASE WHEN event_type = 'call' THEN 1 ELSE 0 END) AS k FROM views GROUP BY session_id)",
        Agree::Exactly,
    ),
    (
        "the last seven days before a date, with date_add",
        "SELECT dt, count(*) FROM views WHERE dt > date_add('day', -7, DATE '2024-02-11') GROUP BY dt",
        "SELECT dt, count(*) FROM views WHERE dt > DATE '2024-02-11' - INTERVAL 7 DAY GROUP BY dt",
        Agree::Exactly,
    ),
    (
        "days between a user's first and last view",
        "SELECT date_diff('day', first, last) AS span, count(*) FROM (SELECT user_id, min(dt) AS first, max(dt) AS last FROM views GROUP BY user_id) GROUP BY 1",
        "SELECT date_diff('day', first, last) AS span, count(*) FROM (SELECT user_id, min(dt) AS first, max(dt) AS last FROM views GROUP BY user_id) GROUP BY 1",
        Agree::Exactly,
    ),
    (
        "per-user span in days",
        "SELECT date_diff('day', min(dt), max(dt)) AS span, count(*) FROM views GROUP BY user_id HAVING count(*) > 3 ORDER BY 1 DESC, 2 DESC LIMIT 5",
        "SELECT date_diff('day', min(dt), max(dt)) AS span, count(*) FROM views GROUP BY user_id HAVING count(*) > 3 ORDER BY 1 DESC, 2 DESC LIMIT 5",
        Agree::Exactly,
    ),
    (
        "busiest hours with date_format",
        "SELECT date_format(event_time, '%Y-%m-%d %H') AS h, count(*) AS n FROM views GROUP BY 1 ORDER BY n DESC, h LIMIT 10",
        "SELECT strftime(event_time, '%Y-%m-%d %H') AS h, count(*) AS n FROM views GROUP BY 1 ORDER BY n DESC, h LIMIT 10",
        Agree::Exactly,
    ),
    (
        "Firehose prefixes with format_datetime",
        "SELECT format_datetime(event_time, 'yyyy/MM/dd/HH') AS prefix, count(*) FROM views WHERE dt = DATE '2024-02-01' GROUP BY 1",
        "SELECT strftime(event_time, '%Y/%m/%d/%H') AS prefix, count(*) FROM views WHERE dt = DATE '2024-02-01' GROUP BY 1",
        Agree::Exactly,
    ),
    (
        "views since a parsed time",
        "SELECT count(*) FROM views WHERE event_time >= date_parse('2024-02-01 09', '%Y-%m-%d %H')",
        "SELECT count(*) FROM views WHERE event_time >= strptime('2024-02-01 09', '%Y-%m-%d %H')",
        Agree::Exactly,
    ),
    (
        "views since an ISO date",
        "SELECT count(*) FROM views WHERE dt >= from_iso8601_date('2024-02-01')",
        "SELECT count(*) FROM views WHERE dt >= DATE '2024-02-01'",
        Agree::Exactly,
    ),
    (
        "views in February by unix time",
        "SELECT count(*) FROM views WHERE to_unixtime(event_time) >= to_unixtime(TIMESTAMP '2024-02-01 00:00:00')",
        "SELECT count(*) FROM views WHERE epoch(event_time) >= epoch(TIMESTAMP '2024-02-01 00:00:00')",
        Agree::Exactly,
    ),
    (
        "views by month end",
        "SELECT last_day_of_month(dt), count(*) FROM views GROUP BY 1",
        "SELECT last_day(dt), count(*) FROM views GROUP BY 1",
        Agree::Exactly,
    ),
    (
        "views by ISO weekday and quarter",
        "SELECT day_of_week(dt), quarter(dt), count(*) FROM views GROUP BY 1, 2",
        "SELECT isodow(dt), quarter(dt), count(*) FROM views GROUP BY 1, 2",
        Agree::Exactly,
    ),
    (
        "median asking price per service",
        "SELECT service, approx_percentile(price, 0.5) FROM views GROUP BY service",
        "SELECT service, quantile_disc(price, 0.5) FROM views GROUP BY service",
        Agree::Within(0.05),
    ),
    (
        "price deciles of one region",
        "SELECT approx_percentile(price, ARRAY[0.1, 0.9])[1], approx_percentile(price, ARRAY[0.1, 0.9])[2] FROM views WHERE region = '서울 강남구'",
        "SELECT quantile_disc(price, 0.1), quantile_disc(price, 0.9) FROM views WHERE region = '서울 강남구'",
        Agree::Within(0.05),
    ),
    (
        "approximate distinct users per service",
        "SELECT service, approx_distinct(user_id) FROM views GROUP BY service",
        "SELECT service, count(DISTINCT user_id) FROM views GROUP BY service",
        Agree::Within(0.05),
    ),
    (
        "price of the latest event per region (max_by)",
        "SELECT region, max_by(price, event_id), min_by(listing_id, event_id) FROM views GROUP BY region",
        "SELECT region, arg_max_null(price, event_id), arg_min_null(listing_id, event_id) FROM views GROUP BY region",
        Agree::Exactly,
    ),
    (
        "expensive views per service (count_if)",
        "SELECT service, count_if(price > 50000), count_if(price IS NULL) FROM views GROUP BY service",
        "SELECT service, count(*) FILTER (WHERE price > 50000), count(*) FILTER (WHERE price IS NULL) FROM views GROUP BY service",
        Agree::Exactly,
    ),
    (
        "iOS share per service from histogram",
        "SELECT service, element_at(histogram(platform), 'ios'), element_at(histogram(platform), 'web') FROM views GROUP BY service",
        "SELECT service, count(*) FILTER (WHERE platform = 'ios'), count(*) FILTER (WHERE platform = 'web') FROM views GROUP BY service",
        Agree::Exactly,
    ),
    (
        "geometric mean price per platform",
        "SELECT platform, round(geometric_mean(price), 3) FROM views WHERE price > 0 GROUP BY platform",
        "SELECT platform, round(geomean(price), 3) FROM views WHERE price > 0 GROUP BY platform",
        Agree::Within(1e-9),
    ),
    (
        "every and some, per event type",
        "SELECT event_type, every(price IS NULL OR price >= 0), bool_or(price > 100000) FROM views GROUP BY event_type",
        "SELECT event_type, bool_and(price IS NULL OR price >= 0), bool_or(price > 100000) FROM views GROUP BY event_type",
        Agree::Exactly,
    ),
    (
        "views per si/do (split_part)",
        "SELECT split_part(region, ' ', 1) AS sido, count(*) FROM views GROUP BY 1",
        "SELECT split_part(region, ' ', 1) AS sido, count(*) FROM views GROUP BY 1",
        Agree::Exactly,
    ),
    (
        "districts named …구 (regexp_extract)",
        "SELECT regexp_extract(region, '(\\S+)구$', 1) AS gu, count(*) FROM views GROUP BY 1",
        "SELECT NULLIF(regexp_extract(region, '(\\S+)구$', 1), '') AS gu, count(*) FROM views GROUP BY 1",
        Agree::Exactly,
    ),
    (
        "regions containing 구 (strpos) and long names (length)",
        "SELECT count_if(strpos(region, '구') > 0), count_if(length(region) > 6) FROM views",
        "SELECT count(*) FILTER (WHERE strpos(region, '구') > 0), count(*) FILTER (WHERE length(region) > 6) FROM views",
        Agree::Exactly,
    ),
    (
        "sessions ending in a digit (regexp_like)",
        "SELECT count(DISTINCT session_id) FROM views WHERE regexp_like(session_id, '[0-9]$')",
        "SELECT count(DISTINCT session_id) FROM views WHERE regexp_matches(session_id, '[0-9]$')",
        Agree::Exactly,
    ),
    (
        "event id prefixes (substr)",
        "SELECT substr(event_id, 1, 2), count(*) FROM views GROUP BY 1",
        "SELECT substr(event_id, 1, 2), count(*) FROM views GROUP BY 1",
        Agree::Exactly,
    ),
    (
        "words of region names (CROSS JOIN UNNEST(split))",
        "SELECT word, count(*) FROM views CROSS JOIN UNNEST(split(region, ' ')) AS t(word) GROUP BY word",
        "SELECT word, count(*) FROM (SELECT unnest(string_split(region, ' ')) AS word FROM views) GROUP BY word",
        Agree::Exactly,
    ),
    (
        "JSON payloads: views per region from the payload",
        "SELECT json_extract_scalar(payload, '$.listing.region'), count(*) FROM (SELECT '{\"listing\": {\"id\": ' || CAST(listing_id AS varchar) || ', \"region\": \"' || region || '\"}}' AS payload FROM views) GROUP BY 1",
        "SELECT json_extract_string(payload, '$.listing.region'), count(*) FROM (SELECT '{\"listing\": {\"id\": ' || CAST(listing_id AS varchar) || ', \"region\": \"' || region || '\"}}' AS payload FROM views) GROUP BY 1",
        Agree::Exactly,
    ),
    (
        "JSON payloads: prices, nulls included",
        "SELECT sum(CAST(json_extract_scalar(p, '$.price') AS bigint)), count(json_extract_scalar(p, '$.price')), count(json_extract(p, '$.listing')) FROM (SELECT '{\"listing\": ' || CAST(listing_id AS varchar) || ', \"price\": ' || coalesce(CAST(price AS varchar), 'null') || '}' AS p FROM views)",
        "SELECT sum(CAST(json_extract_string(p, '$.price') AS bigint)), count(json_extract_string(p, '$.price')), count(json_extract(p, '$.listing')) FROM (SELECT '{\"listing\": ' || CAST(listing_id AS varchar) || ', \"price\": ' || coalesce(CAST(price AS varchar), 'null') || '}' AS p FROM views)",
        Agree::Exactly,
    ),
    (
        "services per region (array_agg, cardinality, contains)",
        "SELECT region, cardinality(array_agg(DISTINCT service)), contains(array_agg(service), 'villa') FROM views GROUP BY region",
        "SELECT region, count(DISTINCT service), bool_or(service = 'villa') FROM views GROUP BY region",
        Agree::Exactly,
    ),
    (
        "calls per day, days without calls included (sequence)",
        "SELECT d, coalesce(c, 0) FROM UNNEST(sequence(DATE '2024-01-22', DATE '2024-02-11')) AS t(d) LEFT JOIN (SELECT dt, count(*) AS c FROM views WHERE event_type = 'call' AND region = '서울 강남구' GROUP BY dt) AS v ON v.dt = t.d",
        "SELECT CAST(d AS DATE), coalesce(c, 0) FROM generate_series(TIMESTAMP '2024-01-22', TIMESTAMP '2024-02-11', INTERVAL 1 DAY) AS t(d) LEFT JOIN (SELECT dt, count(*) AS c FROM views WHERE event_type = 'call' AND region = '서울 강남구' GROUP BY dt) AS v ON v.dt = CAST(t.d AS DATE)",
        Agree::Exactly,
    ),
    (
        "iOS views per day (if)",
        "SELECT dt, sum(if(platform = 'ios', 1, 0)), sum(if(platform = 'web', 1)) FROM views GROUP BY dt",
        "SELECT dt, sum(CASE WHEN platform = 'ios' THEN 1 ELSE 0 END), sum(CASE WHEN platform = 'web' THEN 1 END) FROM views GROUP BY dt",
        Agree::Exactly,
    ),
    (
        "event ids starting with a digit (try)",
        "SELECT count(try(CAST(substr(event_id, 1, 1) AS integer))) FROM views",
        "SELECT count(TRY_CAST(substr(event_id, 1, 1) AS INTEGER)) FROM views",
        Agree::Exactly,
    ),
    (
        "a sample of users (mod)",
        "SELECT count(DISTINCT user_id) FROM views WHERE mod(user_id, 7) = 0",
        "SELECT count(DISTINCT user_id) FROM views WHERE user_id % 7 = 0",
        Agree::Exactly,
    ),
    (
        "price buckets (width_bucket)",
        "SELECT width_bucket(price, 0, 100000, 10), count(*) FROM views WHERE price IS NOT NULL GROUP BY 1",
        "SELECT CASE WHEN price < 0 THEN 0 WHEN price >= 100000 THEN 11 ELSE CAST(floor(price * 10 / 100000) AS BIGINT) + 1 END, count(*) FROM views WHERE price IS NOT NULL GROUP BY 1",
        Agree::Exactly,
    ),
    (
        "retention: week-one users back in week two",
        "WITH w AS (SELECT DISTINCT user_id, date_trunc('week', dt) AS week FROM views) SELECT a.week, count(*) FROM w AS a JOIN w AS b ON a.user_id = b.user_id AND b.week = date_add('week', 1, a.week) GROUP BY a.week",
        "WITH w AS (SELECT DISTINCT user_id, CAST(date_trunc('week', dt) AS DATE) AS week FROM views) SELECT a.week, count(*) FROM w AS a JOIN w AS b ON a.user_id = b.user_id AND b.week = a.week + INTERVAL 7 DAY GROUP BY a.week",
        Agree::Exactly,
    ),
    (
        "users back the next day (lag, date_diff)",
        "SELECT count(*) FROM (SELECT user_id, dt, lag(dt) OVER (PARTITION BY user_id ORDER BY dt) AS prev FROM (SELECT DISTINCT user_id, dt FROM views)) WHERE date_diff('day', prev, dt) = 1",
        "SELECT count(*) FROM (SELECT user_id, dt, lag(dt) OVER (PARTITION BY user_id ORDER BY dt) AS prev FROM (SELECT DISTINCT user_id, dt FROM views)) WHERE date_diff('day', prev, dt) = 1",
        Agree::Exactly,
    ),
    (
        "top three listings per service (row_number)",
        "SELECT service, listing_id, n FROM (SELECT service, listing_id, count(*) AS n, row_number() OVER (PARTITION BY service ORDER BY count(*) DESC, listing_id) AS r FROM views GROUP BY 1, 2) WHERE r <= 3",
        "SELECT service, listing_id, n FROM (SELECT service, listing_id, count(*) AS n, row_number() OVER (PARTITION BY service ORDER BY count(*) DESC, listing_id) AS r FROM views GROUP BY 1, 2) WHERE r <= 3",
        Agree::Exactly,
    ),
    (
        "sources from view URLs (url_extract_parameter)",
        "SELECT url_extract_parameter(u, 'src'), url_extract_host(u), count(*) FROM (SELECT 'https://app.example.com/listing/' || CAST(listing_id AS varchar) || '?src=' || platform || '&t=1' AS u FROM views) GROUP BY 1, 2",
        "SELECT regexp_extract(u, 'src=([^&]*)', 1), regexp_extract(u, '//([^/]+)/', 1), count(*) FROM (SELECT 'https://app.example.com/listing/' || CAST(listing_id AS varchar) || '?src=' || platform || '&t=1' AS u FROM views) GROUP BY 1, 2",
        Agree::Exactly,
    ),
    (
        "raw zone: events per hour of the day after (JSON, Firehose prefixes)",
        "SELECT hour(event_time), count(*) FROM views_raw GROUP BY 1",
        "SELECT hour(CAST(event_time AS TIMESTAMP)), count(*) FROM raw GROUP BY 1",
        Agree::Exactly,
    ),
];

/// The DuckDB side: every query of the corpus over the lake, answers as JSON lines.
const DUCKDB: &str = r#"
import datetime, decimal, json, sys, duckdb
lake = sys.argv[1]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"CREATE VIEW views AS SELECT * FROM read_parquet('{lake}/views/*/*.parquet', hive_partitioning = true)")
con.execute(f"CREATE VIEW raw AS SELECT * FROM read_json('{lake}/raw/views/*/*/*/*/*.json.gz', format = 'newline_delimited')")
def cell(v):
    if v is None: return "NULL"
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, (datetime.date, datetime.datetime)): return v.isoformat()
    return str(v)
for sql in json.load(sys.stdin):
    rows = con.execute(sql).fetchall()
    print(json.dumps([[cell(v) for v in row] for row in rows], ensure_ascii=False))
"#;

fn duckdb_python() -> Option<String> {
    let python = std::env::var("MINERVA_DUCKDB_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = Command::new(&python)
        .args(["-c", "import duckdb"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    has.then_some(python)
}

fn agree(minerva: &str, duckdb: &str, how: Agree) -> bool {
    if minerva == duckdb {
        return true;
    }
    let tolerance = match how {
        Agree::Exactly => 1e-9,
        Agree::Within(t) => t,
    };
    match (minerva.parse::<f64>(), duckdb.parse::<f64>()) {
        (Ok(a), Ok(b)) => (a - b).abs() <= tolerance * a.abs().max(b.abs()).max(1.0),
        _ => false,
    }
}

#[tokio::test]
async fn analyst_queries_agree_with_duckdb() {
    assert!(
        CORPUS.len() >= 40,
        "the corpus has {} queries",
        CORPUS.len()
    );
    let Some(python) = duckdb_python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have DuckDB: set MINERVA_DUCKDB_PYTHON to a Python with `duckdb`"
        );
        // Outside CI a developer without DuckDB sees why this test passed vacuously.
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "skipped: no Python with duckdb (pip install duckdb, or MINERVA_DUCKDB_PYTHON)"
            );
        }
        return;
    };
    let lake = DemoLake::new(seed_spec());
    let engine = minerva_engine::Engine::open(lake.catalog()).unwrap();

    let queries: Vec<&str> = CORPUS.iter().map(|(_, _, duck, _)| *duck).collect();
    let mut child = Command::new(&python)
        .args(["-c", DUCKDB, &lake.dir.path().to_string_lossy()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), &queries).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "DuckDB failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<Vec<Vec<String>>> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(answers.len(), CORPUS.len());

    let mut disagreements = Vec::new();
    for ((question, trino, _, how), expected) in CORPUS.iter().zip(answers) {
        let batches = match engine.query(trino).await {
            Ok(batches) => batches,
            Err(e) => {
                disagreements.push(format!("{question}: Minerva failed: {e}"));
                continue;
            }
        };
        let mut actual = render_cells(&batches);
        let mut expected = expected;
        if !trino.contains("ORDER BY") || trino.contains(" OVER (") {
            actual.sort();
            expected.sort();
        }
        let same = actual.len() == expected.len()
            && actual.iter().zip(&expected).all(|(a, e)| {
                a.len() == e.len() && a.iter().zip(e).all(|(x, y)| agree(x, y, *how))
            });
        if actual.is_empty() {
            disagreements.push(format!(
                "{question}: no rows (a corpus query must answer something)"
            ));
        } else if !same {
            let show = |rows: &[Vec<String>]| {
                rows.iter()
                    .take(5)
                    .map(|r| r.join("|"))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            disagreements.push(format!(
                "{question}: Minerva {} rows [{}], DuckDB {} rows [{}]",
                actual.len(),
                show(&actual),
                expected.len(),
                show(&expected)
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
