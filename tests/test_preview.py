"""`cps preview` serves the site on 127.0.0.1 and regenerates pages when a source changes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from cpstest import edit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode("utf-8")
    except OSError:
        return None


def wait_for(url: str, needle: str, seconds: float) -> str | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page = fetch(url)
        if page is not None and needle in page:
            return page
        time.sleep(0.3)
    return None


def test_preview_serves_and_reloads(repo):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cps", "--root", str(repo), "preview", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/"
        assert wait_for(base, "Fixture Storage", 60), "preview did not come up"
        assert wait_for(base + "02-objects/", 'id="CPS-OBJ-001"', 10)
        edit(repo / "spec/02-objects.md", "A server MAY support ranges.", "A server MAY support byte ranges.")
        assert wait_for(base + "02-objects/", "support byte ranges", 30), "the page was not regenerated"
        assert "livereload" in fetch(base + "02-objects/")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
