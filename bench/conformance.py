#!/usr/bin/env python3
"""Benchmark of the conformance suite: wall time and peak memory of full runs against moto.

    .venv/bin/python bench/conformance.py [--runs 5] [--profiles core,multipart] [--jobs 4]

Starts moto's standalone server on a free port of 127.0.0.1, runs `cps conformance run` N times
as a child process (so that its peak RSS is measured alone, via getrusage of the children), and
prints the median wall time and the peak resident set size of the suite (not of moto).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from cps.conformance import servers  # noqa: E402


def one_run(url: str, profiles: str, jobs: int, env: dict) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, exit code) of one suite run in a child process."""
    code = ("import resource, sys, runpy; sys.argv = ['cps'] + sys.argv[1:]\n"
            "from cps.conformance.cli import main\n"
            "rc = main(sys.argv[1:])\n"
            "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
            "raise SystemExit(rc)\n")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code, "conformance", "run", "--endpoint", url, "--profile", profiles,
                           "--jobs", str(jobs), "-q", "--no-progress"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    peak = 0
    for line in proc.stderr.splitlines():
        if line.startswith("PEAK_RSS_KB"):
            peak = int(line.split()[1])
    if not peak:
        raise SystemExit(f"run failed:\n{proc.stdout}\n{proc.stderr}")
    return wall, peak / 1024, proc.returncode


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--profiles", default="core,multipart")
    ap.add_argument("--jobs", type=int, default=4)
    args = ap.parse_args(argv)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "tools") + os.pathsep + env.get("PYTHONPATH", "")
    srv = servers.start("moto")
    env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = srv.access_key, srv.secret_key
    walls, peaks = [], []
    try:
        for i in range(args.runs):
            wall, peak, rc = one_run(srv.url, args.profiles, args.jobs, env)
            walls.append(wall)
            peaks.append(peak)
            print(f"run {i + 1}: {wall:6.2f} s, peak RSS {peak:6.1f} MiB, exit {rc}", flush=True)
    finally:
        srv.stop()
    print(f"moto {srv.version}, profiles {args.profiles}, jobs {args.jobs}, {args.runs} runs: "
          f"median wall time {statistics.median(walls):.2f} s, peak RSS {max(peaks):.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
