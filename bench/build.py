#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark of `cps check` and `cps build`, plain and with three frozen releases.

    .venv/bin/python bench/build.py [--source DIR] [--runs N] [--json]

Works on scratch copies of DIR (default: this repository; only spec/, schemas/, conformance/,
CHANGELOG.md and mkdocs.yml are copied), never on DIR itself:

* ``cps check``: median of N runs;
* ``cps build`` with no release (site/draft, dist/draft): the first build of the copy (cold
  caches: the PDF is typeset) and the median of N more (nothing changed);
* ``cps build`` of a copy with releases 1.0.0, 1.1.0 and 2.0.0 frozen under releases/: the first
  build (cold caches: four PDFs typeset), the median of N more with nothing changed, and the
  median of N builds after an editorial change to the draft each (its pages and PDF are rendered
  again, the frozen releases' PDFs come from the content-addressed cache).

The three releases are frozen with the code of ``cps release`` (stamp + manifest), so the
benchmark runs even while the draft does not pass every check; in that case the builds skip the
checks (``build(checks=False)``) and the report says so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY = ("spec", "schemas", "conformance", "CHANGELOG.md", "mkdocs.yml")
RELEASES = (("1.0.0", "2026-01-15"), ("1.1.0", "2026-04-15"), ("2.0.0", "2026-09-15"))


def scratch(source: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in COPY:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns(".cache", "__pycache__"))
        elif src.is_file():
            shutil.copy2(src, dest / name)
    return dest


def freeze(repo: Path, version: str, date: str) -> None:
    from cps.frozen import write_manifest
    from cps.loader import load
    from cps.release import stamp_tree
    from cps.versions import status_label

    site_url = str(load(repo).meta.get("site_url") or "https://example.invalid/")
    target = repo / "releases" / version
    for part in ("spec", "schemas"):
        shutil.copytree(repo / part, target / part, ignore=shutil.ignore_patterns(".cache", "__pycache__"))
    shutil.copy2(repo / "CHANGELOG.md", target / "CHANGELOG.md")
    stamp_tree(target, version, status_label(version), date, site_url)
    write_manifest(target)


def touch_draft(repo: Path, i: int) -> None:
    """An editorial change to the draft, so that its pages and PDF are rendered again."""
    intro = sorted((repo / "spec").glob("*.md"))[0]
    intro.write_text(intro.read_text(encoding="utf-8") + f"\nBenchmark edit {i}.\n", encoding="utf-8")


CPU: dict[str, float] = {}  # CPU seconds (user + system, all processes) of the last run of each label


def timed(cmd: list[str], cwd: Path, label: str = "") -> float:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if label:
        CPU[label] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if r.returncode not in (0, 1) or (r.returncode == 1 and "check" not in cmd):
        sys.stderr.write(r.stdout[-3000:] + r.stderr[-3000:])
        raise SystemExit(f"bench: {' '.join(cmd)} failed with exit code {r.returncode}")
    return elapsed


def build_cmd(repo: Path, with_checks: bool) -> list[str]:
    if with_checks:
        return [sys.executable, "-m", "cps", "--root", str(repo), "build"]
    code = ("import sys; from pathlib import Path; from cps.build import build; "
            f"sys.exit(build(Path({str(repo)!r}), checks=False))")
    return [sys.executable, "-c", code]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, default=ROOT, help="repository to copy (default: this one)")
    ap.add_argument("--runs", type=int, default=3, help="runs per measurement (default: 3)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()
    source = args.source.resolve()
    results: dict[str, object] = {"source": str(source), "runs": args.runs, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="cps-bench-") as tmpname:
        tmp = Path(tmpname)
        plain = scratch(source, tmp / "plain")
        check = subprocess.run([sys.executable, "-m", "cps", "--root", str(plain), "check"], capture_output=True, text=True)
        with_checks = check.returncode == 0
        results["checks_pass"] = with_checks
        results["check_s"] = statistics.median(
            timed([sys.executable, "-m", "cps", "--root", str(plain), "check"], plain) for _ in range(args.runs))
        cmd = build_cmd(plain, with_checks)
        results["build_plain_cold_s"] = timed(cmd, plain, "plain cold")
        results["build_plain_warm_s"] = statistics.median(timed(cmd, plain) for _ in range(args.runs))
        versioned = scratch(source, tmp / "versioned")
        for version, date in RELEASES:
            freeze(versioned, version, date)
        check_cmd = [sys.executable, "-m", "cps", "--root", str(versioned), "check"]
        timed(check_cmd, versioned)  # fills the caches of this copy
        results["check_3_releases_s"] = statistics.median(timed(check_cmd, versioned) for _ in range(args.runs))
        cmd = build_cmd(versioned, with_checks)
        results["build_3_releases_cold_s"] = timed(cmd, versioned, "3 releases cold")
        results["build_3_releases_warm_s"] = statistics.median(timed(cmd, versioned) for _ in range(args.runs))
        edited = []
        for i in range(args.runs):
            touch_draft(versioned, i)
            edited.append(timed(cmd, versioned, "3 releases draft edited"))
        results["build_3_releases_draft_edited_s"] = statistics.median(edited)
        site = versioned / "site"
        results["site_versions"] = sorted(p.name for p in site.iterdir() if p.is_dir())
        results["dist_files"] = sum(1 for p in (versioned / "dist").rglob("*") if p.is_file())
        results["cpu_seconds"] = {k: round(v, 1) for k, v in CPU.items()}
        try:
            results["load_average"] = os.getloadavg()
        except OSError:
            pass
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"source: {results['source']} ({results['cpus']} CPUs, median of {args.runs} runs)")
        if not with_checks:
            print("note: the draft does not pass `cps check`; builds ran with checks=False")
        print(f"cps check                                {results['check_s']:6.2f} s")
        print(f"cps check, 3 releases                    {results['check_3_releases_s']:6.2f} s")
        print(f"cps build, no release, cold caches       {results['build_plain_cold_s']:6.2f} s")
        print(f"cps build, no release, nothing changed   {results['build_plain_warm_s']:6.2f} s")
        print(f"cps build, 3 releases, cold caches       {results['build_3_releases_cold_s']:6.2f} s")
        print(f"cps build, 3 releases, nothing changed   {results['build_3_releases_warm_s']:6.2f} s")
        print(f"cps build, 3 releases, draft edited      {results['build_3_releases_draft_edited_s']:6.2f} s")
        print(f"site versions: {', '.join(results['site_versions'])}; dist files: {results['dist_files']}")
        print("CPU seconds (all processes, last run): "
              + ", ".join(f"{k} {v:.1f} s" for k, v in results["cpu_seconds"].items()))
        if "load_average" in results:
            print("load average at the end: " + ", ".join(f"{x:.2f}" for x in results["load_average"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
