"""Helpers shared by the conformance suite's own tests."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "tools") not in sys.path:
    sys.path.insert(0, str(ROOT / "tools"))

from cps.conformance import wire  # noqa: E402


def run_suite(server, profiles=None, jobs=4, only=(), skip=()):
    """Run the whole catalogue against ``server`` in-process; return (Run, result dict)."""
    from cps.conformance import report, servers
    from cps.conformance.catalog import load_tests
    from cps.conformance.reqs import load_spec, profile_closure

    spec = load_spec(ROOT)
    tests, diags = load_tests(ROOT)
    assert not diags, diags
    run = servers.run_suite(server, spec, tests, profile_closure(spec, list(profiles or spec.profiles)),
                            jobs=jobs, only=only, skip=skip)
    return run, report.build_result(run, spec, {"endpoint": server.url, "implementation": server.name})


def outcome(result: dict, test_id: str) -> str:
    for t in result["tests"]:
        if t["id"] == test_id:
            return t["outcome"]
    raise KeyError(test_id)


def message(result: dict, test_id: str) -> str:
    for t in result["tests"]:
        if t["id"] == test_id:
            return t["message"]
    raise KeyError(test_id)


def run_cli(args, access_key=None, secret_key=None, timeout=300, env_extra=None):
    """Run ``python -m cps conformance ARGS`` in a subprocess (credentials through the environment)."""
    import os
    import subprocess

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "tools") + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("AWS_ACCESS_KEY_ID", None)
    env.pop("AWS_SECRET_ACCESS_KEY", None)
    if access_key is not None:
        env["AWS_ACCESS_KEY_ID"] = access_key
    if secret_key is not None:
        env["AWS_SECRET_ACCESS_KEY"] = secret_key
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "cps", "conformance", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def list_buckets(server) -> list[str]:
    """Bucket names on ``server`` (ListBuckets through the suite's own wire layer)."""
    from cps.conformance.matcher import parse_xml, xml_path

    ep = wire.Endpoint(server.url)
    req = wire.Request("GET", "/")
    host, _ = wire.address(ep, None, None)
    req.set_header("Host", host)
    wire.sign_header(req, wire.Credentials(server.access_key, server.secret_key), ep.region, wire.EMPTY_SHA256)
    resp = wire.send(ep, req, host)
    return xml_path(parse_xml(resp.body), "Buckets.Bucket[*].Name") or []
