#!/usr/bin/env python3
"""Scale-out on one machine: the same queries on 1 and 2 worker processes, each pinned to one
core with taskset, against one process on one core.

    cargo build --release
    python3 benches/cluster.py --catalog /path/to/seed-scale/catalog [--runs 5]

Prints, per query, the median wall time of each setup (the coordinator is a separate process,
unpinned) and the ratios: scaling (1 worker / 2 workers; 2.0 would be linear) and overhead (1
worker / one process on one core: both answer on the dense path, the cluster as partial states on
its worker merged on the coordinator). Numbers of one run on a shared machine: compare within a
run.
"""

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["weekly_views_by_region.sql", "dau_month.sql"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_worker(minerva, catalog, core):
    port = free_port()
    proc = subprocess.Popen(
        ["taskset", "-c", str(core), minerva, "--catalog", catalog, "--no-disk-cache",
         "worker", "--listen", f"127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    if "listening on" not in line:
        proc.kill()
        sys.exit(f"worker did not start: {line}")
    return proc, f"127.0.0.1:{port}"


def timed(command, sql_file):
    started = time.perf_counter()
    done = subprocess.run(command + ["-f", sql_file], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {done.stderr.strip()}")
    return elapsed, sorted(done.stdout.splitlines())


def median_of(runs, command, sql_file):
    times, answer = [], None
    for _ in range(runs):
        elapsed, rows = timed(command, sql_file)
        times.append(elapsed)
        answer = rows
    return statistics.median(times), answer


def same(a, b):
    """Rows equal, floating-point cells to 9 significant digits."""
    def canon(rows):
        return [re.sub(r"-?\d+\.\d+(e-?\d+)?", lambda m: f"{float(m.group(0)):.9e}", r)
                for r in rows]
    return canon(a) == canon(b)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--minerva", default=str(ROOT / "target/release/minerva"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        sys.exit("needs two cores")
    base = [args.minerva, "--catalog", args.catalog, "--no-disk-cache", "--format", "csv"]
    one_core = ["taskset", "-c", "0"] + base + ["--threads", "1"]

    rows = []
    for name in QUERIES:
        sql = str(ROOT / "benches/queries" / name)
        dense, answer = median_of(args.runs, one_core, sql)
        w1, url1 = start_worker(args.minerva, args.catalog, 0)
        try:
            one, one_answer = median_of(args.runs, base + ["--cluster", url1], sql)
        finally:
            w1.kill()
            w1.wait()
        workers = [start_worker(args.minerva, args.catalog, core) for core in (0, 1)]
        try:
            urls = ",".join(url for _, url in workers)
            two, two_answer = median_of(args.runs, base + ["--cluster", urls], sql)
        finally:
            for proc, _ in workers:
                proc.kill()
                proc.wait()
        for label, other in (("1 worker", one_answer), ("2 workers", two_answer)):
            if not same(other, answer):
                sys.exit(f"{name}: the answer of {label} differs")
        rows.append((name, dense, one, two))

    print(f"runs: {args.runs} (medians), catalog: {args.catalog}")
    print("| query | 1 process, 1 core | 1 worker | 2 workers, 1 core each "
          "| scaling (1 w / 2 w) | overhead (1 w / 1 process) | 2 w / 1 process |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, dense, one, two in rows:
        print(f"| {name} | {dense:.2f} s | {one:.2f} s | {two:.2f} s "
              f"| {one / two:.2f}× | {one / dense:.2f}× | {two / dense:.2f}× |")


if __name__ == "__main__":
    main()
