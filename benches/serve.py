#!/usr/bin/env python3
"""The Postgres-wire server against the shell, and many clients against one.

    python3 benches/serve.py --lake DIR [--binary target/release/minerva] [--runs 3]
                             [--clients 8] [--seconds 10] [--only NAME]

Starts `minerva serve` on the lake's catalog and measures, in one run:
1. each seed question (benches/queries/*.sql) over the wire (psql, one connection, `\timing`:
   from sending the query to the last row received by libpq, rows then written to /dev/null)
   against the shell (`minerva -f` with --stats: its "Run time", rows printed to /dev/null):
   the median of --runs each, and their ratio. (A Python client decoding millions of rows
   measures Python, not the server: psql is the C client.)
2. a point lookup (one listing on one day, a random listing each time) with pgbench, prepared
   statements: one client's p50/p99 latency and throughput, then --clients clients' throughput,
   and the ratio of the two throughputs.

Needs psql, pgbench (Debian's postgresql-client and postgresql-contrib) and psycopg
(pip install 'psycopg[binary]'). Prints a Markdown table; the numbers are this machine's, in one run.
"""
import argparse
import glob
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import psycopg


def start_server(binary, catalog, cache):
    server = subprocess.Popen(
        [binary, "--catalog", catalog, "serve", "--listen", "127.0.0.1:0", "--max-queries", "16",
         "--max-connections", "64"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "MINERVA_CACHE_DIR": cache},
    )
    line = server.stderr.readline()
    match = re.search(r"postgres://([\d.]+):(\d+)", line)
    if not match:
        server.kill()
        sys.exit(f"the server did not start: {line}")
    return server, match.group(1), int(match.group(2))


def shell_times(binary, catalog, sql, runs, cache):
    """The shell's own Run time of `sql`, `runs` times in one process."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write((sql.strip().rstrip(";") + ";\n") * runs)
        path = f.name
    out = subprocess.run(
        [binary, "--catalog", catalog, "--stats", "--format", "csv", "-f", path],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "MINERVA_CACHE_DIR": cache},
    )
    os.unlink(path)
    times = [float(t) for t in re.findall(r"Run time: ([\d.]+) s", out.stderr)]
    if out.returncode != 0 or len(times) != runs:
        sys.exit(f"the shell failed: {out.stderr[-500:]}")
    return times


def wire_times(host, port, sql, runs):
    """psql's `\timing` of `sql`, `runs` times over one connection."""
    script = "\\timing on\n" + (sql.strip().rstrip(";") + ";\n") * runs
    out = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", str(port),
         "-U", "bench", "-d", "minerva", "-o", "/dev/null"],
        input=script, capture_output=True, text=True,
    )
    times = [float(t) / 1000 for t in re.findall(r"Time: ([\d.]+) ms", out.stdout)]
    if out.returncode != 0 or len(times) != runs:
        sys.exit(f"psql failed: {out.stderr[-500:]}")
    return times


def pgbench(host, port, script, clients, seconds, log_dir):
    prefix = os.path.join(log_dir, f"c{clients}")
    out = subprocess.run(
        ["pgbench", "-n", "-M", "prepared", "-f", script, "-h", host, "-p", str(port),
         "-U", "bench", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds),
         "-l", "--log-prefix", prefix, "minerva"],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        sys.exit(f"pgbench failed: {out.stderr[-800:]}")
    tps = float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))
    latencies = []
    for log in glob.glob(prefix + "*"):
        with open(log) as f:
            latencies += [int(line.split()[2]) / 1000 for line in f if line.strip()]
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    return tps, p(0.50), p(0.99), len(latencies)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", required=True, help="a lake made by `minerva demo --out`")
    parser.add_argument("--binary", default="target/release/minerva")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--only", help="one seed question by name")
    args = parser.parse_args()
    catalog = os.path.join(args.lake, "catalog")
    cache = tempfile.mkdtemp(prefix="minerva-serve-bench-")
    server, host, port = start_server(args.binary, catalog, cache)
    try:
        dsn = f"host={host} port={port} user=bench dbname=minerva"
        print("| question | shell (s) | wire (s) | wire / shell |")
        print("| --- | --- | --- | --- |")
        ratios = []
        with psycopg.connect(dsn, autocommit=True) as conn:
            for path in sorted(glob.glob(os.path.join(os.path.dirname(__file__), "queries", "*.sql"))):
                name = os.path.basename(path)[:-4]
                if args.only and name != args.only:
                    continue
                sql = open(path).read()
                # The first run of each warms its caches (the shell's in its process, the
                # server's for all its connections) and is not counted.
                shell = statistics.median(shell_times(args.binary, catalog, sql, args.runs + 1, cache)[1:])
                wire = statistics.median(wire_times(host, port, sql, args.runs + 1)[1:])
                ratios.append(wire / shell)
                print(f"| {name} | {shell:.3f} | {wire:.3f} | {wire / shell:.2f} |", flush=True)
            if ratios:
                print(f"\nwire / shell, median over {len(ratios)} questions: {statistics.median(ratios):.2f} "
                      f"(min {min(ratios):.2f}, max {max(ratios):.2f})")
            day, low, high = conn.execute(
                "SELECT max(dt), min(listing_id), max(listing_id) FROM views").fetchone()
        script = os.path.join(cache, "point.sql")
        with open(script, "w") as f:
            f.write(f"\\set lid random({low}, {high})\n")
            f.write(f"SELECT count(*) FROM views WHERE dt = DATE '{day}' AND listing_id = :lid;\n")
        one = pgbench(host, port, script, 1, args.seconds, cache)
        many = pgbench(host, port, script, args.clients, args.seconds, cache)
        print("\n| point lookup (pgbench, prepared) | tps | p50 (ms) | p99 (ms) | queries |")
        print("| --- | --- | --- | --- | --- |")
        for label, (tps, p50, p99, n) in (("1 client", one), (f"{args.clients} clients", many)):
            print(f"| {label} | {tps:.1f} | {p50:.2f} | {p99:.2f} | {n} |")
        print(f"\n{args.clients} clients' throughput / 1 client's: {many[0] / one[0]:.2f}")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
