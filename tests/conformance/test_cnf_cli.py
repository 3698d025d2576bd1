"""`cps conformance` as a command: exit codes, clear messages, cleanup, interruption."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from cnf_support import ROOT, list_buckets, run_cli

MOTO_KEYS = {"access_key": "AKIAIOSFODNN7EXAMPLE", "secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_exit_0_when_claimed_tests_pass(moto_server):
    proc = run_cli(["run", "--endpoint", moto_server.url, "--only", "obj-put-get-roundtrip,obj-range-simple", "-q"], **MOTO_KEYS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 pass" in proc.stdout


def test_exit_1_on_failure(moto_server):
    proc = run_cli(["run", "--endpoint", moto_server.url, "--profile", "multipart", "--only", "mpu-list-parts"], **MOTO_KEYS)
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "mpu-list-parts" in proc.stdout


def test_usage_errors_exit_2():
    for args, needle in [
        (["run", "--endpoint", "http://127.0.0.1:1", "--profile", "no-such-profile"], "unknown profile"),
        (["run"], "--endpoint is required"),
        (["run", "--endpoint", "ftp://x"], "expected a URL"),
        (["run", "--endpoint", "http://127.0.0.1:1", "--jobs", "0"], "--jobs"),
        (["run", "--endpoint", "http://127.0.0.1:1", "--vectors", "/nonexistent/dir"], "not a directory"),
        (["run", "--endpoint", "http://127.0.0.1:1", "--only", "no-such-test-*"], "matches no test"),
    ]:
        proc = run_cli(args, access_key="AKIA", secret_key="secret")
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert needle in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    proc = run_cli(["run", "--endpoint", "http://127.0.0.1:1"])
    assert proc.returncode == 2 and "no credentials" in proc.stderr


def test_bad_vector_file_is_a_clear_error(tmp_path):
    (tmp_path / "broken.yaml").write_text("tests:\n  - id: x-y\n    title: t\n    profile: core\n    requirements: [CPS-OBJ-005]\n    steps: [{op: NoSuchOp}]\n")
    (tmp_path / "syntax.yaml").write_text("tests: [\n")
    proc = run_cli(["run", "--endpoint", "http://127.0.0.1:1", "--vectors", str(tmp_path)], access_key="A", secret_key="S")
    assert proc.returncode == 2
    assert "CNF001" in proc.stderr and "broken.yaml:6" in proc.stderr and "syntax.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreachable_endpoint():
    port = _free_port()
    proc = run_cli(["run", "--endpoint", f"http://127.0.0.1:{port}", "-q"], access_key="A", secret_key="S-secret-value")
    assert proc.returncode == 1
    assert "connection refused" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "S-secret-value" not in proc.stdout + proc.stderr


def test_list_command():
    proc = run_cli(["list", "--coverage"])
    assert proc.returncode == 0
    assert "obj-put-get-roundtrip" in proc.stdout and "requirements covered" in proc.stdout


def test_config_file_credentials(moto_server, tmp_path):
    cfg = tmp_path / "cps.yaml"
    cfg.write_text(f"endpoint: {moto_server.url}\naccess_key_id: AKIAIOSFODNN7EXAMPLE\nsecret_access_key: from-file-secret\n")
    proc = run_cli(["run", "--config", str(cfg), "--only", "obj-put-get-roundtrip", "-q"])
    assert proc.returncode == 0, proc.stderr
    assert "from-file-secret" not in proc.stdout + proc.stderr


def test_cleanup_after_run_and_after_ctrl_c(moto_server):
    before = set(list_buckets(moto_server))
    proc = run_cli(["run", "--endpoint", moto_server.url, "--only", "obj-*", "-q"], **MOTO_KEYS)
    assert proc.returncode in (0, 1)
    assert set(list_buckets(moto_server)) == before
    # interrupted run: SIGINT while tests run, then everything it created is gone
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "tools")
    env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = MOTO_KEYS["access_key"], MOTO_KEYS["secret_key"]
    p = subprocess.Popen([sys.executable, "-m", "cps", "conformance", "run", "--endpoint", moto_server.url,
                          "--profile", "multipart", "--jobs", "2"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(set(list_buckets(moto_server)) - before) == 0:
        time.sleep(0.05)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 1, err
    assert "interrupted" in err
    assert "Traceback" not in err
    assert set(list_buckets(moto_server)) == before


def test_tls_endpoint():
    """The TLS tests run (and pass) against s3rver serving https with a throw-away certificate."""
    from cps.conformance import servers

    srv = servers.start_s3rver(tls=True)
    try:
        proc = run_cli(["run", "--endpoint", srv.url, "--ca-bundle", srv.extra["ca_bundle"],
                        "--only", "tls-*,obj-put-get-roundtrip", "-q"], access_key="S3RVER", secret_key="S3RVER")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "4 pass" in proc.stdout
        # without the CA the suite says why it cannot work, without a traceback
        proc = run_cli(["run", "--endpoint", srv.url, "--only", "obj-put-get-roundtrip", "-q"],
                       access_key="S3RVER", secret_key="S3RVER")
        assert proc.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in proc.stderr and "Traceback" not in proc.stderr
    finally:
        srv.stop()
