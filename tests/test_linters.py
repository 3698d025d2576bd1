"""The OpenAPI document is clean under the linters tool authors run: Redocly CLI (recommended
rules) and Spectral (spectral:oas), both pinned in package-lock.json. A seeded defect proves each
linter really runs on the document."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "node_modules" / ".bin"


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed: run ./dev test (it installs the pinned npm tools)")
    return str(path)


def redocly(target: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("redocly"), "lint", "--format", "json", str(target)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def spectral(target: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("spectral"), "lint", "--format", "json", "--ruleset", str(cwd / ".spectral.yaml"),
                           str(target)], cwd=cwd, capture_output=True, text=True, timeout=300)


def redocly_problems(r: subprocess.CompletedProcess) -> list:
    return json.loads(r.stdout)["problems"]


def spectral_problems(r: subprocess.CompletedProcess) -> list:
    # Spectral prints the JSON array, then (on no errors) a human sentence on the same stream
    problems, _ = json.JSONDecoder().raw_decode(r.stdout[r.stdout.index("[") :])
    return problems


def test_redocly_recommended_is_clean():
    r = redocly(ROOT / "schemas/openapi.yaml", ROOT)
    assert redocly_problems(r) == [], r.stdout
    assert r.returncode == 0


def test_spectral_oas_is_clean():
    r = spectral(ROOT / "schemas/openapi.yaml", ROOT)
    assert spectral_problems(r) == [], r.stdout
    assert r.returncode == 0


@pytest.fixture
def broken(tmp_path) -> Path:
    """A copy of the schemas with an unquoted numeric status code and an operation without responses."""
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    for cfg in ("redocly.yaml", ".spectral.yaml"):
        shutil.copy(ROOT / cfg, tmp_path / cfg)
    doc = tmp_path / "schemas" / "openapi.yaml"
    text = doc.read_text()
    doc.write_text(text.replace("paths:\n", "paths:\n  /broken:\n    get:\n      operationId: Broken\n      responses: {}\n", 1))
    return tmp_path


def test_linters_catch_a_seeded_defect(broken):
    doc = broken / "schemas" / "openapi.yaml"
    r = redocly(doc, broken)
    assert r.returncode != 0 and redocly_problems(r)
    s = spectral(doc, broken)
    assert any(p["code"] in ("oas3-schema", "operation-success-response", "operation-tags", "operation-description")
               for p in spectral_problems(s))
