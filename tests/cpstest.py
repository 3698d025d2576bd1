"""Helpers shared by the toolkit's tests (imported as `cpstest`; conftest modules are per folder)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "clean"


def copy_fixture(dest: Path) -> Path:
    """A fresh copy of the clean fixture specification, without build outputs."""
    shutil.copytree(FIXTURE, dest, ignore=shutil.ignore_patterns("site", "dist", ".cache"))
    return dest


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def run_cps(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cps", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
