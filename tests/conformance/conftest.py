"""Fixtures of the conformance suite's own tests: real reference servers on 127.0.0.1."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "tools") not in sys.path:
    sys.path.insert(0, str(ROOT / "tools"))

from cps.conformance import servers  # noqa: E402
sys.path.insert(0, str(Path(__file__).parent))
from cnf_support import run_suite  # noqa: E402


@pytest.fixture(scope="session")
def moto_server():
    srv = servers.start("moto", supervise=True)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def s3rver_server():
    srv = servers.start("s3rver", supervise=True)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def moto_result(moto_server):
    return run_suite(moto_server)[1]


# s3rver 3.7.1 exits on these requests (ENAMETOOLONG for long keys, a missing part file); the
# reference run (conformance/run-reference.py) runs them one at a time, the suite's own tests leave
# them out so that the other tests can run in parallel.
S3RVER_DISRUPTIVE = ["obj-key-too-long", "obj-key-1024-bytes", "data-key-too-long-everywhere",
                     "mpu-complete-invalid-part"]


@pytest.fixture(scope="session")
def s3rver_result(s3rver_server):
    return run_suite(s3rver_server, jobs=4, skip=S3RVER_DISRUPTIVE)[1]


