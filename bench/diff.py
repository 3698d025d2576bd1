#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Time ``cps diff`` on the real repository: the median of 5 runs of the whole command.

    .venv/bin/python bench/diff.py [OLD] [NEW]        (default: git:HEAD draft)

Four figures, each the median of 5 runs (after one untimed warm-up run where caches matter):

* ``warm``: the command as a developer or CI job re-runs it: both versions' snapshots are in
  ``.cache/cps-diff/`` (content-addressed, so any edit to a side reloads that side).
* ``no snapshot cache``: ``--no-cache``: both versions are loaded with the loader, with the
  loader's content-addressed parse cache (``.cache/yaml``, ``.cache/markdown``) available.
* ``fresh clone``: the first run in a new clone: every cache empty (a temporary clone of the
  repository with the working tree's spec/ and schemas/, its ``.cache`` removed before each run).
  The first side fills the parse cache, the second finds its unchanged files there.
* ``cold``: ``--no-cache`` and ``CPS_NO_CACHE=1``: every file of both versions parsed from scratch.

The target is the ``warm`` median under 1 s. Exit status 1 when it is not met.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPS = ROOT / ".venv" / "bin" / "cps"
RUNS = 5
TARGET = 1.0


def timed(args: list[str], env: dict[str, str], root: Path = ROOT, fresh: bool = False) -> float:
    if fresh:
        shutil.rmtree(root / ".cache", ignore_errors=True)
    start = time.perf_counter()
    r = subprocess.run([str(CPS), "--root", str(root), "diff", *args, "--fail-on", "none"],
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit(f"cps diff {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return elapsed


def median_of(args: list[str], env: dict[str, str], root: Path = ROOT, fresh: bool = False) -> tuple[float, list[float]]:
    timed(args, env, root, fresh)  # warm-up (fills the caches the scenario allows)
    times = [timed(args, env, root, fresh) for _ in range(RUNS)]
    return statistics.median(times), times


def fresh_clone(tmp: Path) -> Path:
    """A clone of the repository whose spec/ and schemas/ are those of the working tree."""
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", "--no-local", str(ROOT), str(clone)], check=True)
    for part in ("spec", "schemas"):
        shutil.rmtree(clone / part, ignore_errors=True)
        shutil.copytree(ROOT / part, clone / part, ignore=shutil.ignore_patterns(".cache"))
    return clone


def main(argv: list[str]) -> int:
    old, new = (argv + ["git:HEAD", "draft"][len(argv):])[:2]
    base = dict(os.environ)
    base.pop("CPS_NO_CACHE", None)
    cold_env = dict(base, CPS_NO_CACHE="1")
    tmp = Path(tempfile.mkdtemp(prefix="cps-bench-"))
    clone = fresh_clone(tmp)
    rows = [
        ("warm", [old, new], base, ROOT, False),
        ("no snapshot cache", [old, new, "--no-cache"], base, ROOT, False),
        ("fresh clone", [old, new], base, clone, True),
        ("cold", [old, new, "--no-cache"], cold_env, ROOT, False),
    ]
    print(f"cps diff {old} {new}: median of {RUNS} runs (cpus: {os.cpu_count()}, load average: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    results = {}
    for name, args, env, root, fresh in rows:
        med, times = median_of(args, env, root, fresh)
        results[name] = med
        print(f"  {name:<18} median {med:.3f} s   runs: {' '.join(f'{t:.3f}' for t in times)}")
    shutil.rmtree(tmp, ignore_errors=True)
    ok = results["warm"] < TARGET
    print(f"target: warm median under {TARGET:.1f} s: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
