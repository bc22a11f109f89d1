#!/usr/bin/env python3
"""Minerva next to DuckDB writing one day of the lake (every column) to a pipe, in each format.

    python3 benches/export.py --lake DIR              # a lake `minerva demo` wrote (peers.py's)
    python3 benches/export.py --lake DIR --out FILE   # also write the markdown table

Scripts pipe big results: this is `minerva -c "SELECT * FROM views WHERE dt = …" --format F |`
against DuckDB's `COPY (…) TO '/dev/stdout' (FORMAT …)`, both read to the end by `cat` into
/dev/null, same threads, warm OS cache: one warm-up run, then the median of --runs runs, and
Minerva's peak RSS. Minerva's time is its whole process; DuckDB's is measured inside its
process from connect to the last row written. Ratios below 1 favour Minerva.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

DUCKDB_COPY = r"""
import sys, time, duckdb
lake, threads, options, sql = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.stdin.read()
started = time.perf_counter()
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute("SET enable_progress_bar = false")
con.execute(f"CREATE VIEW views AS SELECT * FROM read_parquet('{lake}/views/*/*.parquet', hive_partitioning = true)")
con.execute(f"COPY ({sql}) TO '/dev/stdout' ({options})")
sys.stdout.flush()
print(f"{time.perf_counter() - started:.6f}", file=sys.stderr)
"""

FORMATS = {
    "csv": "FORMAT csv, HEADER true",
    "tsv": "FORMAT csv, HEADER true, DELIMITER '\t'",
    "ndjson": "FORMAT json",
    "json": "FORMAT json, ARRAY true",
}


def piped(command, stdin=None):
    """Runs `command | cat > /dev/null`; returns (its stderr, wall seconds)."""
    started = time.perf_counter()
    producer = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=False)
    consumer = subprocess.Popen(["cat"], stdin=producer.stdout, stdout=subprocess.DEVNULL)
    producer.stdout.close()
    _, err = producer.communicate(stdin.encode() if stdin else None)
    consumer.wait()
    wall = time.perf_counter() - started
    if producer.returncode != 0:
        sys.exit(f"{command[0]} failed: {err.decode().strip()}")
    return err.decode(), wall


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path, required=True)
    parser.add_argument("--day", default="2024-01-15")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path)
    parser.add_argument("--profile", default="dist",
                        help="the cargo profile to build and measure: dist (what ships: link-time optimised) or release")
    parser.add_argument("--no-build", action="store_true", help="measure the binary of --profile as it is")
    args = parser.parse_args()

    if not args.no_build:
        subprocess.run(["cargo", "build", "--profile", args.profile, "--quiet"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    minerva = str(target / args.profile / "minerva")
    sql = f"SELECT * FROM views WHERE dt = DATE '{args.day}'"
    rows = None
    results = []
    for name, options in FORMATS.items():
        m_cmd = [minerva, "--catalog", str(args.lake / "catalog"), "--threads", str(args.threads),
                 "--format", name, "-c", sql]
        d_cmd = [sys.executable, "-c", DUCKDB_COPY, str(args.lake), str(args.threads), options]
        if rows is None:
            csv = [minerva, "--catalog", str(args.lake / "catalog"), "--format", "csv", "-c", sql]
            rows = peers.digest(csv, skip_header=True)[0]
        piped(m_cmd)
        piped(d_cmd, sql)
        m_times = [piped(m_cmd)[1] for _ in range(args.runs)]
        d_times = [float(piped(d_cmd, sql)[0].strip().splitlines()[-1]) for _ in range(args.runs)]
        m_rss = peers.peak_rss_of(m_cmd)
        m, d = statistics.median(m_times), statistics.median(d_times)
        results.append((name, m, d, m_rss))
        print(f"{name}: minerva {m:.3f} s, duckdb {d:.3f} s, ratio {m / d:.2f}", file=sys.stderr)

    import duckdb  # noqa: E402  (only for its version)

    command = " ".join(["python3", "benches/export.py", *sys.argv[1:]])
    lines = [
        f"One run of `{command}` on {time.strftime('%Y-%m-%d')}: `{sql}` ({rows:,} rows, every "
        f"column) to a pipe, {args.threads} threads, median of {args.runs} warm runs.",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores; DuckDB {duckdb.__version__}.",
        "",
        "| format | Minerva (s) | DuckDB `COPY … TO` (s) | Minerva / DuckDB | Minerva RSS (MiB) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, m, d, m_rss in results:
        lines.append(f"| {name} | {m:.3f} | {d:.3f} | {m / d:.2f} | {m_rss / 2**20:.0f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
