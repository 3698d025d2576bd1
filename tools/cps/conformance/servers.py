"""Start and stop the reference servers (moto's standalone server, s3rver) on 127.0.0.1.

Used by the suite's own tests, ``bench/conformance.py`` and ``conformance/run-reference.py``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    version: str
    url: str
    access_key: str
    secret_key: str
    proc: subprocess.Popen
    tmp: str | None = None
    log: Path | None = None
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    self.proc.kill()
                self.proc.wait(5)
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _wait(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    host, port = url.split("//", 1)[1].split(":")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start within {timeout:g} s")


def _version_py(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def _version_npm(pkg: str) -> str:
    import json

    return json.loads((REPO / "node_modules" / pkg / "package.json").read_text())["version"]


def _bin(venv_name: str) -> str:
    cand = Path(sys.executable).parent / venv_name
    if cand.exists():
        return str(cand)
    found = shutil.which(venv_name)
    if not found:
        raise RuntimeError(f"{venv_name} not found (install moto[server] into the virtual environment)")
    return found


def start_moto(port: int | None = None) -> Server:
    port = port or free_port()
    tmp = tempfile.mkdtemp(prefix="cps-moto-")
    log = Path(tmp) / "server.log"
    env = dict(os.environ)
    env.pop("AWS_CA_BUNDLE", None)
    proc = subprocess.Popen([_bin("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    srv = Server("moto", _version_py("moto"), url, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                 proc, tmp, log)
    try:
        _wait(url, proc, log)
    except Exception:
        srv.stop()
        raise
    return srv


def start_s3rver(port: int | None = None) -> Server:
    port = port or free_port()
    tmp = tempfile.mkdtemp(prefix="cps-s3rver-")
    data = Path(tmp) / "data"
    data.mkdir()
    log = Path(tmp) / "server.log"
    exe = REPO / "node_modules" / ".bin" / "s3rver"
    if not exe.exists():
        found = shutil.which("s3rver")
        if not found:
            raise RuntimeError("s3rver not found (npm ci installs it into node_modules/)")
        exe = Path(found)
    env = dict(os.environ)
    env["NODE_OPTIONS"] = (env.get("NODE_OPTIONS", "") + " --openssl-legacy-provider").strip()
    proc = subprocess.Popen([str(exe), "-d", str(data), "-a", "127.0.0.1", "-p", str(port), "--silent"],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    srv = Server("s3rver", _version_npm("s3rver"), url, "S3RVER", "S3RVER", proc, tmp, log)
    try:
        _wait(url, proc, log)
    except Exception:
        srv.stop()
        raise
    return srv


STARTERS = {"moto": start_moto, "s3rver": start_s3rver}


def start(name: str, port: int | None = None) -> Server:
    if name not in STARTERS:
        raise ValueError(f"unknown reference server {name!r} (known: {', '.join(STARTERS)})")
    return STARTERS[name](port)
