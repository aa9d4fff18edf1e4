"""`intake demo` runs the daemon and the web desk together, with a printed login that works."""

from __future__ import annotations

import http.cookiejar
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from intake.demo import DEMO_PASSWORD, DEMO_USER
from tests.bot import Bot


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_serves_the_desk_with_the_printed_login(tmp_path: Path) -> None:
    port = free_port()
    demo = subprocess.Popen([sys.executable, "-m", "intake.cli", "demo", "--dir", str(tmp_path / "demo"),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    try:
        assert demo.stdout is not None
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            lines.append(line)
            if "Samordnarnas sidor" in line or not line:
                break
        printed = "".join(lines)
        assert f"http://127.0.0.1:{port}/" in printed, printed
        assert DEMO_USER in printed and DEMO_PASSWORD in printed

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://127.0.0.1:{port}"
        with opener.open(f"{base}/healthz", timeout=10) as response:
            assert response.status == 200
        with opener.open(f"{base}/logga-in", timeout=10) as response:
            page = response.read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        form = urllib.parse.urlencode({"username": DEMO_USER, "password": DEMO_PASSWORD,
                                       "csrf_token": token.group(1)}).encode()
        with opener.open(f"{base}/logga-in", data=form, timeout=10) as response:
            queue = response.read().decode()
        assert "Inloggad som demo" in queue
        assert "Protokollsutdrag Bromma SDN § 7" in queue  # the demo season's review item
    finally:
        demo.send_signal(signal.SIGTERM)
        try:
            code = demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            raise
    assert code == 0, demo.stderr.read() if demo.stderr else ""


def test_run_with_web_serves_the_desk_beside_the_daemon(bot: Bot) -> None:
    port = free_port()
    daemon = bot.start("run", "--web", INTAKE_WEB_PORT=str(port))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert daemon.poll() is None, daemon.communicate()[1]
                assert time.monotonic() < deadline, "the web desk never answered"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/logga-in", timeout=5) as response:
            assert "Logga in" in response.read().decode()
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=30)
    assert code == 0
