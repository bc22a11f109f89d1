#!/usr/bin/env python3
"""The live table next to DuckDB: "right now" questions over the compacted days plus the raw
zone, before and after part of the raw day is compacted.

    python3 benches/live.py                                  # 14 days x 1,000,000 events
    python3 benches/live.py --events-per-day 10000000        # seed scale

Builds `minerva` (release), writes the demo lake (`minerva demo`: `views` in zstd Parquet, the
next day as gzipped JSON lines under Firehose's YYYY/MM/DD/HH/ prefixes), then, in one run, with
the same thread count and a warm OS cache, the median of --runs timed runs of each query:

- Minerva over `views_live` (each side aggregated on its own, the batch side by the dense path);
- Minerva over `views_live` with `--hash-aggregation` (DataFusion's aggregation throughout);
- DuckDB over the same hand-written union (`read_parquet` of views UNION ALL `read_json` of the
  raw zone with dt computed), which is exact only while nothing of the raw day is compacted;
- Minerva over `views_live` again after `COMPACT views_live` took the raw day's first half,
  whose answers must not change (DuckDB's union would now count that half twice).

Answers are compared as sorted text; ratios below 1 favour Minerva. --out writes the table.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DUCKDB = r"""
import sys, time, duckdb
lake, threads, sql = sys.argv[1], int(sys.argv[2]), sys.stdin.read()
started = time.perf_counter()
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute("SET enable_progress_bar = false")
columns = ("{'event_time': 'TIMESTAMP', 'event_id': 'VARCHAR', 'user_id': 'BIGINT', 'session_id': 'VARCHAR', "
           "'listing_id': 'BIGINT', 'region': 'VARCHAR', 'service': 'VARCHAR', 'platform': 'VARCHAR', "
           "'event_type': 'VARCHAR', 'price': 'BIGINT'}")
con.execute(f"CREATE VIEW views_live AS SELECT * FROM read_parquet('{lake}/views/*/*.parquet', hive_partitioning = true) "
            f"UNION ALL SELECT *, CAST(event_time AS DATE) AS dt FROM read_json('{lake}/raw/views/*/*/*/*/*.json.gz', "
            f"format = 'newline_delimited', columns = {columns})")
rows = con.execute(sql).fetchall()
print(f"{time.perf_counter() - started:.6f}", file=sys.stderr)
for row in rows:
    print("|".join("" if v is None else str(v) for v in row))
"""


def queries(raw_day):
    return {
        "one listing, all days": "SELECT count(*) FROM views_live WHERE listing_id = 1000000",
        "one listing, last 6 hours": f"SELECT count(*) FROM views_live WHERE listing_id = 1000000 "
        f"AND event_time >= TIMESTAMP '{raw_day} 18:00:00'",
        "DAU, last 7 days": f"SELECT dt, count(DISTINCT user_id) FROM views_live "
        f"WHERE dt >= DATE '{raw_day}' - INTERVAL '6' DAY GROUP BY dt",
        "views by region, last 2 days": f"SELECT region, count(*) FROM views_live "
        f"WHERE dt >= DATE '{raw_day}' - INTERVAL '1' DAY AND event_type = 'view' GROUP BY region",
    }


def run(command, stdin=None):
    """(wall seconds, stdout lines, stderr) of one run."""
    started = time.perf_counter()
    process = subprocess.run(command, input=stdin, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        sys.exit(f"{command[:3]} failed ({process.returncode}): {process.stderr.strip()}")
    return wall, process.stdout.strip().splitlines(), process.stderr


def median(command, runs, stdin=None, inner=False):
    """(median seconds, sorted answer rows as a|b|c) of --runs runs after a warm-up. Minerva's
    time is its whole process and its CSV header is dropped; DuckDB's is measured inside it."""
    run(command, stdin)  # warm-up
    times, answer = [], None
    for _ in range(runs):
        wall, lines, stderr = run(command, stdin)
        times.append(float(stderr.strip().splitlines()[-1]) if inner else wall)
        answer = sorted(lines if inner else [line.replace(",", "|") for line in lines[1:]])
    return statistics.median(times), answer


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-per-day", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, help="also write the table here")
    parser.add_argument("--no-build", action="store_true", help="use the release binary as it is")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    minerva = str(target / "release" / "minerva")
    lake = target / f"live-lake-{args.days}-{args.events_per_day}"
    subprocess.run([minerva, "demo", "--out", str(lake), "--days", str(args.days), "--events-per-day",
                    str(args.events_per_day), "--no-shell"], check=True, stdin=subprocess.DEVNULL)
    catalog = lake / "catalog"
    # A fresh boundary: nothing of the raw day compacted yet.
    manifest = catalog / "default" / "views.manifest"
    if manifest.exists():
        sys.exit(f"{manifest} exists: remove the lake ({lake}) to measure from nothing compacted")
    year, month, day = sorted((lake / "raw" / "views").glob("*/*/*"))[0].parts[-3:]
    raw_date = f"{year}-{month}-{day}"
    base = [minerva, "--catalog", str(catalog), "--threads", str(args.threads), "--format", "csv"]

    def minerva_cmd(sql, *flags):
        return base + list(flags) + ["-c", sql]

    rows = []
    for name, sql in queries(raw_date).items():
        m, m_answer = median(minerva_cmd(sql), args.runs)
        h, h_answer = median(minerva_cmd(sql, "--hash-aggregation"), args.runs)
        d, d_answer = median([sys.executable, "-c", DUCKDB, str(lake), str(args.threads)], args.runs,
                             stdin=sql, inner=True)
        rows.append([name, m, h, d, m_answer == d_answer == h_answer, m_answer])
    compact = f"COMPACT views_live WHERE datehour <= '{year}/{month}/{day}/11'"
    started = time.perf_counter()
    subprocess.run(base + ["-c", compact], check=True, capture_output=True)
    compact_seconds = time.perf_counter() - started
    for row, sql in zip(rows, queries(raw_date).values()):
        after, answer = median(minerva_cmd(sql), args.runs)
        row.append(after)
        row.append(answer == row[5])

    import duckdb  # noqa: E402  (only for its version)
    lines = [
        f"The live table over {args.days} compacted days and one raw day, {args.events_per_day:,} events a day; "
        f"{platform.machine()}, {os.cpu_count()} cores, {args.threads} threads; DuckDB {duckdb.__version__}; "
        f"median of {args.runs}. Ratios below 1 favour Minerva.",
        "",
        "| query | Minerva s | hash agg. s | DuckDB union s | Minerva ÷ DuckDB | dense ÷ hash | equal | after COMPACT s | after ÷ before | same answer |",
        "|---|---:|---:|---:|---:|---:|:-:|---:|---:|:-:|",
    ]
    for name, m, h, d, equal, _, after, same in rows:
        lines.append(f"| {name} | {m:.3f} | {h:.3f} | {d:.3f} | {m / d:.2f} | {m / h:.2f} | {'yes' if equal else 'NO'} "
                     f"| {after:.3f} | {after / m:.2f} | {'yes' if same else 'NO'} |")
    lines += ["", f"`{compact}`: {compact_seconds:.1f} s."]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
