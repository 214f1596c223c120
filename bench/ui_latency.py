"""Slider-to-chart latency in the Decoding Lab, measured in the browser (goal < 150 ms).

Starts the app as a person does (`python app.py`, offline, fresh home folder, so the built-in
tiny model), opens the Decoding Lab in Debian's Chromium, then moves the temperature slider
`--moves` times. Each move sets the slider's range input and dispatches the events dragging
fires (input, change); the page itself times from that moment until the next-token chart holds
new data (a MutationObserver on the chart plus a check every animation frame), i.e. the whole
round trip: browser -> Gradio queue -> distribution from the cached logits -> plotly redraw.

Usage: python bench/ui_latency.py [--moves 30] [--warmup 3] [--goal-ms 150]
Never `playwright install`: the browser is /usr/bin/chromium (apt-get install -y chromium).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("PLAYGROUND_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Where the time went, from the page's Resource Timing entries of the move's requests: the
# Gradio client POSTs queue/join, then reads the result from the queue/data event stream.
PHASES_JS = """
t0 => {
    const entries = performance.getEntriesByType("resource").filter(e => e.startTime >= t0);
    const join = entries.find(e => e.name.includes("/queue/join"));
    const data = entries.find(e => e.name.includes("/queue/data"));
    return join && data ? {request_sent: join.startTime - t0, result_in: data.responseEnd - t0} : null;
}
"""
SLIDER = "dec-temperature"
CHART = "dec-chart"

# One move, timed inside the page: resolves to {ms, t0} (performance.now() at the move), or null
# if the chart never changed.
MOVE_JS = """
async ([sliderId, chartId, value, timeoutMs]) => {
    const snapshot = () => {
        const div = document.querySelector(`#${chartId} .js-plotly-plot`);
        return div && div.data ? JSON.stringify(div.data.map(t => [Array.from(t.x || []), Array.from(t.y || [])])) : null;
    };
    const before = snapshot();
    const range = document.querySelector(`#${sliderId} input[type=range]`);
    const chart = document.querySelector(`#${chartId}`);
    return await new Promise(resolve => {
        let finished = false, observer = null, t0 = 0;
        const finish = result => { if (!finished) { finished = true; if (observer) observer.disconnect(); resolve(result); } };
        const check = () => {
            if (finished) return;
            const now = snapshot();
            if (now !== null && now !== before) finish({ms: performance.now() - t0, t0});
            else if (performance.now() - t0 > timeoutMs) finish(null);
        };
        observer = new MutationObserver(check);
        observer.observe(chart, {subtree: true, childList: true, attributes: true, characterData: true});
        const poll = () => { check(); if (!finished) requestAnimationFrame(poll); };
        performance.clearResourceTimings();
        t0 = performance.now();
        range.value = String(value);
        range.dispatchEvent(new Event("input", {bubbles: true}));
        range.dispatchEvent(new Event("change", {bubbles: true}));
        requestAnimationFrame(poll);
    });
}
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(log_path: Path, home: Path, timeout_s: float = 60) -> tuple[subprocess.Popen, str]:
    """`python app.py` in the repository root on a free port; returns once the page answers 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    env.setdefault("PLAYGROUND_HOME", str(home))
    env.setdefault("PLAYGROUND_ADAPTERS", str(home / "adapters"))
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"python app.py exited with code {process.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return process, url
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    stop_app(process)
    raise RuntimeError(f"python app.py did not answer at {url} within {timeout_s:.0f} s:\n{log_path.read_text()[-4000:]}")


def stop_app(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def temperatures(n: int) -> list[float]:
    """Values on the slider's 0.05 grid, alternating low / high so each move reshapes the
    distribution (two low temperatures could both leave one token at 100%: no visible change)."""
    low = [0.5 + 0.05 * (i % 8) for i in range(n)]  # 0.5 .. 0.85
    high = [1.3 + 0.05 * (i % 12) for i in range(n)]  # 1.3 .. 1.85
    return [round(low[i] if i % 2 == 0 else high[i], 2) for i in range(n)]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def measure(url: str, moves: int, warmup: int, timeout_ms: int) -> tuple[list[float], list[dict], int]:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(url)
            expect(page.locator("#pl-badge-2 [data-testid=markdown]")).to_contain_text("tokens", timeout=60_000)
            tab = page.get_by_role("tab", name="Decoding Lab", exact=True)
            tab.click()
            expect(tab).to_have_attribute("aria-selected", "true")
            # two frames: right after a tab click Gradio 6 may re-render and reset a slider
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            expect(page.locator(f"#{CHART} .gtitle")).to_contain_text("the sampler can pick", timeout=60_000)
            # the sliders open at the model's own settings (greedy for the tiny model): temperature acts when sampling
            expect(page.locator("#dec-defaults [data-testid=markdown]")).to_contain_text("own settings")
            page.locator("#dec-mode input[value=Sampling]").check()
            expect(page.locator(f"#{CHART} .gtitle")).to_contain_text("pick 50 of", timeout=60_000)
            page.evaluate("() => performance.setResourceTimingBufferSize(1000)")
            values = temperatures(warmup + moves)
            samples, phases, missed = [], [], 0
            for i, value in enumerate(values):
                move = page.evaluate(MOVE_JS, [SLIDER, CHART, value, timeout_ms])
                page.wait_for_timeout(50)  # let the page settle, as between two moves of a hand
                status = page.locator("#dec-status [data-testid=markdown]").inner_text().strip()
                if status:
                    raise RuntimeError(f"the app reported a problem after temperature {value}: {status}")
                if i < warmup:
                    continue
                if move is None:
                    missed += 1
                    continue
                samples.append(move["ms"])
                phase = page.evaluate(PHASES_JS, move["t0"])
                if phase and phase["result_in"] <= move["ms"]:
                    phases.append({**phase, "redraw": move["ms"] - phase["result_in"]})
            return samples, phases, missed
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--goal-ms", type=float, default=150)
    parser.add_argument("--timeout-ms", type=int, default=10_000, help="a move that takes longer counts as missed")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"error: Chromium not found at {CHROMIUM} (apt-get install -y chromium; never `playwright install`)")
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-ui-latency-"))
    process, url = start_app(work / "app.log", work / "home")
    try:
        samples, phases, missed = measure(url, args.moves, args.warmup, args.timeout_ms)
    except Exception:
        print(f"--- app log ---\n{(work / 'app.log').read_text()[-4000:]}", file=sys.stderr)
        raise
    finally:
        stop_app(process)
        shutil.rmtree(work, ignore_errors=True)
    if not samples:
        print(f"error: the chart never redrew in {args.moves} moves")
        return 1
    median, p90 = statistics.median(samples), percentile(samples, 0.9)
    goal = args.goal_ms
    print(f"slider-to-chart: {len(samples)} moves of the temperature slider ({args.warmup} warm-up moves not counted), "
          f"{os.cpu_count()} CPU cores, app + Chromium on this machine")
    print(f"slider-to-chart median: {median:.0f} ms (goal < {goal:.0f} ms)")
    print(f"slider-to-chart p90: {p90:.0f} ms (goal < {goal:.0f} ms)")
    print(f"slider-to-chart min / max: {min(samples):.0f} / {max(samples):.0f} ms; "
          f"within goal: {sum(s < goal for s in samples)}/{len(samples)}")
    if phases:
        sent = statistics.median(p["request_sent"] for p in phases)
        server = statistics.median(p["result_in"] - p["request_sent"] for p in phases)
        redraw = statistics.median(p["redraw"] for p in phases)
        print(f"  where it goes (medians over {len(phases)} moves): browser until the request leaves {sent:.0f} ms · "
              f"request to result received (queue + handler + transfer) {server:.0f} ms · "
              f"result to chart redrawn {redraw:.0f} ms")
    if missed:
        print(f"missed: {missed} move(s) never redrew the chart within {args.timeout_ms} ms")
    met = median < goal and not missed  # the goal is on the median; p90 is shown for context
    print(f"goal: median < {goal:.0f} ms: {'MET' if met else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
