#!/usr/bin/env python3
"""Minerva next to DuckDB on the seed queries, over the same demo lake.

    python3 benches/peers.py                       # small scale: 35 days x 200,000 events
    python3 benches/peers.py --events-per-day 10000000 --out benches/RESULTS.md   # seed scale

Builds `minerva` (the `dist` profile: release with link-time optimisation), writes the demo lake with `minerva demo` (or reuses it), then runs
each query of benches/queries/*.sql in both engines, each in its own process, with the same
thread count and a warm OS cache: one warm-up run, then the median of --runs timed runs and the
peak RSS. Answers must be equal (rows compared as sorted text). Prints a markdown table and
writes it to --out when given. DuckDB comes from PyPI (`pip install duckdb`, in a venv).

Both engines write the whole answer as CSV (Minerva to stdout, DuckDB through its own COPY), so
result size costs them alike: to /dev/null when timed, and through an order-independent digest
(row count and a sum of per-line CRCs) when answers are compared, so no answer is ever held in
memory. Minerva's time is its whole process (start, catalog, plan, run, print); DuckDB's is
measured inside its process from connect to the last row written, so interpreter start-up is
not charged to it. Ratios below 1 favour Minerva.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "benches" / "queries"

DUCKDB_RUNNER = r"""
import sys, time, duckdb
lake, threads, target, sql = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.stdin.read()
started = time.perf_counter()
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute("SET enable_progress_bar = false")
con.execute(f"CREATE VIEW views AS SELECT * FROM read_parquet('{lake}/views/*/*.parquet', hive_partitioning = true)")
con.execute(f"COPY ({sql}\n) TO '{target}' (FORMAT csv, HEADER false)")
print(f"{time.perf_counter() - started:.6f}", file=sys.stderr)
"""


def run(command, stdin=None):
    """Runs a command, its output discarded; returns (stderr, wall seconds)."""
    started = time.perf_counter()
    process = subprocess.run(command, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        sys.exit(f"{command[0]} failed ({process.returncode}): {process.stderr.strip()}")
    return process.stderr, wall


def digest(command, stdin=None, skip_header=False):
    """(rows, sum of CRC-32 of each line mod 2^64) of a command's CSV output, read as a stream."""
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if stdin is not None:
        process.stdin.write(stdin.encode())
    process.stdin.close()
    rows, total = 0, 0
    lines = iter(process.stdout)
    if skip_header:
        next(lines, None)
    for line in lines:
        rows += 1
        total = (total + zlib.crc32(line.rstrip(b"\r\n"))) & 0xFFFF_FFFF_FFFF_FFFF
    error = process.stderr.read().decode()
    if process.wait() != 0:
        sys.exit(f"{command[0]} failed: {error.strip()}")
    return rows, total


# Run by a fresh interpreter: a child forked from this harness would start from the harness's
# own resident size (Linux keeps the high-water mark across exec), which grows with the answers
# it holds.
RSS_PROBE = r"""
import os, sys
pid = os.fork()
if pid == 0:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss if status == 0 else -1)
"""


def peak_rss_of(command, stdin=None):
    """Peak RSS of one run of `command`, in bytes (Linux reports ru_maxrss in KiB)."""
    probe = subprocess.run([sys.executable, "-c", RSS_PROBE, *command], input=stdin, capture_output=True, text=True)
    kib = int(probe.stdout.strip() or -1)
    if kib < 0:
        sys.exit(f"{command[0]} failed while measuring memory")
    return kib * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--events-per-day", type=int, default=200_000)
    parser.add_argument("--lake", type=Path, help="where the lake is (default: target/peers-lake-<days>x<events>[-time])")
    parser.add_argument("--order", choices=["listing", "time"], default="listing",
                        help="rows of a day by listing then time (as compacted) or by time (as events happen)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--only", help="run only queries whose file name contains this")
    parser.add_argument("--queries", type=Path, default=QUERIES,
                        help="a directory of .sql files to run instead of benches/queries/")
    parser.add_argument("--out", type=Path, help="also write the table here (e.g. benches/RESULTS.md)")
    parser.add_argument("--profile", default="dist",
                        help="the cargo profile to build and measure: dist (what ships: link-time optimised) or release")
    parser.add_argument("--no-build", action="store_true", help="measure the binary of --profile as it is")
    args = parser.parse_args()

    if not args.no_build:
        subprocess.run(["cargo", "build", "--profile", args.profile, "--quiet"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    minerva = str(target / args.profile / "minerva")
    suffix = "-time" if args.order == "time" else ""
    lake = args.lake or target / f"peers-lake-{args.days}x{args.events_per_day}{suffix}"
    started = time.perf_counter()
    subprocess.run(
        [minerva, "demo", "--out", str(lake), "--days", str(args.days),
         "--events-per-day", str(args.events_per_day), "--order", args.order, "--no-shell"],
        check=True,
    )
    print(f"lake ready in {time.perf_counter() - started:.1f} s: {lake}", file=sys.stderr)

    results = []
    for query in sorted(args.queries.glob("*.sql")):
        if args.only and args.only not in query.name:
            continue
        sql = query.read_text()
        minerva_cmd = [minerva, "--catalog", str(lake / "catalog"), "--threads", str(args.threads),
                       "--format", "csv", "-f", str(query)]
        duckdb_cmd = [sys.executable, "-c", DUCKDB_RUNNER, str(lake), str(args.threads)]

        # Warm-up, and the answers.
        m_answer = digest(minerva_cmd, skip_header=True)
        d_answer = digest(duckdb_cmd + ["/dev/stdout"], sql)
        equal = m_answer == d_answer
        m_times, d_times = [], []
        for _ in range(args.runs):
            m_times.append(run(minerva_cmd)[1])
            d_times.append(float(run(duckdb_cmd + ["/dev/null"], sql)[0].strip().splitlines()[-1]))
        m_rss = peak_rss_of(minerva_cmd)
        d_rss = peak_rss_of(duckdb_cmd + ["/dev/null"], sql)
        m, d = statistics.median(m_times), statistics.median(d_times)
        results.append((query.stem, m, d, m_rss, d_rss, equal))
        print(f"{query.stem}: minerva {m:.3f} s, duckdb {d:.3f} s, ratio {m / d:.2f}, "
              f"{m_answer[0]} rows, equal answers: {equal}", file=sys.stderr)

    import duckdb  # noqa: E402  (only for its version)

    command = " ".join(["python3", "benches/peers.py", *sys.argv[1:]])
    lines = [
        f"One run of `{command}` on {time.strftime('%Y-%m-%d')}. Ratios below 1 favour Minerva; "
        "Minerva's times include its process start.",
        "",
        f"Queries over {args.days} days x {args.events_per_day:,} events "
        f"(`minerva demo --order {args.order}`: a day's rows "
        f"{'by listing, then time' if args.order == 'listing' else 'in time order'}; zstd Parquet), "
        f"{args.threads} threads, median of {args.runs} warm runs.",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores; DuckDB {duckdb.__version__}.",
        "",
        "| query | Minerva (s) | DuckDB (s) | Minerva / DuckDB | Minerva RSS (MiB) | DuckDB RSS (MiB) | equal answers |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, m, d, m_rss, d_rss, equal in results:
        lines.append(f"| {name} | {m:.3f} | {d:.3f} | {m / d:.2f} | {m_rss / 2**20:.0f} | {d_rss / 2**20:.0f} | "
                     f"{'yes' if equal else '**no**'} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        args.out.write_text(table)
    if not all(r[5] for r in results):
        sys.exit("answers differ")


if __name__ == "__main__":
    main()
