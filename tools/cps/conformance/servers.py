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
import threading
import time
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

    restarts: int = 0
    _cmd: list | None = None
    _env: dict | None = None
    _stop: threading.Event | None = None
    _watch: threading.Thread | None = None

    def supervise(self) -> "Server":
        """Restart the server on the same port (same data) whenever its process exits.

        s3rver 3.7.1 exits on some requests (an unhandled stream error); the reference run
        records the test that triggered it as ``error`` and carries on with a fresh process.
        """
        self._stop = threading.Event()

        def loop():
            while not self._stop.wait(0.05):
                if self.proc.poll() is not None and not self._stop.is_set() and self.restarts < 200:
                    self.restarts += 1
                    with open(self.log, "ab") as fh:
                        fh.write(f"\n--- process exited with {self.proc.returncode}; restart {self.restarts}\n".encode())
                    self.proc = subprocess.Popen(self._cmd, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
                                                 env=self._env, start_new_session=True)
                    try:
                        _wait(self.url, self.proc, self.log)
                    except RuntimeError:
                        continue  # it died again (perhaps at once on the next request): the loop restarts it

        self._watch = threading.Thread(target=loop, name=f"{self.name}-watchdog", daemon=True)
        self._watch.start()
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
            if self._watch is not None:
                self._watch.join(2)
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

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the server accepts connections (after a restart by :meth:`supervise`)."""
        deadline = time.monotonic() + timeout
        host, port = self.url.split("//", 1)[1].split(":")
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((host, int(port)), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)

    def settle(self, result=None) -> None:
        """After a test that ended in a network error: let a crashed process be noticed and restarted."""
        if result is not None and not (result.outcome == "error" and result.message.startswith("network")):
            return
        time.sleep(0.3)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.proc.poll() is not None:
            time.sleep(0.05)
        self.wait_ready()

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


def _started(srv: Server, url: str, proc: subprocess.Popen, log: Path) -> Server:
    """Wait until the server answers; stop it (and re-raise) when it never does."""
    try:
        _wait(url, proc, log)
    except Exception:
        srv.stop()
        raise
    return srv


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
    cmd = [_bin("moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    srv = Server("moto", _version_py("moto"), url, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                 proc, tmp, log, _cmd=cmd, _env=env)
    return _started(srv, url, proc, log)


def self_signed_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A throw-away certificate for ``host`` (key.pem, cert.pem), made with ``cryptography``."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def start_s3rver(port: int | None = None, tls: bool = False) -> Server:
    port = port or free_port()
    tmp = tempfile.mkdtemp(prefix="cps-s3rver-")
    data = Path(tmp) / "data"
    data.mkdir()
    log = Path(tmp) / "server.log"
    tls_args: list[str] = []
    cert_path = None
    if tls:
        key_path, cert_path = self_signed_certificate(Path(tmp))
        tls_args = ["--key", str(key_path), "--cert", str(cert_path)]
    exe = REPO / "node_modules" / ".bin" / "s3rver"
    if not exe.exists():
        found = shutil.which("s3rver")
        if not found:
            raise RuntimeError("s3rver not found (npm ci installs it into node_modules/)")
        exe = Path(found)
    env = dict(os.environ)
    env["NODE_OPTIONS"] = (env.get("NODE_OPTIONS", "") + " --openssl-legacy-provider").strip()
    cmd = [str(exe), "-d", str(data), "-a", "127.0.0.1", "-p", str(port), "--silent", *tls_args]
    proc = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    srv = Server("s3rver", _version_npm("s3rver"), url, "S3RVER", "S3RVER", proc, tmp, log, _cmd=cmd, _env=env)
    if cert_path is not None:
        srv.extra["ca_bundle"] = str(cert_path)
    return _started(srv, url, proc, log)


STARTERS = {"moto": start_moto, "s3rver": start_s3rver}


def start(name: str, port: int | None = None, supervise: bool = False) -> Server:
    if name not in STARTERS:
        raise ValueError(f"unknown reference server {name!r} (known: {', '.join(STARTERS)})")
    srv = STARTERS[name](port)
    return srv.supervise() if supervise else srv


def run_suite(server: Server, spec, tests, profiles: list[str], *, jobs: int = 4,
              only=(), skip=(), large: bool = False):
    """Run the suite against a reference server started here, pacing tests by its readiness.

    Used by conformance/run-reference.py and by the suite's own tests; returns the finished run.
    """
    from cps.conformance import wire
    from cps.conformance.runner import Config, Run

    config = Config(
        endpoint=wire.Endpoint(server.url),
        credentials=wire.Credentials(server.access_key, server.secret_key),
        profiles=profiles, jobs=jobs, only=list(only), skip=list(skip), large=large,
    )
    run = Run(config, tests, spec)
    run.before_test = lambda t: server.wait_ready()
    run.after_test = server.settle
    try:
        run.execute()
    finally:
        run.cleanup()
    return run
