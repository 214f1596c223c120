"""Browser tests: the real app in a subprocess (`python app.py`, as a person starts it), driven
in Debian's Chromium through pytest-playwright.

Never run `playwright install` (it downloads a browser and fails offline): the session fixture
`browser_type_launch_args` points Playwright at /usr/bin/chromium instead. Every test in this
folder gets the `ui` marker, so `pytest -m "not ui"` skips them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parents[2]
UI_DIR = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("PLAYGROUND_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT_S = 60
LOG_TAIL_CHARS = 6000

# Waits for what the server sends back (the tiny model answers in well under a second; the
# margin is for a loaded 2-core CI machine).
expect.set_options(timeout=20_000)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if UI_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.ui)


# ---- the app in a subprocess ----
@dataclass
class AppServer:
    url: str
    port: int
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        text = self.log()
        return text if len(text) <= chars else "…" + text[-chars:]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_app(log_dir: Path) -> AppServer:
    """`python app.py` in the repository root, on a free port, with the inherited (offline) test
    environment; returns once the page answers 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    log_path = log_dir / "app.log"
    log_file = open(log_path, "w", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    log_file.close()  # the child holds its own handle
    server = AppServer(url=url, port=port, process=process, log_path=log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"`python app.py` exited with code {process.returncode} before serving {url}.\n"
                f"--- app log ---\n{server.log_tail()}"
            )
        if _answers_200(url):
            return server
        time.sleep(0.25)
    stop_app(server)
    raise RuntimeError(f"`python app.py` did not answer 200 at {url} within {START_TIMEOUT_S} s.\n"
                       f"--- app log ---\n{server.log_tail()}")


def stop_app(server: AppServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


_STATE: dict = {"server": None, "failures": 0}


@pytest.fixture(scope="session")
def app_server():
    log_dir = Path(tempfile.mkdtemp(prefix="playground-ui-log-"))
    server = start_app(log_dir)
    _STATE["server"] = server
    yield server
    _STATE["server"] = None
    stop_app(server)
    if _STATE["failures"]:
        # Shown by pytest with the teardown's captured output (and in each failing test's report).
        print(f"\n--- app log ({server.log_path}) ---\n{server.log_tail()}", file=sys.stderr)
    shutil.rmtree(log_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def app_url(app_server) -> str:
    return app_server.url


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing UI test shows the end of the app's log next to its traceback."""
    outcome = yield
    report = outcome.get_result()
    server = _STATE["server"]
    if report.failed and server is not None and UI_DIR in Path(str(item.fspath)).resolve().parents:
        _STATE["failures"] += 1
        report.sections.append(("app log (python app.py)", server.log_tail()))


# ---- the browser: Debian's Chromium, never a downloaded one ----
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():  # a failure, not a skip: a suite that skips its browser tests proves nothing
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (never `playwright install`), "
                    'or leave the browser tests out with -m "not ui".', pytrace=False)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


@pytest.fixture
def app_page(page: Page, app_url: str) -> Page:
    """The app, opened fresh, after its page-load events have finished: the built-in
    summarization set is loaded and the three prompts are counted."""
    page.set_default_timeout(20_000)
    page.goto(app_url)
    expect(page.locator("#pl-data-status")).to_contain_text("40 examples", timeout=60_000)
    expect(page.locator("#pl-badge-2")).to_contain_text("/ 512 tokens", timeout=30_000)
    return page
