#!/usr/bin/env python3
"""The batch layer's write path next to DuckDB: compacting one day of the raw JSON zone into
day-partitioned zstd Parquet, and a query on the raw zone against the compacted table.

    python3 benches/compaction.py                                  # 1,000,000 events
    python3 benches/compaction.py --events-per-day 10000000        # seed scale (one day)

Builds `minerva` (release), writes a one-day demo lake (`minerva demo --days 1`: its raw zone
is the day after, gzipped JSON lines under Firehose's YYYY/MM/DD/HH/ prefixes), then, in the
same run, with the same thread count and a warm OS cache:

- Minerva: `COMPACT views_raw INTO compacted SET dt = date(event_time)` into a table sorted by
  (listing_id, event_time), its wall time and the process's peak RSS;
- DuckDB: `COPY (SELECT *, CAST(event_time AS DATE) AS dt FROM read_json(...)) TO … (FORMAT
  parquet, PARTITION_BY (dt), COMPRESSION zstd)`, unsorted (its fastest) and with the same
  ORDER BY (the same work as Minerva's);
- the views by region query on `views_raw` (JSON) and on the compacted table (Parquet).

Row counts are checked equal. Prints rows/s and ratios (below 1 favours Minerva); --out also
writes the markdown table.
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RSS_PROBE = r"""
import os, resource, subprocess, sys
status = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(usage.ru_maxrss if status == 0 else -1)
"""

DUCKDB_COPY = r"""
import sys, time, duckdb
raw, out, threads, order = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
started = time.perf_counter()
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute("SET enable_progress_bar = false")
columns = ("{'event_time': 'TIMESTAMP', 'event_id': 'VARCHAR', 'user_id': 'BIGINT', 'session_id': 'VARCHAR', "
           "'listing_id': 'BIGINT', 'region': 'VARCHAR', 'service': 'VARCHAR', 'platform': 'VARCHAR', "
           "'event_type': 'VARCHAR', 'price': 'BIGINT'}")
source = f"read_json('{raw}/*/*/*/*/*.json.gz', format = 'newline_delimited', columns = {columns})"
sorted_by = " ORDER BY listing_id, event_time" if order == "sorted" else ""
con.execute(f"COPY (SELECT *, CAST(event_time AS DATE) AS dt FROM {source}{sorted_by}) TO '{out}' "
            "(FORMAT parquet, PARTITION_BY (dt), COMPRESSION zstd)")
rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}/*/*.parquet')").fetchone()[0]
print(f"{time.perf_counter() - started:.6f} {rows}", file=sys.stderr)
"""

QUERY = ("SELECT region, count(*) AS views FROM {table} WHERE event_type = 'view' "
         "GROUP BY region ORDER BY views DESC")


def peak_rss(command):
    probe = subprocess.run([sys.executable, "-c", RSS_PROBE, *command], capture_output=True, text=True)
    kib = int(probe.stdout.strip() or -1)
    if kib < 0:
        sys.exit(f"{command[0]} failed while measuring memory")
    return kib * 1024


def timed(command):
    started = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        sys.exit(f"{command[:4]} failed: {process.stderr.strip()}")
    return wall, process


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-per-day", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, help="also write the table here")
    parser.add_argument("--no-build", action="store_true", help="use the release binary as it is")
    args = parser.parse_args()

    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    minerva = str(target / "release" / "minerva")
    lake = target / f"compaction-lake-{args.events_per_day}"
    subprocess.run([minerva, "demo", "--out", str(lake), "--days", "1", "--events-per-day",
                    str(args.events_per_day), "--no-shell"], check=True)
    catalog = lake / "catalog"
    raw = lake / "raw" / "views"
    base = [minerva, "--catalog", str(catalog), "--threads", str(args.threads), "--format", "csv"]

    def fresh_table():
        for suffix in ("toml", "manifest"):
            (catalog / "default" / f"compacted.{suffix}").unlink(missing_ok=True)
        shutil.rmtree(lake / "compacted", ignore_errors=True)
        subprocess.run(base + ["-c", "CREATE TABLE compacted WITH (partitioned_by = ARRAY['dt'], "
                               "sorted_by = ARRAY['listing_id', 'event_time'], external_location = '../compacted/') "
                               "AS SELECT * FROM views WITH NO DATA"], check=True, capture_output=True)

    compact = base + ["-c", "COMPACT views_raw INTO compacted SET dt = date(event_time)"]
    # Warm the OS cache of the raw zone, then measure time and memory on fresh tables.
    subprocess.run(base + ["-c", "SELECT count(*) FROM views_raw"], check=True, capture_output=True)
    fresh_table()
    m_time, process = timed(compact)
    rows = int(process.stdout.strip().splitlines()[-1])
    fresh_table()
    m_rss = peak_rss(compact)

    d_times = {}
    for order in ("unsorted", "sorted"):
        out = lake / f"duckdb-{order}"
        shutil.rmtree(out, ignore_errors=True)
        _, process = timed([sys.executable, "-c", DUCKDB_COPY, str(raw), str(out), str(args.threads), order])
        seconds, d_rows = process.stderr.strip().splitlines()[-1].split()
        if int(d_rows) != rows:
            sys.exit(f"DuckDB wrote {d_rows} rows, Minerva {rows}")
        d_times[order] = float(seconds)

    q_raw, _ = timed(base + ["-c", QUERY.format(table="views_raw")])
    q_parquet, _ = timed(base + ["-c", QUERY.format(table="compacted")])

    import duckdb  # noqa: E402  (only for its version)
    lines = [
        f"Compaction of one raw day, {rows:,} events; {platform.machine()}, {os.cpu_count()} cores, "
        f"{args.threads} threads; DuckDB {duckdb.__version__}. Ratios below 1 favour Minerva.",
        "",
        "| | seconds | rows/s | Minerva ÷ it |",
        "|---|---:|---:|---:|",
        f"| Minerva COMPACT (sorted by listing_id, event_time) | {m_time:.2f} | {rows / m_time:,.0f} | 1.00 |",
        f"| DuckDB COPY … PARTITION_BY (dt), unsorted | {d_times['unsorted']:.2f} | {rows / d_times['unsorted']:,.0f} | {m_time / d_times['unsorted']:.2f} |",
        f"| DuckDB COPY … PARTITION_BY (dt), ORDER BY listing_id, event_time | {d_times['sorted']:.2f} | {rows / d_times['sorted']:,.0f} | {m_time / d_times['sorted']:.2f} |",
        "",
        f"Minerva's peak RSS while compacting: {m_rss / 2**20:,.0f} MiB.",
        "",
        f"Views by region on the raw zone (JSON): {q_raw:.2f} s; on the compacted table: {q_parquet:.3f} s "
        f"(compacted ÷ raw = {q_parquet / q_raw:.3f}).",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
