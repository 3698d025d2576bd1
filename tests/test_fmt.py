"""`cps fmt`: one canonical YAML layout, comments kept; `--check` fails on non-canonical files."""

from __future__ import annotations

from cpstest import run_cps


def test_fmt_rewrites_keeps_comments_and_check_passes_after(repo):
    path = repo / "spec/errors.yaml"
    path.write_text(
        "# the error table\nerrors:\n    NoSuchKey:   {status: 404,   description: gone}   # inline note\n"
        "    AccessDenied:\n        status: 403\n        description: no\n",
        encoding="utf-8",
    )
    check = run_cps("--root", str(repo), "fmt", "--check")
    assert check.returncode == 1
    assert "spec/errors.yaml:3:1: FMT001 not in canonical layout" in check.stdout
    fix = run_cps("--root", str(repo), "fmt")
    assert fix.returncode == 0 and "reformatted spec/errors.yaml" in fix.stdout
    text = path.read_text()
    assert "# the error table" in text and "# inline note" in text
    assert "  AccessDenied:\n    status: 403\n" in text
    assert run_cps("--root", str(repo), "fmt", "--check").returncode == 0
    assert run_cps("--root", str(repo), "check").returncode == 0  # same meaning after formatting


def test_fmt_check_diff_shows_the_change(repo):
    (repo / "spec/profiles.yaml").write_text(
        "profiles:\n- id: core\n  name: Core\n  summary: x\n  requires: []\n- id: extra\n  name: Extra\n"
        "  summary: y\n  requires: [core]\n",
        encoding="utf-8",
    )
    r = run_cps("--root", str(repo), "fmt", "--check", "--diff")
    assert r.returncode == 1
    assert "+++ b/spec/profiles.yaml" in r.stdout and "+  - id: core" in r.stdout


def test_fmt_on_broken_yaml_reports_and_does_not_write(repo):
    path = repo / "spec/errors.yaml"
    path.write_text("errors: [unclosed\n", encoding="utf-8")
    r = run_cps("--root", str(repo), "fmt")
    assert r.returncode == 1 and "YML001" in r.stdout and "Traceback" not in r.stderr
    assert path.read_text() == "errors: [unclosed\n"
