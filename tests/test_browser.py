"""A real browser proves the built site loads nothing from another host.

The static scan in test_site.py reads files; this test runs headless Chromium against the site
served on 127.0.0.1 and records every request the pages make (Chromium's net log). The browser's
own background traffic goes to a dead proxy on 127.0.0.1, so nothing leaves the machine.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from cpstest import copy_fixture, run_cps

PAGES = ["draft/", "draft/02-objects/", "draft/operations/", "draft/requirements/", "draft/schemas/Error/",
         "draft/downloads/"]


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("Chromium is required for this test: ./dev test installs it (apt-get install chromium)")
    return exe


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    repo = copy_fixture(tmp_path_factory.mktemp("browser") / "repo")
    r = run_cps("--root", str(repo), "build")
    assert r.returncode == 0, r.stdout + r.stderr
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(repo / "site"))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def page_requests(url: str, workdir: Path) -> list[str]:
    netlog = workdir / "netlog.json"
    cmd = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-features=AutofillServerCommunication,OptimizationHints,Translate",
        "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1",
        f"--user-data-dir={workdir / 'profile'}", f"--log-net-log={netlog}",
        "--virtual-time-budget=5000", "--dump-dom", url,
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert "</html>" in r.stdout, r.stderr[-2000:]
    events = json.loads(netlog.read_text())["events"]
    urls = []
    for e in events:
        p = e.get("params") or {}
        if "url" in p and "method" in p and str(p.get("initiator", "")).startswith("http"):
            urls.append(p["url"])  # requested by the page (its origin initiated it)
    return urls


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_only_from_its_own_host(served, page, tmp_path):
    urls = page_requests(served + page, tmp_path)
    assert any(u.endswith(".js") for u in urls), f"the page scripts were not seen (the test would prove nothing): {urls}"
    foreign = [u for u in urls if urlsplit(u).hostname != "127.0.0.1"]
    assert foreign == []
